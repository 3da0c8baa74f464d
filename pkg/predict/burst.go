package predict

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// BurstGuardConfig configures a BurstGuard.
type BurstGuardConfig struct {
	// Horizon is how long a lent resource stays lent.
	Horizon time.Duration
	// Window is how far back the recent maximum looks; default Horizon/4.
	Window time.Duration
	// Margin, the safety knob, is added to the recent maximum, in the
	// resource's base unit.
	Margin float64
	// MissHalfLife is how fast the extra margin learnt from a miss fades;
	// default Horizon.
	MissHalfLife time.Duration
}

func (c BurstGuardConfig) withDefaults() BurstGuardConfig {
	c.Horizon = max(c.Horizon, time.Second)
	if c.Window <= 0 {
		c.Window = c.Horizon / 4
	}
	if c.MissHalfLife <= 0 {
		c.MissHalfLife = c.Horizon
	}
	c.Margin = max(0, c.Margin)
	return c
}

// BurstGuard reacts fast: it predicts the maximum of a short recent window
// plus a margin. After a miss (a sample above the previous prediction) the
// margin widens by the size of the miss, and that extra fades with
// MissHalfLife, because bursts come in clusters: the next one is likely as
// large as the last.
type BurstGuard struct {
	cfg  BurstGuardConfig
	win  windowMax
	last last
	// extra is the widening from misses, as of extraTime.
	extra     float64
	extraTime time.Time
}

// NewBurstGuard returns a BurstGuard; zero fields of cfg take their defaults.
func NewBurstGuard(cfg BurstGuardConfig) *BurstGuard {
	cfg = cfg.withDefaults()
	return &BurstGuard{cfg: cfg, win: newWindowMax(cfg.Window, windowSubWindows)}
}

// Observe implements Predictor.
func (p *BurstGuard) Observe(s Sample) {
	had := p.last.Has
	prev := p.predictAt(s.Time)
	if !p.last.accept(s) {
		return
	}
	p.win.add(s.Time, s.Value)
	if had && s.Value > prev {
		p.extra = max(p.extraAt(s.Time), s.Value-prev+p.cfg.Margin)
		p.extraTime = s.Time
	}
}

func (p *BurstGuard) extraAt(now time.Time) float64 {
	if p.extra == 0 {
		return 0
	}
	dt := now.Sub(p.extraTime)
	if dt <= 0 {
		return p.extra
	}
	return p.extra * math.Exp2(-float64(dt)/float64(p.cfg.MissHalfLife))
}

func (p *BurstGuard) predictAt(now time.Time) float64 {
	m, _ := p.win.get(now)
	return max(m, p.last.Value) + p.cfg.Margin + p.extraAt(now)
}

// Predict implements Predictor.
func (p *BurstGuard) Predict(now time.Time) float64 { return p.predictAt(now) }

type burstGuardState struct {
	Last      last        `json:"last"`
	Window    windowState `json:"window"`
	Extra     float64     `json:"extra"`
	ExtraTime time.Time   `json:"extra_time"`
}

// MarshalJSON saves the state.
func (p *BurstGuard) MarshalJSON() ([]byte, error) {
	return json.Marshal(burstGuardState{Last: p.last, Window: p.win.state(), Extra: p.extra, ExtraTime: p.extraTime})
}

// UnmarshalJSON restores a state saved by a BurstGuard with the same Window;
// the margin and half-life stay as configured.
func (p *BurstGuard) UnmarshalJSON(b []byte) error {
	var s burstGuardState
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("burst-guard state: %w", err)
	}
	if !valid(s.Extra) || (s.Last.Has && !valid(s.Last.Value)) {
		return fmt.Errorf("burst-guard state: invalid value (extra %v, last %v)", s.Extra, s.Last.Value)
	}
	n := NewBurstGuard(p.cfg)
	if err := n.win.restore(s.Window); err != nil {
		return fmt.Errorf("burst-guard state: %w", err)
	}
	n.last, n.extra, n.extraTime = s.Last, s.Extra, s.ExtraTime
	*p = *n
	return nil
}
