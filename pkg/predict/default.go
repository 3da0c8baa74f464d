package predict

import (
	"encoding/json"
	"fmt"
	"time"
)

// DefaultConfig configures the Default predictor.
type DefaultConfig struct {
	// Horizon is how long a lent resource stays lent.
	Horizon time.Duration
	// Percentile, the safety knob, is the share of horizons whose peak the
	// prediction should cover, in (0, 1]; default 0.98.
	Percentile float64
	// HalfLife is how fast old forecast errors fade; default 72h.
	HalfLife time.Duration
	// Seasonal configures the seasonal part (its Horizon and Margin are
	// ignored).
	Seasonal SeasonalConfig
	// BurstWindow is the burst guard's window; default Horizon/4.
	BurstWindow time.Duration
}

func (c DefaultConfig) withDefaults() DefaultConfig {
	c.Horizon = max(c.Horizon, time.Second)
	if !(c.Percentile > 0) {
		c.Percentile = 0.98
	}
	c.Percentile = min(c.Percentile, 1)
	if c.HalfLife <= 0 {
		c.HalfLife = 72 * time.Hour
	}
	c.Seasonal.Horizon, c.Seasonal.Margin = c.Horizon, 0
	c.Seasonal = c.Seasonal.withDefaults()
	if c.BurstWindow <= 0 {
		c.BurstWindow = c.Horizon / 4
	}
	return c
}

// pending is one sub-window of forecasts waiting for its horizon to pass:
// the lowest point forecast made in it and the highest sample seen in it.
type pending struct {
	Idx     int64   `json:"i"`
	MinBase float64 `json:"b"`
	Max     float64 `json:"m"`
	Has     bool    `json:"h,omitempty"`
}

// Default is the predictor bigbox ships. See the package comment.
type Default struct {
	cfg      DefaultConfig
	burst    *BurstGuard
	seasonal *Seasonal
	errs     histogram
	widthNs  int64
	ring     []pending
	cur      int64 // newest sub-window seen
	last     last
}

// NewDefault returns the Default predictor; zero fields of cfg take their
// defaults.
func NewDefault(cfg DefaultConfig) *Default {
	cfg = cfg.withDefaults()
	return &Default{
		cfg:      cfg,
		burst:    NewBurstGuard(BurstGuardConfig{Horizon: cfg.Horizon, Window: cfg.BurstWindow}),
		seasonal: NewSeasonal(cfg.Seasonal),
		errs:     newHistogram(cfg.HalfLife),
		widthNs:  max(1, int64(cfg.Horizon)/horizonSubWindows),
		ring:     make([]pending, horizonSubWindows+2),
	}
}

func (p *Default) slot(idx int64) *pending {
	n := int64(len(p.ring))
	return &p.ring[((idx%n)+n)%n]
}

// base is the point forecast: the larger of the burst guard and the
// seasonal forecast.
func (p *Default) base(now time.Time) float64 {
	return max(p.burst.Predict(now), p.seasonal.Predict(now))
}

// Observe implements Predictor.
func (p *Default) Observe(s Sample) {
	had := p.last.Has
	if !p.last.accept(s) {
		return
	}
	p.burst.Observe(s)
	p.seasonal.Observe(s)
	c := floorDiv(s.Time.UnixNano(), p.widthNs)
	if had && c > p.cur {
		p.resolve(s.Time, p.cur, c)
	}
	e := p.slot(c)
	if !e.Has || e.Idx != c {
		*e = pending{Idx: c, MinBase: p.base(s.Time), Has: true}
	}
	e.Max = max(e.Max, s.Value)
	e.MinBase = min(e.MinBase, p.base(s.Time))
	p.cur = c
}

// resolve scores the sub-windows whose horizon ended between sub-windows
// prev and c: the error is the true peak of the horizon after them minus
// their lowest forecast.
func (p *Default) resolve(t time.Time, prev, c int64) {
	k := int64(horizonSubWindows)
	// Sub-windows up to prev−k−1 were resolved when prev began; none after
	// prev has samples yet.
	for j := prev - k; j <= min(c-k-1, prev); j++ {
		e := p.slot(j)
		if !e.Has || e.Idx != j {
			continue
		}
		var peak float64
		for i := j; i <= j+k; i++ {
			if f := p.slot(i); f.Has && f.Idx == i {
				peak = max(peak, f.Max)
			}
		}
		p.errs.add(t, peak-e.MinBase)
	}
}

// Predict implements Predictor.
func (p *Default) Predict(now time.Time) float64 {
	b := max(p.base(now), p.last.Value)
	q, ok := p.errs.quantile(p.cfg.Percentile)
	if !ok {
		return b
	}
	return b + q
}

type defaultState struct {
	Last     last            `json:"last"`
	Burst    json.RawMessage `json:"burst"`
	Seasonal json.RawMessage `json:"seasonal"`
	Errors   histogramState  `json:"errors"`
	WidthNs  int64           `json:"width_ns"`
	Ring     []pending       `json:"ring"`
	Cur      int64           `json:"cur"`
}

// MarshalJSON saves the state.
func (p *Default) MarshalJSON() ([]byte, error) {
	b, err := p.burst.MarshalJSON()
	if err != nil {
		return nil, err
	}
	s, err := p.seasonal.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return json.Marshal(defaultState{Last: p.last, Burst: b, Seasonal: s, Errors: p.errs.state(), WidthNs: p.widthNs, Ring: p.ring, Cur: p.cur})
}

// UnmarshalJSON restores a state saved by a Default with the same horizon,
// half-life and seasonal period and slot; the percentile stays as configured.
func (p *Default) UnmarshalJSON(b []byte) error {
	var s defaultState
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("default state: %w", err)
	}
	n := NewDefault(p.cfg)
	if s.WidthNs != n.widthNs || len(s.Ring) != len(n.ring) {
		return fmt.Errorf("default state has %d sub-windows of %v, want %d of %v", len(s.Ring), time.Duration(s.WidthNs), len(n.ring), time.Duration(n.widthNs))
	}
	if err := n.burst.UnmarshalJSON(s.Burst); err != nil {
		return fmt.Errorf("default state: %w", err)
	}
	if err := n.seasonal.UnmarshalJSON(s.Seasonal); err != nil {
		return fmt.Errorf("default state: %w", err)
	}
	if err := n.errs.restore(s.Errors); err != nil {
		return fmt.Errorf("default state: %w", err)
	}
	copy(n.ring, s.Ring)
	n.cur, n.last = s.Cur, s.Last
	*p = *n
	return nil
}
