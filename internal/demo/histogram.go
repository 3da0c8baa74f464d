package demo

import (
	"math"
	"math/bits"
	"time"
)

// Latencies are kept in log-linear buckets of microseconds, the scheme of
// HdrHistogram with two significant binary digits more than a byte: values
// below 128 µs have a bucket each; above, each power of two is split into 64
// buckets, so a bucket is at most 1/64 (1.6%) wide relative to its value.
// Merging two histograms adds counts, so per-second histograms sum exactly
// into per-phase ones, which sorted samples would not do cheaply.
const (
	histLinearMicros = 128
	histSubBuckets   = 64
	// histMaxExp: values from 2^histMaxExp µs (about 19 hours) on land in
	// the last bucket.
	histMaxExp  = 36
	histBuckets = histLinearMicros + (histMaxExp-7)*histSubBuckets
)

// Histogram counts request latencies. The zero value is empty and ready.
type Histogram struct {
	counts    []uint64
	total     uint64
	maxMicros uint64
}

// bucketOf returns the bucket of a latency in microseconds.
func bucketOf(micros uint64) int {
	if micros < histLinearMicros {
		return int(micros)
	}
	k := bits.Len64(micros) - 1 // micros in [2^k, 2^(k+1)), k >= 7
	if k >= histMaxExp {
		return histBuckets - 1
	}
	shift := uint(k - 6) // micros>>shift in [64, 128)
	return histLinearMicros + (k-7)*histSubBuckets + int(micros>>shift) - histSubBuckets
}

// bucketUpperMicros returns the largest latency that falls into bucket i.
func bucketUpperMicros(i int) uint64 {
	if i < histLinearMicros {
		return uint64(i)
	}
	j := i - histLinearMicros
	k := j/histSubBuckets + 7
	shift := uint(k - 6)
	sub := uint64(j%histSubBuckets + histSubBuckets)
	return (sub+1)<<shift - 1
}

// Record adds one latency. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	micros := uint64(max(d, 0) / time.Microsecond)
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	h.counts[bucketOf(micros)]++
	h.total++
	h.maxMicros = max(h.maxMicros, micros)
}

// Merge adds every count of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.maxMicros = max(h.maxMicros, o.maxMicros)
}

// Count returns how many latencies were recorded.
func (h *Histogram) Count() uint64 { return h.total }

// Quantile returns the latency below or at which a share q (0–1) of the
// recorded latencies lie: the upper end of the bucket holding that rank,
// never above the largest latency recorded. It is 0 when h is empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := max(uint64(math.Ceil(q*float64(h.total))), 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketUpperMicros(i), h.maxMicros)) * time.Microsecond
		}
	}
	return time.Duration(h.maxMicros) * time.Microsecond
}

// millis converts a duration to float milliseconds, the unit of the live
// view, the summary and the plot.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
