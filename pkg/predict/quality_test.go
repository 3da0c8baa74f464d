package predict_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/internal/trace"
	"github.com/bigbox-dev/bigbox/pkg/predict"
)

// tracesDir holds the shared real traces, relative to this package.
const tracesDir = "../../testdata/traces"

// Evaluation setting of the issue: a lent resource stays lent for an hour,
// online + lent may reach 65% of capacity.
const (
	evalHorizon   = time.Hour
	evalWatermark = 0.65
	// valuePeak is where a unit-less trace's peak is put, as a share of capacity.
	valuePeak = 0.6
)

// loadTraces reads every trace in testdata/traces, scaled to capacity 1:
// cpu_util traces are fractions already, unit-less traces are scaled so that
// their peak is valuePeak.
func loadTraces(tb testing.TB) map[string][]predict.Sample {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(tracesDir, "*.csv"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no traces in %s: %v", tracesDir, err)
	}
	out := make(map[string][]predict.Sample)
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			tb.Fatal(err)
		}
		s, err := trace.Parse(f)
		f.Close()
		if err != nil {
			tb.Fatalf("parse %s: %v", file, err)
		}
		if s.Column == trace.ColumnValue {
			scale := valuePeak / s.Max()
			for i := range s.Samples {
				s.Samples[i].Value *= scale
			}
		}
		out[strings.TrimSuffix(filepath.Base(file), ".csv")] = s.Samples
	}
	return out
}

// knobGrid returns the safety-knob values swept for a predictor.
func knobGrid(name string) []float64 {
	switch name {
	case "decaying-histogram":
		return []float64{0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.985, 0.99, 0.993, 0.995, 0.997, 0.999, 1}
	default: // margins, as a share of capacity 1
		var g []float64
		for m := 0.0; m < 0.1; m += 0.0025 {
			g = append(g, m)
		}
		for m := 0.1; m <= 0.66; m += 0.02 {
			g = append(g, m)
		}
		return g
	}
}

// TestQuality evaluates every predictor on every trace and checks the
// quality bar of the issue: averaged over the traces, default reclaims at
// least 1.2× what static reclaims at 1% violations.
func TestQuality(t *testing.T) {
	if testing.Short() {
		t.Skip("sweeps every predictor over every trace; skipped with -short")
	}
	traces := loadTraces(t)
	names := append(predict.Names(), "oracle")
	type cell struct{ at1, at5 float64 }
	table := make(map[string]map[string]cell)
	var traceNames []string
	for tn := range traces {
		traceNames = append(traceNames, tn)
	}
	slices.Sort(traceNames)
	for _, tn := range traceNames {
		series := traces[tn]
		table[tn] = make(map[string]cell)
		for _, name := range names {
			var c predict.Curve
			if name == "oracle" {
				c = predict.Sweep(func(float64) predict.Predictor { return predict.NewOracle(series, evalHorizon) },
					[]float64{0}, series, 1, evalWatermark, evalHorizon)
			} else {
				c = predict.Sweep(func(k float64) predict.Predictor {
					p, err := predict.New(name, k, evalHorizon)
					if err != nil {
						t.Fatal(err)
					}
					return p
				}, knobGrid(name), series, 1, evalWatermark, evalHorizon)
			}
			table[tn][name] = cell{c.ReclaimedAt(0.01), c.ReclaimedAt(0.05)}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nreclaimed fraction at 1%% / 5%% violations (horizon %v, watermark %.0f%%)\n%-36s", evalHorizon, evalWatermark*100, "trace")
	for _, n := range names {
		fmt.Fprintf(&b, " %19s", n)
	}
	mean := make(map[string]cell)
	for _, tn := range traceNames {
		fmt.Fprintf(&b, "\n%-36s", tn)
		for _, n := range names {
			c := table[tn][n]
			fmt.Fprintf(&b, "      %6.4f/%6.4f", c.at1, c.at5)
			m := mean[n]
			m.at1 += c.at1 / float64(len(traceNames))
			m.at5 += c.at5 / float64(len(traceNames))
			mean[n] = m
		}
	}
	fmt.Fprintf(&b, "\n%-36s", "mean")
	for _, n := range names {
		fmt.Fprintf(&b, "      %6.4f/%6.4f", mean[n].at1, mean[n].at5)
	}
	t.Log(b.String())
	ratio := mean["default"].at1 / mean["static"].at1
	t.Logf("default/static at 1%% violations: %.3f (bar 1.2)", ratio)
	if ratio < 1.2 {
		t.Errorf("default reclaims %.3f× static at 1%% violations, want ≥ 1.2×", ratio)
	}
}
