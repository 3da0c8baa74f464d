package predict

import (
	"sort"
	"time"
)

// Result is what lending by a predictor's forecast would have given on one
// series.
type Result struct {
	// Steps is the number of samples evaluated: those with a full horizon of
	// known future after them.
	Steps int
	// ReclaimedFraction is mean(lent)/capacity over the steps, where at each
	// step lent = max(0, capacity×watermark − prediction).
	ReclaimedFraction float64
	// ViolationRate is the share of steps that lent something and where some
	// sample in (t, t+horizon] exceeded capacity×watermark − lent, that is
	// the prediction: online usage needed what had been lent.
	ViolationRate float64
}

// Evaluate replays series through pred, deciding at each sample from the past
// only (the sample is observed, then the prediction is made), and scores the
// decisions against the true future. watermark is a fraction (0.65 for 65%).
// It is deterministic: the same predictor state and series give the same
// result.
func Evaluate(pred Predictor, series []Sample, capacity, watermark float64, horizon time.Duration) Result {
	future := FutureMax(series, horizon)
	limit := capacity * watermark
	var r Result
	var lentSum float64
	var violations int
	if len(series) == 0 {
		return r
	}
	end := series[len(series)-1].Time
	for i, s := range series {
		pred.Observe(s)
		if s.Time.Add(horizon).After(end) {
			continue // the future is not fully known: observe, do not score
		}
		p := pred.Predict(s.Time)
		lent := max(0, limit-p)
		r.Steps++
		lentSum += lent
		// limit−lent is p; compare with p itself, as limit−(limit−p) may
		// round below p.
		if lent > 0 && future[i] > p {
			violations++
		}
	}
	if r.Steps > 0 && capacity > 0 {
		r.ReclaimedFraction = lentSum / float64(r.Steps) / capacity
		r.ViolationRate = float64(violations) / float64(r.Steps)
	}
	return r
}

// Curve is the trade-off of one predictor on one series: a Result per value
// of its safety knob.
type Curve struct {
	Knobs   []float64
	Results []Result
}

// Sweep evaluates a fresh predictor from newPred for each knob value.
func Sweep(newPred func(knob float64) Predictor, knobs []float64, series []Sample, capacity, watermark float64, horizon time.Duration) Curve {
	c := Curve{Knobs: append([]float64(nil), knobs...)}
	for _, k := range knobs {
		c.Results = append(c.Results, Evaluate(newPred(k), series, capacity, watermark, horizon))
	}
	return c
}

// ReclaimedAt returns the reclaimed fraction the predictor reaches at a
// violation rate of target, read off the curve's upper frontier and
// interpolated linearly between its points. Lending nothing (0 violations,
// 0 reclaimed) is always a point of the frontier; past the last point the
// curve stays flat.
func (c Curve) ReclaimedAt(target float64) float64 {
	type pt struct{ v, r float64 }
	pts := []pt{{0, 0}}
	for _, r := range c.Results {
		pts = append(pts, pt{r.ViolationRate, r.ReclaimedFraction})
	}
	sort.Slice(pts, func(i, j int) bool {
		if pts[i].v != pts[j].v {
			return pts[i].v < pts[j].v
		}
		return pts[i].r > pts[j].r
	})
	// The frontier: the best reclaimed fraction for at most v violations.
	front := []pt{pts[0]}
	for _, p := range pts[1:] {
		if p.r > front[len(front)-1].r {
			front = append(front, p)
		}
	}
	for i := len(front) - 1; i >= 0; i-- {
		a := front[i]
		if a.v > target {
			continue
		}
		if i == len(front)-1 {
			return a.r
		}
		b := front[i+1]
		return a.r + (b.r-a.r)*(target-a.v)/(b.v-a.v)
	}
	return 0 // not reached: front[0] has v = 0 ≤ target for target ≥ 0
}
