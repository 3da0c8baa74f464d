package predict

import (
	"math"
	"time"
)

// Sample is one observation of online usage, in the resource's base unit
// (cores for CPU, bytes for memory, or a fraction of capacity in traces).
type Sample struct {
	Time  time.Time
	Value float64
}

// Predictor predicts the peak of online usage over the next horizon, the time
// a lent resource stays lent.
type Predictor interface {
	// Observe feeds one sample. Times are expected to be non-decreasing; a
	// sample older than the newest one seen, and a value that is negative,
	// NaN or ±Inf, is ignored. Gaps are tolerated: windows expire by time,
	// not by sample count.
	Observe(s Sample)
	// Predict returns the predicted peak of the next horizon after now. It is
	// never below the last observed value (zero before the first sample).
	Predict(now time.Time) float64
}

// valid reports whether a sample value can be used: finite and non-negative.
func valid(v float64) bool {
	return v >= 0 && !math.IsInf(v, 1) // NaN fails v >= 0
}
