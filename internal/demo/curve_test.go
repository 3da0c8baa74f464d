package demo

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/internal/trace"
	"github.com/bigbox-dev/bigbox/pkg/predict"
)

// traceOf builds a trace of vals, one sample every step from t0.
func traceOf(t0 time.Time, step time.Duration, vals ...float64) trace.Series {
	s := trace.Series{Column: trace.ColumnValue}
	for i, v := range vals {
		s.Samples = append(s.Samples, predict.Sample{Time: t0.Add(time.Duration(i) * step), Value: v})
	}
	return s
}

func TestDayCurve(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1628640000, 0).UTC()
	// Two days of 6-hour samples: day 0 rises to 8, day 1 to 20.
	twoDays := traceOf(t0, 6*time.Hour, 2, 4, 8, 4, 5, 10, 20, 10)
	tests := []struct {
		name    string
		s       trace.Series
		day     int
		smooth  int
		want    []float64
		wantErr string
	}{
		{name: "first day", s: twoDays, day: 0, smooth: 1, want: []float64{0.25, 0.5, 1, 0.5}},
		{name: "second day", s: twoDays, day: 1, smooth: 1, want: []float64{0.25, 0.5, 1, 0.5}},
		{name: "smoothed", s: twoDays, day: 0, smooth: 3, want: []float64{3.0 / 6, 14.0 / 3 / 6, 16.0 / 3 / 6, 1}},
		{name: "shorter than a day is used whole", s: traceOf(t0, time.Hour, 1, 2), day: 0, smooth: 1, want: []float64{0.5, 1}},
		{name: "day past the end", s: twoDays, day: 2, smooth: 1, wantErr: "has 0 samples"},
		{name: "negative day", s: twoDays, day: -1, smooth: 1, wantErr: "negative"},
		{name: "all zero", s: traceOf(t0, time.Hour, 0, 0), day: 0, smooth: 1, wantErr: "peaks at 0"},
		{name: "empty", s: trace.Series{}, day: 0, smooth: 1, wantErr: "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := DayCurve(tc.s, tc.day, tc.smooth)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("DayCurve() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("DayCurve() error = %v", err)
			}
			if len(c.Points) != len(tc.want) {
				t.Fatalf("DayCurve() = %v, want %v", c.Points, tc.want)
			}
			for i := range tc.want {
				if math.Abs(c.Points[i]-tc.want[i]) > 1e-9 {
					t.Errorf("point %d = %v, want %v", i, c.Points[i], tc.want[i])
				}
			}
		})
	}
}

func TestCurveRate(t *testing.T) {
	t.Parallel()
	c := Curve{Points: []float64{0, 1, 0.5}}
	rate := c.Rate(400, 40*time.Second)
	tests := []struct {
		name    string
		elapsed time.Duration
		want    float64
	}{
		{name: "start", elapsed: 0, want: 0},
		{name: "quarter interpolates", elapsed: 10 * time.Second, want: 200},
		{name: "middle is the peak", elapsed: 20 * time.Second, want: 400},
		{name: "end", elapsed: 40 * time.Second, want: 200},
		{name: "past the end clamps", elapsed: time.Minute, want: 200},
		{name: "before the start clamps", elapsed: -time.Second, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := rate(tc.elapsed); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("rate(%v) = %v, want %v", tc.elapsed, got, tc.want)
			}
		})
	}
}

// TestDayCurveRealTrace checks the default curve of the demo: one day of
// crane-input0 at one sample a minute, normalised to a peak of 1 with a
// real daily swing.
func TestDayCurveRealTrace(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../../testdata/traces/crane-input0.csv")
	if err != nil {
		t.Fatalf("open trace: %v", err)
	}
	defer f.Close()
	s, err := trace.Parse(f)
	if err != nil {
		t.Fatalf("parse trace: %v", err)
	}
	c, err := DayCurve(s, 0, 15)
	if err != nil {
		t.Fatalf("DayCurve() error = %v", err)
	}
	if len(c.Points) != 1440 {
		t.Errorf("one day has %d points, want 1440", len(c.Points))
	}
	lo, hi := math.Inf(1), 0.0
	for _, p := range c.Points {
		lo, hi = min(lo, p), max(hi, p)
	}
	if hi != 1 {
		t.Errorf("peak = %v, want 1", hi)
	}
	if lo > 0.6 {
		t.Errorf("trough = %v, want a daily swing below 0.6 of the peak", lo)
	}
}

// FuzzDayCurve feeds trace text through trace.Parse into DayCurve and
// checks the curve's invariants: no panic, points within 0–1 with a peak of
// exactly 1, and At within 0–1 anywhere.
func FuzzDayCurve(f *testing.F) {
	f.Add("timestamp_s,value\n0,1\n60,3\n120,2\n", 0, 1, 0.5)
	f.Add("timestamp_s,value\n0,1\n86400,2\n86460,4\n", 1, 3, 0.99)
	f.Add("timestamp_s,cpu_util\n0,0\n300,0\n", 0, 1, 0.0)
	f.Add("timestamp_s,value\n0,1e308\n60,1e308\n", 0, 2, 1.5)
	f.Fuzz(func(t *testing.T, text string, dayIndex, smooth int, frac float64) {
		s, err := trace.Parse(strings.NewReader(text))
		if err != nil {
			return
		}
		c, err := DayCurve(s, dayIndex%4, smooth%100)
		if err != nil {
			return
		}
		peak := 0.0
		for i, p := range c.Points {
			if math.IsNaN(p) || p < 0 || p > 1 {
				t.Fatalf("point %d = %v, want within 0–1", i, p)
			}
			peak = max(peak, p)
		}
		if peak != 1 {
			t.Errorf("peak = %v, want 1", peak)
		}
		if v := c.At(frac); !math.IsNaN(frac) && (math.IsNaN(v) || v < 0 || v > 1) {
			t.Errorf("At(%v) = %v, want within 0–1", frac, v)
		}
	})
}
