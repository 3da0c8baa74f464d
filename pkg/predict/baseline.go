package predict

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Static predicts the current usage plus a fixed margin. It is the simplest
// baseline: it knows nothing about the past or the horizon.
type Static struct {
	marginUnits float64
	last        last
}

// NewStatic returns a Static predictor; margin is in the resource's base unit.
func NewStatic(margin float64) *Static { return &Static{marginUnits: margin} }

// Observe implements Predictor.
func (p *Static) Observe(s Sample) { p.last.accept(s) }

// Predict implements Predictor.
func (p *Static) Predict(time.Time) float64 { return p.last.Value + max(0, p.marginUnits) }

// MarshalJSON saves the state (the last sample).
func (p *Static) MarshalJSON() ([]byte, error) { return json.Marshal(p.last) }

// UnmarshalJSON restores a state saved by MarshalJSON; the margin stays.
func (p *Static) UnmarshalJSON(b []byte) error {
	var l last
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("static state: %w", err)
	}
	if l.Has && !valid(l.Value) {
		return fmt.Errorf("static state: value %v", l.Value)
	}
	p.last = l
	return nil
}

// windowSubWindows is how many sub-windows a sliding maximum is kept in.
const windowSubWindows = 60

// WindowMax predicts the maximum of the last window plus a fixed margin.
type WindowMax struct {
	marginUnits float64
	win         windowMax
	last        last
}

// NewWindowMax returns a WindowMax predictor over window (e.g. one hour);
// margin is in the resource's base unit.
func NewWindowMax(window time.Duration, margin float64) *WindowMax {
	return &WindowMax{marginUnits: margin, win: newWindowMax(max(window, time.Second), windowSubWindows)}
}

// Observe implements Predictor.
func (p *WindowMax) Observe(s Sample) {
	if p.last.accept(s) {
		p.win.add(s.Time, s.Value)
	}
}

// Predict implements Predictor.
func (p *WindowMax) Predict(now time.Time) float64 {
	m, _ := p.win.get(now)
	return max(m, p.last.Value) + max(0, p.marginUnits)
}

type windowMaxState struct {
	Last   last        `json:"last"`
	Window windowState `json:"window"`
}

// MarshalJSON saves the state.
func (p *WindowMax) MarshalJSON() ([]byte, error) {
	return json.Marshal(windowMaxState{Last: p.last, Window: p.win.state()})
}

// UnmarshalJSON restores a state saved by MarshalJSON of a WindowMax with the
// same window; the margin stays.
func (p *WindowMax) UnmarshalJSON(b []byte) error {
	var s windowMaxState
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("window-max state: %w", err)
	}
	if s.Last.Has && !valid(s.Last.Value) {
		return fmt.Errorf("window-max state: last value %v", s.Last.Value)
	}
	if err := p.win.restore(s.Window); err != nil {
		return fmt.Errorf("window-max state: %w", err)
	}
	p.last = s.Last
	return nil
}

// Oracle knows the whole series and predicts the true peak over the horizon:
// the maximum of the samples in (now, now+horizon], or the value at now if
// that is higher. It is the upper bound of what any predictor can lend without
// violations; it cannot run online. Observe only tracks the last sample.
type Oracle struct {
	series []Sample
	future []float64
	last   last
}

// NewOracle builds an Oracle over a series sorted by time.
func NewOracle(series []Sample, horizon time.Duration) *Oracle {
	return &Oracle{series: series, future: FutureMax(series, horizon)}
}

// Observe implements Predictor.
func (o *Oracle) Observe(s Sample) { o.last.accept(s) }

// Predict implements Predictor.
func (o *Oracle) Predict(now time.Time) float64 {
	i := sort.Search(len(o.series), func(i int) bool { return o.series[i].Time.After(now) }) - 1
	p := o.last.Value
	if i >= 0 {
		p = max(p, o.series[i].Value, o.future[i])
	}
	return p
}

// FutureMax returns, for each sample i of a series sorted by time, the
// largest value in (t_i, t_i+horizon] (zero when there is none). It runs in
// O(n) with a monotonic queue.
func FutureMax(series []Sample, horizon time.Duration) []float64 {
	out := make([]float64, len(series))
	// dq holds indices j > i, values decreasing, all within the horizon of i.
	dq := make([]int, 0, 64)
	head := 0
	for i := len(series) - 1; i >= 0; i-- {
		end := series[i].Time.Add(horizon)
		for head < len(dq) && series[dq[head]].Time.After(end) {
			head++
		}
		if head < len(dq) {
			out[i] = series[dq[head]].Value
		}
		// Push i (it is in the past window of i−1, i−2, …).
		v := series[i].Value
		for len(dq) > head && series[dq[len(dq)-1]].Value <= v {
			dq = dq[:len(dq)-1]
		}
		dq = append(dq, i)
	}
	return out
}
