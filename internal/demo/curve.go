package demo

import (
	"fmt"
	"time"

	"github.com/bigbox-dev/bigbox/internal/trace"
)

// day is the span one replay of the curve stands for.
const day = 24 * time.Hour

// Curve is one day of a usage trace, smoothed and normalised so its peak is
// 1. The load generator replays it, compressed into a phase, as a request
// rate: rate(t) = peak rate × At(t / phase length).
type Curve struct {
	// Points are evenly spaced over the day, each in 0–1; the largest is 1.
	Points []float64
}

// DayCurve cuts day number dayIndex (0 = the first 24 hours from the first
// sample) out of s, smooths it with a centred moving average of smoothWindow
// samples (1 = none; the per-minute noise of a trace, compressed a
// thousandfold, would make the rate jitter without showing the day's shape)
// and divides by the peak. A trace shorter than a day is used whole. It is
// an error when the day has fewer than two samples or its peak is zero.
func DayCurve(s trace.Series, dayIndex, smoothWindow int) (Curve, error) {
	if len(s.Samples) == 0 {
		return Curve{}, fmt.Errorf("day curve: empty trace")
	}
	if dayIndex < 0 {
		return Curve{}, fmt.Errorf("day curve: day %d is negative", dayIndex)
	}
	first := s.Samples[0].Time
	start := first.Add(time.Duration(dayIndex) * day)
	end := start.Add(day)
	var vals []float64
	for _, x := range s.Samples {
		if !x.Time.Before(start) && x.Time.Before(end) {
			vals = append(vals, x.Value)
		}
	}
	if dayIndex == 0 && s.Samples[len(s.Samples)-1].Time.Before(end) {
		vals = vals[:0]
		for _, x := range s.Samples {
			vals = append(vals, x.Value)
		}
	}
	if len(vals) < 2 {
		return Curve{}, fmt.Errorf("day curve: day %d has %d samples, want at least 2", dayIndex, len(vals))
	}
	// Scaled to the raw peak before smoothing, so the moving average's sums
	// cannot overflow, and to the smoothed peak after.
	if err := scaleToPeak(vals); err != nil {
		return Curve{}, fmt.Errorf("day curve: day %d: %w", dayIndex, err)
	}
	vals = movingAverage(vals, max(smoothWindow, 1))
	if err := scaleToPeak(vals); err != nil {
		return Curve{}, fmt.Errorf("day curve: day %d: %w", dayIndex, err)
	}
	return Curve{Points: vals}, nil
}

// scaleToPeak divides vals by their largest value, which must be positive.
func scaleToPeak(vals []float64) error {
	var peak float64
	for _, v := range vals {
		peak = max(peak, v)
	}
	if !(peak > 0) {
		return fmt.Errorf("peaks at %g, want above 0", peak)
	}
	for i := range vals {
		vals[i] /= peak
	}
	return nil
}

// movingAverage returns the centred moving average of vals over window
// samples, the window shrinking at both ends so the length is kept.
func movingAverage(vals []float64, window int) []float64 {
	out := make([]float64, len(vals))
	half := window / 2
	// prefix[i] is the sum of vals[:i].
	prefix := make([]float64, len(vals)+1)
	for i, v := range vals {
		prefix[i+1] = prefix[i] + v
	}
	for i := range vals {
		lo, hi := max(i-half, 0), min(i+window-half, len(vals))
		out[i] = (prefix[hi] - prefix[lo]) / float64(hi-lo)
	}
	return out
}

// At returns the curve at frac of the day (0–1, clamped), interpolating
// linearly between points. An empty curve is 0 everywhere.
func (c Curve) At(frac float64) float64 {
	n := len(c.Points)
	switch {
	case n == 0:
		return 0
	case n == 1:
		return c.Points[0]
	}
	pos := min(max(frac, 0), 1) * float64(n-1)
	i := int(pos)
	if i >= n-1 {
		return c.Points[n-1]
	}
	w := pos - float64(i)
	return c.Points[i]*(1-w) + c.Points[i+1]*w
}

// Rate turns the curve into a request rate for a phase of length phase:
// peakRPS × At(elapsed / phase).
func (c Curve) Rate(peakRPS float64, phase time.Duration) func(elapsed time.Duration) float64 {
	return func(elapsed time.Duration) float64 {
		if phase <= 0 {
			return 0
		}
		return peakRPS * c.At(float64(elapsed)/float64(phase))
	}
}
