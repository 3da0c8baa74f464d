package simulate

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/bigbox-dev/bigbox/internal/trace"
	"github.com/bigbox-dev/bigbox/pkg/predict"
)

// Mapping puts a trace onto the simulated node.
type Mapping struct {
	// Capacity is the node's capacity of the resource in base units (cores,
	// bytes). A cpu_util trace is a fraction of it.
	Capacity float64
	// PeakFraction is where the peak of a unit-less `value` trace is put, as a
	// share of Capacity (0.6: the trace's largest value becomes 60% of the
	// node). The peak is a property of the whole file, so this one number is
	// the only thing the replay takes from the future; it scales, it does not
	// decide.
	PeakFraction float64
	// Step resamples the trace to this interval when positive: each sample
	// is the maximum of the trace's samples in [t0 + k·Step, t0 + (k+1)·Step),
	// stamped at the start of that interval. The maximum, because a mean would
	// hide the peaks lending must survive. Intervals without samples are left
	// out, never filled in. Zero keeps the trace's own interval.
	Step time.Duration
}

// Trace is one usage series mapped onto the node, in base units.
type Trace struct {
	// Name is the file name without its extension.
	Name string
	// Column is the trace's value column.
	Column trace.Column
	// Step is the median interval between samples after resampling.
	Step time.Duration
	// Online is online usage per sample, in base units, times increasing.
	Online []predict.Sample
}

// ReadTrace parses a trace file (internal/trace) and maps it with m.
func ReadTrace(r io.Reader, name string, m Mapping) (Trace, error) {
	if !(m.Capacity > 0) || math.IsInf(m.Capacity, 0) {
		return Trace{}, fmt.Errorf("trace %s: capacity %v is not a positive number", name, m.Capacity)
	}
	s, err := trace.Parse(r)
	if err != nil {
		return Trace{}, fmt.Errorf("trace %s: %w", name, err)
	}
	scale := m.Capacity
	if s.Column == trace.ColumnValue {
		if !(m.PeakFraction > 0) || m.PeakFraction > 1 {
			return Trace{}, fmt.Errorf("trace %s: peak fraction %v not in (0, 1]", name, m.PeakFraction)
		}
		peak := s.Max()
		if peak <= 0 {
			return Trace{}, fmt.Errorf("trace %s: all values are 0, a peak fraction cannot scale it", name)
		}
		scale = m.PeakFraction * m.Capacity / peak
		if math.IsInf(scale, 0) {
			return Trace{}, fmt.Errorf("trace %s: peak %v too small to scale", name, peak)
		}
	}
	out := make([]predict.Sample, len(s.Samples))
	for i, x := range s.Samples {
		out[i] = predict.Sample{Time: x.Time, Value: x.Value * scale}
	}
	if m.Step > 0 {
		out = Resample(out, m.Step)
	}
	return Trace{Name: name, Column: s.Column, Step: medianStep(out), Online: out}, nil
}

// Resample returns the maximum of series per interval of length step,
// aligned on the first sample, stamped at each interval's start; empty
// intervals are left out. series must be sorted by time.
func Resample(series []predict.Sample, step time.Duration) []predict.Sample {
	if len(series) == 0 || step <= 0 {
		return series
	}
	t0 := series[0].Time
	var out []predict.Sample
	bucket := int64(-1)
	for _, s := range series {
		k := int64(s.Time.Sub(t0) / step)
		if k != bucket {
			out = append(out, predict.Sample{Time: t0.Add(time.Duration(k) * step), Value: s.Value})
			bucket = k
			continue
		}
		out[len(out)-1].Value = max(out[len(out)-1].Value, s.Value)
	}
	return out
}

// medianStep is the median interval between samples (zero for fewer than
// two).
func medianStep(series []predict.Sample) time.Duration {
	if len(series) < 2 {
		return 0
	}
	d := make([]time.Duration, len(series)-1)
	for i := range d {
		d[i] = series[i+1].Time.Sub(series[i].Time)
	}
	slices.Sort(d)
	return d[len(d)/2]
}
