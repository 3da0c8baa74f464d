package demo

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	t.Parallel()
	// Every value lands in a bucket whose upper end is at or above it and
	// at most 1/64 of it above; buckets are monotonic.
	prev := -1
	for _, us := range []uint64{0, 1, 127, 128, 129, 200, 255, 256, 1000, 1500, 12345, 1 << 20, 1<<36 - 1} {
		b := bucketOf(us)
		if b < prev {
			t.Errorf("bucketOf(%d) = %d, below bucket %d of a smaller value", us, b, prev)
		}
		prev = b
		up := bucketUpperMicros(b)
		if up < us {
			t.Errorf("bucketUpperMicros(bucketOf(%d)) = %d, below the value", us, up)
		}
		if float64(up-us) > float64(us)/64+1 {
			t.Errorf("bucket of %d µs ends at %d µs: wider than 1/64", us, up)
		}
	}
	if got := bucketOf(1 << 40); got != histBuckets-1 {
		t.Errorf("bucketOf(2^40) = %d, want the last bucket %d", got, histBuckets-1)
	}
}

func TestHistogramQuantile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{name: "empty", values: nil, q: 0.5, want: 0},
		{name: "one value", values: []time.Duration{3 * time.Millisecond}, q: 0.99, want: 3 * time.Millisecond},
		{name: "median of small", values: []time.Duration{10 * time.Microsecond, 20 * time.Microsecond, 30 * time.Microsecond}, q: 0.5, want: 20 * time.Microsecond},
		{name: "q zero is the least", values: []time.Duration{50 * time.Microsecond, 90 * time.Microsecond}, q: 0, want: 50 * time.Microsecond},
		{name: "q one is the max", values: []time.Duration{50 * time.Microsecond, 1234567 * time.Microsecond}, q: 1, want: 1234567 * time.Microsecond},
		{name: "negative counts as zero", values: []time.Duration{-time.Second}, q: 0.5, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var h Histogram
			for _, v := range tc.values {
				h.Record(v)
			}
			if got := h.Quantile(tc.q); got != tc.want {
				t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

// TestHistogramMatchesSorted compares quantiles of random latencies with
// the exact ones from a sorted slice, and checks that merging per-second
// histograms gives the phase histogram.
func TestHistogramMatchesSorted(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var all, merged Histogram
	var exact []time.Duration
	for range 20 {
		var sec Histogram
		for range 500 {
			d := time.Duration(rng.ExpFloat64()*2e6) + 500*time.Microsecond
			exact = append(exact, d)
			all.Record(d)
			sec.Record(d)
		}
		merged.Merge(&sec)
	}
	slices.Sort(exact)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := exact[int(q*float64(len(exact)))-1]
		got := all.Quantile(q)
		if diff := float64(got-want) / float64(want); diff < -0.02 || diff > 0.02 {
			t.Errorf("Quantile(%v) = %v, exact %v: off by %.1f%%", q, got, want, diff*100)
		}
		if m := merged.Quantile(q); m != got {
			t.Errorf("merged Quantile(%v) = %v, want %v as recorded whole", q, m, got)
		}
	}
	if merged.Count() != uint64(len(exact)) {
		t.Errorf("merged Count() = %d, want %d", merged.Count(), len(exact))
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i%5000) * time.Microsecond)
	}
}
