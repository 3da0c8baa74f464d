// Package forecast runs the online-peak predictors of pkg/predict in the
// agent. A Forecaster wraps the predictor of one resource, built from the
// NodeSLO's config.PredictorSpec and the node's capacity: the agent feeds it
// the online usage of every node scan and takes its forecast as
// qos.Usage.PredictedOnline, so that
//
//	reclaimable = capacity × watermark − max(online, predicted peak) − system
//
// A Set holds the CPU and memory forecasters and keeps their state in a
// small JSON file on the node (Load at start; Run saves it every interval
// and on stop), so a restarted agent does not lose the seasonal profile it
// learnt over days.
//
// Cadence. The agent observes once per second per resource and predicts from
// both loops (the CPU loop 20 times a second). The predictors are made for
// it: their windows are fixed rings of time sub-windows (a quarter horizon in
// 60 for the burst guard, a horizon in 12 for the seasonal "recent" stand-in,
// 5-minute slots for the seasonal profile), so memory does not grow with the
// sample rate and a sub-window shorter than a second simply holds one sample
// or none; every forecast is at least the last observed value, so an empty
// sub-window never lowers it. Gaps (an agent restart, a stalled scan) expire
// by time: sub-windows older than their window are ignored, a seasonal slot
// last written in an earlier period folds into the profile when next written.
// A sample older than the newest one is ignored by the predictors; when the
// clock steps back by more than MaxClockStepBack the forecaster starts afresh
// instead, since otherwise it would ignore every sample until the clock
// caught up with the old time.
package forecast

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/bigbox-dev/bigbox/internal/config"
	"github.com/bigbox-dev/bigbox/pkg/predict"
)

// MaxClockStepBack is how far a sample may lie before the newest one
// observed before the forecaster drops its state (a clock set back, or a
// state file written with a clock that was ahead). Within it, the older
// sample is ignored.
const MaxClockStepBack = time.Minute

// predictor is what a Forecaster needs of a pkg/predict predictor: every
// predictor predict.New builds saves and restores its state as JSON.
type predictor interface {
	predict.Predictor
	json.Marshaler
	json.Unmarshaler
}

// Forecaster forecasts the online peak of one resource. It is safe for
// concurrent use. Its memory is that of its predictor: bounded, whatever
// the sample rate or the run time.
type Forecaster struct {
	mu        sync.Mutex
	spec      config.PredictorSpec
	capacity  float64
	p         predictor // nil for config.PredictorNone
	newest    time.Time // newest sample observed; zero for none
	hasSample bool
}

// New returns a forecaster running spec on a resource of the given capacity
// (cores or bytes). A margin knob is a share of capacity, so with a capacity
// of zero (not measured yet) margins are zero until Configure gives one.
func New(spec config.PredictorSpec, capacity float64) (*Forecaster, error) {
	p, err := build(spec, capacity)
	if err != nil {
		return nil, err
	}
	return &Forecaster{spec: spec, capacity: capacity, p: p}, nil
}

// build makes a fresh predictor; nil for config.PredictorNone.
func build(spec config.PredictorSpec, capacity float64) (predictor, error) {
	if !(capacity >= 0) || math.IsInf(capacity, 1) {
		return nil, fmt.Errorf("predictor %s: capacity %v is not a finite non-negative number", spec.Name, capacity)
	}
	// The NodeSLO's limits, the horizon's in particular: a seasonal forecast
	// walks the slots of one horizon at every Predict.
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("predictor %s: %w", spec.Name, err)
	}
	if spec.Name == config.PredictorNone {
		return nil, nil
	}
	knob := spec.Knob
	if !spec.PercentileKnob() {
		knob *= capacity
	}
	p, err := predict.New(spec.Name, knob, spec.Horizon)
	if err != nil {
		return nil, fmt.Errorf("build predictor: %w", err)
	}
	sp, ok := p.(predictor)
	if !ok {
		return nil, fmt.Errorf("predictor %s (%T) cannot save its state", spec.Name, p)
	}
	return sp, nil
}

// sameState reports whether a predictor of spec b can take the state of one
// of spec a: the knob is configuration, not state, in every predictor (their
// UnmarshalJSON keeps the margin or percentile configured), while the name
// and the horizon shape the state.
func sameState(a, b config.PredictorSpec) bool {
	return a.Name == b.Name && a.Horizon == b.Horizon
}

// Configure switches to spec and capacity, when either changed. A new knob
// or capacity keeps what was learnt (the state moves to a predictor with
// the new margin); a new name or horizon starts afresh. dropped is true when
// learnt state was thrown away: the caller logs it. On error nothing
// changes.
func (f *Forecaster) Configure(spec config.PredictorSpec, capacity float64) (dropped bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if spec == f.spec && capacity == f.capacity {
		return false, nil
	}
	p, err := build(spec, capacity)
	if err != nil {
		return false, err
	}
	carried := false
	if f.p != nil && p != nil && sameState(f.spec, spec) {
		if b, err := f.p.MarshalJSON(); err == nil && p.UnmarshalJSON(b) == nil {
			carried = true
		} else if p, err = build(spec, capacity); err != nil { // a failed restore may leave p half set
			return false, err
		}
	}
	dropped = f.hasSample && !carried
	if !carried {
		f.newest, f.hasSample = time.Time{}, false
	}
	f.spec, f.capacity, f.p = spec, capacity, p
	return dropped, nil
}

// Observe feeds the online usage at t (cores or bytes). Negative, NaN and
// infinite values are ignored, as are samples older than the newest one;
// when t lies more than MaxClockStepBack before the newest sample the state
// is dropped and t starts afresh, and dropped is true (the caller logs it).
func (f *Forecaster) Observe(t time.Time, online float64) (dropped bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.p == nil {
		return false
	}
	if f.hasSample && t.Before(f.newest.Add(-MaxClockStepBack)) {
		p, err := build(f.spec, f.capacity)
		if err != nil { // f.spec and f.capacity built before; keep the old state
			return false
		}
		f.p, f.newest, f.hasSample, dropped = p, time.Time{}, false, true
	}
	f.p.Observe(predict.Sample{Time: t, Value: online})
	if !f.hasSample || t.After(f.newest) {
		f.newest, f.hasSample = t, true
	}
	return dropped
}

// Predict returns the forecast peak of online usage over the horizon after
// now, in the unit observed; 0 for config.PredictorNone. For every
// predictor but "none" it is at least the last value observed.
func (f *Forecaster) Predict(now time.Time) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.p == nil {
		return 0
	}
	return f.p.Predict(now)
}

// Spec returns the predictor spec in force.
func (f *Forecaster) Spec() config.PredictorSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.spec
}

// Capacity returns the capacity margins are a share of.
func (f *Forecaster) Capacity() float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.capacity
}

// state is the saved form of a Forecaster: the newest sample time and the
// predictor's own JSON (absent for "none" and before the first sample).
type state struct {
	Newest    time.Time       `json:"newest,omitzero"`
	Predictor json.RawMessage `json:"predictor,omitempty"`
}

// MarshalState saves what the forecaster has learnt.
func (f *Forecaster) MarshalState() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s state
	if f.p != nil && f.hasSample {
		b, err := f.p.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("save %s state: %w", f.spec.Name, err)
		}
		s = state{Newest: f.newest, Predictor: b}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("save %s state: %w", f.spec.Name, err)
	}
	return b, nil
}

// RestoreState restores a state saved by MarshalState of a forecaster with
// the same predictor name and horizon (the knob and the capacity may
// differ). On error the forecaster is unchanged.
func (f *Forecaster) RestoreState(b []byte) error {
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("decode forecaster state: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.p == nil || len(s.Predictor) == 0 || string(s.Predictor) == "null" {
		return nil // nothing learnt, or nothing to learn
	}
	p, err := build(f.spec, f.capacity)
	if err != nil {
		return err
	}
	if err := p.UnmarshalJSON(s.Predictor); err != nil {
		return fmt.Errorf("restore %s state: %w", f.spec.Name, err)
	}
	if s.Newest.IsZero() {
		return errors.New("restore state: predictor state without the time of its newest sample")
	}
	f.p, f.newest, f.hasSample = p, s.Newest, true
	return nil
}
