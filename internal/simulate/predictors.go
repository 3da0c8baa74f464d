package simulate

import (
	"fmt"
	"slices"
	"time"

	"github.com/bigbox-dev/bigbox/pkg/predict"
)

// Oracle is the name of the oracle predictor: the true peak of the next
// horizon plus a margin. It reads the future, so it bounds what any predictor
// could lend; it is built from the whole series, not by predict.New.
const Oracle = "oracle"

// percentilePredictor is the one predictor whose knob is a percentile.
const percentilePredictor = "decaying-histogram"

// Default knobs, used when --knob does not set one: those of pkg/predict,
// which the agent runs with too. Margins are a share of capacity
// (DefaultMarginFraction × capacity, in base units); the oracle's is the
// policy's deadband (DefaultKnob).
const (
	DefaultMarginFraction = predict.DefaultMarginFraction
	DefaultPercentile     = predict.DefaultPercentile
)

// PredictorNames lists every predictor simulate knows: predict.Names()
// ("default" first) and the oracle.
func PredictorNames() []string { return append(predict.Names(), Oracle) }

// IsPercentile reports whether name's knob is a percentile in (0, 1] rather
// than a margin in base units.
func IsPercentile(name string) bool { return name == percentilePredictor }

// DefaultKnob returns the knob a predictor runs with on n unless told
// otherwise. The oracle's margin is the deadband of n's policy: hysteresis
// may hold lent up to one deadband above what the forecast leaves, so that is
// the least margin with which even a perfect forecast never violates.
func DefaultKnob(name string, n Node) float64 {
	switch {
	case IsPercentile(name):
		return DefaultPercentile
	case name == Oracle:
		return max(n.resourcePolicy().DeadbandPercent, 0) / 100 * n.Capacity
	}
	return DefaultMarginFraction * n.Capacity
}

// KnobGrid returns the knob values swept for a predictor's trade-off curve,
// ascending. Margins are a share of capacity, finely spaced where 1–5%
// violations are read off: 0–10% by 0.25%, then 11–20% by 1%, then 25–65% by
// 5%. Percentiles span 0.3–1, finer towards 1.
func KnobGrid(name string, capacity float64) []float64 {
	if IsPercentile(name) {
		return []float64{0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.94, 0.95, 0.96, 0.97,
			0.98, 0.985, 0.99, 0.993, 0.995, 0.997, 0.999, 1}
	}
	var g []float64
	for i := 0; i <= 40; i++ {
		g = append(g, float64(i)*0.0025*capacity)
	}
	for i := 11; i <= 20; i++ {
		g = append(g, float64(i)*0.01*capacity)
	}
	for i := 5; i <= 13; i++ {
		g = append(g, float64(i)*0.05*capacity)
	}
	return g
}

// newPredictor builds a fresh predictor for one replay of series.
func newPredictor(name string, knob float64, horizon time.Duration, series []predict.Sample, future []float64) (predict.Predictor, error) {
	if name != Oracle {
		p, err := predict.New(name, knob, horizon)
		if err != nil {
			return nil, fmt.Errorf("predictor %s: %w", name, err)
		}
		return p, nil
	}
	if !(knob >= 0) || knob > 1e300 {
		return nil, fmt.Errorf("predictor %s: knob %v is not a finite non-negative number", name, knob)
	}
	return &oracle{series: series, future: future, margin: knob}, nil
}

// oracle predicts the true peak of (now, now+horizon] (or the current value
// if higher) plus a margin. It is predict.Oracle with a margin and without a
// search per step: it is fed the series it was built from, in order, so the
// index of the newest sample observed is the current step. The margin gives
// it a curve too: the policy's deadband can hold lent a little above what the
// forecast leaves, so even the oracle violates at margin 0.
type oracle struct {
	series []predict.Sample
	future []float64
	margin float64
	i      int // index of the next sample expected
	last   float64
}

func (o *oracle) Observe(s predict.Sample) {
	for o.i < len(o.series) && o.series[o.i].Time.Before(s.Time) {
		o.i++
	}
	if o.i < len(o.series) && o.series[o.i].Time.Equal(s.Time) {
		o.i++
	}
	o.last = s.Value
}

func (o *oracle) Predict(time.Time) float64 {
	p := o.last
	if o.i > 0 {
		p = max(p, o.future[o.i-1])
	}
	return p + o.margin
}

// ParsePredictors turns the --predictor value ("all", or names separated by
// commas) into the list of names to run, in PredictorNames order.
func ParsePredictors(s string) ([]string, error) {
	all := PredictorNames()
	if s == "" || s == "all" {
		return all, nil
	}
	want := make(map[string]bool)
	for _, n := range splitList(s) {
		if !slices.Contains(all, n) {
			return nil, fmt.Errorf("unknown predictor %q, want all or some of %v", n, all)
		}
		want[n] = true
	}
	var out []string
	for _, n := range all {
		if want[n] {
			out = append(out, n)
		}
	}
	return out, nil
}
