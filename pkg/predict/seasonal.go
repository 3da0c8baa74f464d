package predict

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// SeasonalConfig configures a Seasonal predictor.
type SeasonalConfig struct {
	// Horizon is how long a lent resource stays lent.
	Horizon time.Duration
	// Period is the length of the season; default 24h (7×24h models the
	// week). Periods start at the Unix epoch, that is at 00:00 UTC (and on a
	// Thursday for weekly periods).
	Period time.Duration
	// Slot is the width of one profile slot; default 5m. At most 4096 slots.
	Slot time.Duration
	// HalfLife, in periods of weight, is how fast older periods fade from the
	// profile; default 2×Period.
	HalfLife time.Duration
	// Margin, the safety knob, is added to the forecast, in the resource's
	// base unit.
	Margin float64
}

// maxSlots bounds the profile size (4096 slots is a week of 2.5-minute slots).
const maxSlots = 4096

func (c SeasonalConfig) withDefaults() SeasonalConfig {
	c.Horizon = max(c.Horizon, time.Second)
	if c.Period <= 0 {
		c.Period = 24 * time.Hour
	}
	if c.Slot <= 0 {
		c.Slot = 5 * time.Minute
	}
	c.Slot = max(c.Slot, c.Period/maxSlots)
	// A period holds a whole number of slots.
	c.Period = c.Period / c.Slot * c.Slot
	if c.HalfLife <= 0 {
		c.HalfLife = 2 * c.Period
	}
	c.Margin = max(0, c.Margin)
	return c
}

// slot is one slot of the seasonal profile: Cur is the maximum seen in the
// slot during period Cycle; Prof is the exponentially weighted mean of the
// slot maxima of the N earlier periods.
type slot struct {
	Cycle int64   `json:"c"`
	Cur   float64 `json:"x"`
	Prof  float64 `json:"p"`
	N     int     `json:"n"`
	Has   bool    `json:"h,omitempty"`
}

// Seasonal models the tidal pattern of online services: a profile of the
// usual peak in each slot of the period (e.g. 288 five-minute slots of a day),
// an exponentially weighted mean of each slot's maximum over past periods.
// The forecast is the largest profile value of the slots the horizon covers;
// for a slot without a past period yet, the maximum of the last horizon
// stands in. It sees the morning ramp coming before it starts.
type Seasonal struct {
	cfg    SeasonalConfig
	alpha  float64 // weight of the newest period in the profile
	slots  []slot
	recent windowMax
	last   last
}

// NewSeasonal returns a Seasonal predictor; zero fields of cfg take their
// defaults.
func NewSeasonal(cfg SeasonalConfig) *Seasonal {
	cfg = cfg.withDefaults()
	return &Seasonal{
		cfg:    cfg,
		alpha:  1 - math.Exp2(-float64(cfg.Period)/float64(cfg.HalfLife)),
		slots:  make([]slot, int(cfg.Period/cfg.Slot)),
		recent: newWindowMax(cfg.Horizon, horizonSubWindows),
	}
}

// locate returns the cycle and slot number of t.
func (p *Seasonal) locate(t time.Time) (int64, int) {
	idx := floorDiv(t.UnixNano(), int64(p.cfg.Slot))
	n := int64(len(p.slots))
	c := floorDiv(idx, n)
	return c, int(idx - c*n)
}

// Observe implements Predictor.
func (p *Seasonal) Observe(s Sample) {
	if !p.last.accept(s) {
		return
	}
	p.recent.add(s.Time, s.Value)
	c, i := p.locate(s.Time)
	sl := &p.slots[i]
	switch {
	case !sl.Has:
		*sl = slot{Cycle: c, Cur: s.Value, Has: true}
	case sl.Cycle == c:
		sl.Cur = max(sl.Cur, s.Value)
	default:
		sl.Prof = p.fold(*sl)
		sl.N++
		sl.Cycle, sl.Cur = c, s.Value
	}
}

// fold is the profile value once Cur joins it.
func (p *Seasonal) fold(sl slot) float64 {
	if sl.N == 0 {
		return sl.Cur
	}
	return sl.Prof + p.alpha*(sl.Cur-sl.Prof)
}

// expect returns the usual peak of slot i in cycle c, and false when no
// earlier period has data for it.
func (p *Seasonal) expect(c int64, i int) (float64, bool) {
	sl := p.slots[i]
	switch {
	case !sl.Has:
		return 0, false
	case sl.Cycle < c:
		return p.fold(sl), true
	case sl.N > 0: // the slot is running now; Cur is partial
		return max(sl.Prof, sl.Cur), true
	default:
		return 0, false
	}
}

// forecast is the profile's peak over (now, now+Horizon], with the recent
// maximum standing in for slots without history.
func (p *Seasonal) forecast(now time.Time) float64 {
	recent, _ := p.recent.get(now)
	var f float64
	at := func(t time.Time) {
		if v, ok := p.expect(p.locate(t)); ok {
			f = max(f, v)
		} else {
			f = max(f, recent)
		}
	}
	end := now.Add(p.cfg.Horizon)
	for t := now; t.Before(end); t = t.Add(p.cfg.Slot) {
		at(t)
	}
	at(end)
	return f
}

// Predict implements Predictor.
func (p *Seasonal) Predict(now time.Time) float64 {
	return max(p.forecast(now), p.last.Value) + p.cfg.Margin
}

type seasonalState struct {
	Last   last        `json:"last"`
	Recent windowState `json:"recent"`
	SlotNs int64       `json:"slot_ns"`
	Slots  []slot      `json:"slots"`
}

// MarshalJSON saves the state.
func (p *Seasonal) MarshalJSON() ([]byte, error) {
	return json.Marshal(seasonalState{Last: p.last, Recent: p.recent.state(), SlotNs: int64(p.cfg.Slot), Slots: p.slots})
}

// UnmarshalJSON restores a state saved by a Seasonal with the same horizon,
// period and slot; the half-life and margin stay as configured.
func (p *Seasonal) UnmarshalJSON(b []byte) error {
	var s seasonalState
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("seasonal state: %w", err)
	}
	if s.SlotNs != int64(p.cfg.Slot) || len(s.Slots) != len(p.slots) {
		return fmt.Errorf("seasonal state has %d slots of %v, want %d of %v", len(s.Slots), time.Duration(s.SlotNs), len(p.slots), p.cfg.Slot)
	}
	if s.Last.Has && !valid(s.Last.Value) {
		return fmt.Errorf("seasonal state: last value %v", s.Last.Value)
	}
	for i, sl := range s.Slots {
		if !valid(sl.Cur) || !valid(sl.Prof) || sl.N < 0 {
			return fmt.Errorf("seasonal state: slot %d is invalid", i)
		}
	}
	n := NewSeasonal(p.cfg)
	if err := n.recent.restore(s.Recent); err != nil {
		return fmt.Errorf("seasonal state: %w", err)
	}
	copy(n.slots, s.Slots)
	n.last = s.Last
	*p = *n
	return nil
}
