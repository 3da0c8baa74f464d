package predict

import (
	"encoding/json"
	"fmt"
	"time"
)

// DecayingHistogramConfig configures a DecayingHistogram.
type DecayingHistogramConfig struct {
	// Horizon is how long a lent resource stays lent.
	Horizon time.Duration
	// HalfLife is how fast old observations lose weight; default 24h.
	HalfLife time.Duration
	// Percentile, the safety knob, is the quantile predicted, in (0, 1];
	// default DefaultPercentile.
	Percentile float64
}

func (c DecayingHistogramConfig) withDefaults() DecayingHistogramConfig {
	c.Horizon = max(c.Horizon, time.Second)
	if c.HalfLife <= 0 {
		c.HalfLife = 24 * time.Hour
	}
	if !(c.Percentile > 0) {
		c.Percentile = DefaultPercentile
	}
	c.Percentile = min(c.Percentile, 1)
	return c
}

// horizonSubWindows is how many sub-windows the maximum over one horizon is
// kept in.
const horizonSubWindows = 12

// DecayingHistogram predicts a high percentile of the peak usage of a
// horizon-long window. At every sample it adds the maximum of the last
// horizon to a histogram whose weights halve every HalfLife, so the answer
// is "the peak a horizon usually reaches, lately". It does not know the time
// of day; it reacts to a level shift within about one half-life.
type DecayingHistogram struct {
	cfg  DecayingHistogramConfig
	win  windowMax
	hist histogram
	last last
}

// NewDecayingHistogram returns a DecayingHistogram; zero fields of cfg take
// their defaults.
func NewDecayingHistogram(cfg DecayingHistogramConfig) *DecayingHistogram {
	cfg = cfg.withDefaults()
	return &DecayingHistogram{cfg: cfg, win: newWindowMax(cfg.Horizon, horizonSubWindows), hist: newHistogram(cfg.HalfLife)}
}

// Observe implements Predictor.
func (p *DecayingHistogram) Observe(s Sample) {
	if !p.last.accept(s) {
		return
	}
	p.win.add(s.Time, s.Value)
	peak, _ := p.win.get(s.Time)
	p.hist.add(s.Time, peak)
}

// Predict implements Predictor.
func (p *DecayingHistogram) Predict(time.Time) float64 {
	q, _ := p.hist.quantile(p.cfg.Percentile)
	return max(q, p.last.Value)
}

type decayingHistogramState struct {
	Last      last           `json:"last"`
	Window    windowState    `json:"window"`
	Histogram histogramState `json:"histogram"`
}

// MarshalJSON saves the state.
func (p *DecayingHistogram) MarshalJSON() ([]byte, error) {
	return json.Marshal(decayingHistogramState{Last: p.last, Window: p.win.state(), Histogram: p.hist.state()})
}

// UnmarshalJSON restores a state saved by a DecayingHistogram with the same
// horizon and half-life; the percentile stays as configured.
func (p *DecayingHistogram) UnmarshalJSON(b []byte) error {
	var s decayingHistogramState
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("decaying-histogram state: %w", err)
	}
	if s.Last.Has && !valid(s.Last.Value) {
		return fmt.Errorf("decaying-histogram state: last value %v", s.Last.Value)
	}
	n := NewDecayingHistogram(p.cfg)
	if err := n.win.restore(s.Window); err != nil {
		return fmt.Errorf("decaying-histogram state: %w", err)
	}
	if err := n.hist.restore(s.Histogram); err != nil {
		return fmt.Errorf("decaying-histogram state: %w", err)
	}
	n.last = s.Last
	*p = *n
	return nil
}
