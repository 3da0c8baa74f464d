package predict

import (
	"fmt"
	"math"
	"time"
)

// Histogram bucket layout, fixed so state can be restored: bucket 0 holds
// values up to histMin, bucket i > 0 holds (histMin·r^(i−1), histMin·r^i]
// with r = histRatio, the last bucket everything above. 2% wide buckets from
// 1e-6 to about 1e13 cover fractions, cores and bytes alike in 2200 float64s;
// a quantile is read as the upper bound of its bucket, so it is at most 2%
// high and never low.
const (
	histMin     = 1e-6
	histRatio   = 1.02
	histBuckets = 2200
)

// histogram is a histogram with exponentially decaying weights: a value added
// at time t weighs 2^((t−ref)/halfLife), so older values count half as much per
// half-life. Adding is O(1) (weights grow instead of old ones shrinking; all
// are rescaled when they grow too big), as in the Kubernetes VPA's decaying
// histogram.
type histogram struct {
	halfLifeNs int64
	refNs      int64
	weight     []float64
	total      float64
	lo, hi     int // range of non-empty buckets when total > 0
}

func newHistogram(halfLife time.Duration) histogram {
	return histogram{halfLifeNs: int64(halfLife), weight: make([]float64, histBuckets)}
}

// logHistRatio is ln(histRatio).
const logHistRatio = 0.01980262729617971

func histBucket(v float64) int {
	if !(v > histMin) {
		return 0
	}
	i := 1 + int(math.Log(v/histMin)/logHistRatio)
	return min(i, histBuckets-1)
}

func histUpper(i int) float64 {
	return histMin * math.Pow(histRatio, float64(i))
}

// maxExponent bounds weights at 2^maxExponent before all are rescaled.
const maxExponent = 64

func (h *histogram) add(t time.Time, v float64) {
	ns := t.UnixNano()
	if h.total == 0 {
		h.refNs = ns
	}
	e := float64(ns-h.refNs) / float64(h.halfLifeNs)
	if e > maxExponent {
		scale := math.Exp2(-e)
		for i := h.lo; i <= h.hi; i++ {
			h.weight[i] *= scale
		}
		h.total *= scale
		h.refNs = ns
		e = 0
	}
	w := math.Exp2(e)
	i := histBucket(v)
	if h.total == 0 {
		h.lo, h.hi = i, i
	}
	h.lo, h.hi = min(h.lo, i), max(h.hi, i)
	h.weight[i] += w
	h.total += w
}

// quantile returns the upper bound of the bucket holding the p-quantile
// (0 ≤ p ≤ 1), and false when the histogram is empty.
func (h *histogram) quantile(p float64) (float64, bool) {
	if h.total <= 0 {
		return 0, false
	}
	target := p * h.total
	var acc float64
	for i := h.lo; i <= h.hi; i++ {
		acc += h.weight[i]
		if acc >= target && h.weight[i] > 0 {
			return histUpper(i), true
		}
	}
	return histUpper(h.hi), true
}

// histogramState is the serialised form of a histogram: only the non-empty
// range is kept.
type histogramState struct {
	HalfLifeNs int64     `json:"half_life_ns"`
	RefNs      int64     `json:"ref_ns"`
	Lo         int       `json:"lo"`
	Weight     []float64 `json:"weight"`
}

func (h *histogram) state() histogramState {
	s := histogramState{HalfLifeNs: h.halfLifeNs, RefNs: h.refNs}
	if h.total > 0 {
		s.Lo = h.lo
		s.Weight = append([]float64(nil), h.weight[h.lo:h.hi+1]...)
	}
	return s
}

func (h *histogram) restore(s histogramState) error {
	if s.HalfLifeNs != h.halfLifeNs {
		return fmt.Errorf("histogram state has half-life %v, want %v", time.Duration(s.HalfLifeNs), time.Duration(h.halfLifeNs))
	}
	if s.Lo < 0 || s.Lo+len(s.Weight) > histBuckets {
		return fmt.Errorf("histogram state buckets [%d, %d) out of range [0, %d)", s.Lo, s.Lo+len(s.Weight), histBuckets)
	}
	clear(h.weight)
	h.refNs, h.total = s.RefNs, 0
	first := true
	for j, w := range s.Weight {
		if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return fmt.Errorf("histogram state weight %d is %v", s.Lo+j, w)
		}
		if w == 0 {
			continue
		}
		i := s.Lo + j
		h.weight[i] = w
		h.total += w
		if first {
			h.lo, first = i, false
		}
		h.hi = i
	}
	return nil
}
