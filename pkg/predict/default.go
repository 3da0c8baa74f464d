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
	// Margin, the safety knob, is added by both parts, in the resource's
	// base unit.
	Margin float64
	// Seasonal configures the seasonal part; its Horizon and Margin are
	// taken from above.
	Seasonal SeasonalConfig
	// Burst configures the burst guard; its Horizon and Margin are taken
	// from above.
	Burst BurstGuardConfig
}

func (c DefaultConfig) withDefaults() DefaultConfig {
	c.Horizon = max(c.Horizon, time.Second)
	c.Margin = max(0, c.Margin)
	c.Seasonal.Horizon, c.Seasonal.Margin = c.Horizon, c.Margin
	c.Seasonal = c.Seasonal.withDefaults()
	c.Burst.Horizon, c.Burst.Margin = c.Horizon, c.Margin
	c.Burst = c.Burst.withDefaults()
	return c
}

// Default is the predictor bigbox ships: the larger of the seasonal forecast
// and the burst guard, each plus the margin. See the package comment for why.
type Default struct {
	cfg      DefaultConfig
	burst    *BurstGuard
	seasonal *Seasonal
}

// NewDefault returns the Default predictor; zero fields of cfg take their
// defaults.
func NewDefault(cfg DefaultConfig) *Default {
	cfg = cfg.withDefaults()
	return &Default{cfg: cfg, burst: NewBurstGuard(cfg.Burst), seasonal: NewSeasonal(cfg.Seasonal)}
}

// Observe implements Predictor.
func (p *Default) Observe(s Sample) {
	p.burst.Observe(s)
	p.seasonal.Observe(s)
}

// Predict implements Predictor.
func (p *Default) Predict(now time.Time) float64 {
	return max(p.burst.Predict(now), p.seasonal.Predict(now))
}

type defaultState struct {
	Burst    json.RawMessage `json:"burst"`
	Seasonal json.RawMessage `json:"seasonal"`
}

// MarshalJSON saves the state.
func (p *Default) MarshalJSON() ([]byte, error) {
	b, err := p.burst.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("default state: %w", err)
	}
	s, err := p.seasonal.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("default state: %w", err)
	}
	return json.Marshal(defaultState{Burst: b, Seasonal: s})
}

// UnmarshalJSON restores a state saved by a Default with the same horizon,
// burst window and seasonal period and slot; the margin and half-lives stay
// as configured.
func (p *Default) UnmarshalJSON(b []byte) error {
	var s defaultState
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("default state: %w", err)
	}
	n := NewDefault(p.cfg)
	if err := n.burst.UnmarshalJSON(s.Burst); err != nil {
		return fmt.Errorf("default state: %w", err)
	}
	if err := n.seasonal.UnmarshalJSON(s.Seasonal); err != nil {
		return fmt.Errorf("default state: %w", err)
	}
	*p = *n
	return nil
}
