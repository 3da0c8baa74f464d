package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// shortTraces returns two real traces cut to n samples and a random one.
func shortTraces(t *testing.T, n int) []Trace {
	t.Helper()
	var out []Trace
	for _, tr := range loadTestTraces(t)[:2] {
		tr.Online = tr.Online[:min(n, len(tr.Online))]
		out = append(out, tr)
	}
	return append(out, Trace{Name: "random", Column: "cpu_util", Step: time.Minute, Online: randomSeries(7, n)})
}

func summaryJSON(t *testing.T, s Summary) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := s.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestRunDeterministic: the same input gives the same summary, byte for
// byte, whatever the number of workers.
func TestRunDeterministic(t *testing.T) {
	t.Parallel()
	traces := shortTraces(t, 1500)
	for _, res := range []qos.Resource{qos.CPU, qos.Memory} {
		t.Run(string(res), func(t *testing.T) {
			t.Parallel()
			opts := Options{
				Node:       Node{Resource: res, Policy: qos.DefaultPolicy(), Capacity: 1, Horizon: time.Hour},
				Traces:     traces,
				Predictors: []string{"default", "static", Oracle},
				Tracked:    []string{"default"},
			}
			var first []byte
			for _, workers := range []int{1, 3, 3} {
				opts.Workers = workers
				r, err := Run(context.Background(), opts)
				if err != nil {
					t.Fatal(err)
				}
				got := summaryJSON(t, r.Summary)
				if first == nil {
					first = got
					continue
				}
				if !bytes.Equal(got, first) {
					t.Fatalf("summary with %d workers differs from the first run", workers)
				}
			}
		})
	}
}

// TestSummaryJSON checks the shape and the known numbers of summary.json on
// the hand-made series of TestReplayHandMade.
func TestSummaryJSON(t *testing.T) {
	t.Parallel()
	tr := Trace{Name: "hand", Column: "cpu_util", Step: time.Minute, Online: minuteSeries(0.1, 0.1, 0.3, 0.1, 0.1, 0.1)}
	for _, res := range []qos.Resource{qos.CPU, qos.Memory} {
		t.Run(string(res), func(t *testing.T) {
			t.Parallel()
			r, err := Run(context.Background(), Options{
				Node:       Node{Resource: res, Policy: plainPolicy(50), Capacity: 1, Horizon: 2 * time.Minute},
				Traces:     []Trace{tr},
				Predictors: []string{"static", Oracle},
				Knobs:      map[string]float64{"static": 0},
			})
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Resource       string  `json:"resource"`
				HorizonSeconds float64 `json:"horizon_seconds"`
				Traces         []struct {
					Trace      string `json:"trace"`
					Samples    int    `json:"samples"`
					Predictors []map[string]json.RawMessage
				} `json:"traces"`
				Mean                  []map[string]json.RawMessage `json:"mean"`
				DefaultVsStaticAt1Pct *float64                     `json:"default_vs_static_at_1pct"`
			}
			raw := summaryJSON(t, r.Summary)
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Resource != string(res) || doc.HorizonSeconds != 120 || len(doc.Traces) != 1 || doc.Traces[0].Samples != 6 || doc.DefaultVsStaticAt1Pct == nil {
				t.Fatalf("summary header = %s", raw[:min(len(raw), 400)])
			}
			preds := doc.Traces[0].Predictors
			if len(preds) != 2 || len(doc.Mean) != 2 {
				t.Fatalf("%d predictors, %d mean rows, want 2 and 2", len(preds), len(doc.Mean))
			}
			keys := []string{"predictor", "knob", "steps", "reclaimed_fraction", "violation_rate", "curve",
				"reclaimed_at_1pct", "reclaimed_at_5pct", "slack_vs_oracle"}
			for _, p := range preds {
				for _, k := range keys {
					if _, ok := p[k]; !ok {
						t.Errorf("predictor %s lacks %q", p["predictor"], k)
					}
				}
				if _, ok := p["evictions"]; ok != (res == qos.Memory) {
					t.Errorf("predictor %s: evictions present = %v, want %v", p["predictor"], ok, res == qos.Memory)
				}
			}
			var static PredictorResult
			if err := json.Unmarshal(mustJSON(t, preds[0]), &static); err != nil {
				t.Fatal(err)
			}
			if static.Predictor != "static" || static.Knob != 0 || static.Steps != 4 || len(static.Curve) != len(KnobGrid("static", 1)) {
				t.Fatalf("static = %+v", static)
			}
			if res == qos.CPU && (!near(static.ReclaimedFraction, 0.35) || !near(static.ViolationRate, 0.5)) {
				t.Errorf("static reclaimed %v violations %v, want 0.35 and 0.5", static.ReclaimedFraction, static.ViolationRate)
			}
			// Both 1% and 5% lie below static's least violation rate on this
			// series, so they are read on the segment from (0, 0).
			if static.SlackVsOracle == nil || static.SlackVsOracle.At1Pct < 0 || static.SlackVsOracle.At1Pct > 1 {
				t.Errorf("static slack = %+v, want within [0, 1]", static.SlackVsOracle)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRunErrors: bad options fail before any replay.
func TestRunErrors(t *testing.T) {
	t.Parallel()
	good := Options{
		Node:       Node{Resource: qos.CPU, Policy: qos.DefaultPolicy(), Capacity: 1, Horizon: time.Hour},
		Traces:     []Trace{{Name: "x", Online: minuteSeries(0.1, 0.2)}},
		Predictors: []string{"static"},
	}
	tests := []struct {
		name    string
		mod     func(*Options)
		wantErr string
	}{
		{"resource", func(o *Options) { o.Node.Resource = "disk" }, "resource"},
		{"capacity", func(o *Options) { o.Node.Capacity = -1 }, "capacity"},
		{"horizon", func(o *Options) { o.Node.Horizon = 0 }, "horizon"},
		{"system", func(o *Options) { o.Node.System = -1 }, "system"},
		{"policy", func(o *Options) { o.Node.Policy.CPU.ReclaimWatermarkPercent = 120 }, "reclaimWatermarkPercent"},
		{"no traces", func(o *Options) { o.Traces = nil }, "no traces"},
		{"no predictors", func(o *Options) { o.Predictors = nil }, "no predictors"},
		{"unknown predictor", func(o *Options) { o.Predictors = []string{"magic"} }, "unknown predictor"},
		{"bad percentile", func(o *Options) {
			o.Predictors = []string{"decaying-histogram"}
			o.Knobs = map[string]float64{"decaying-histogram": 2}
		}, "percentile"},
		{"negative oracle margin", func(o *Options) {
			o.Predictors = []string{Oracle}
			o.Knobs = map[string]float64{Oracle: -1}
		}, "knob"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := good
			tc.mod(&o)
			if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Run() error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, good); !errors.Is(err, context.Canceled) {
		t.Errorf("Run(canceled) error = %v, want context.Canceled", err)
	}
}

// writeTraceFile writes a small cpu_util trace (two days, a sample every 5
// minutes) into dir.
func writeTraceFile(t *testing.T, dir, name string, seed uint64) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("timestamp_s,cpu_util\n")
	for _, s := range randomSeries(seed, 2*24*60) {
		if s.Time.Minute()%5 == 0 {
			fmt.Fprintf(&b, "%d,%.4f\n", s.Time.Unix(), s.Value)
		}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCommand runs the command end to end: it writes summary.json and a
// PNG, prints the table and the throughput, and draws the bar on request.
func TestCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writeTraceFile(t, dir, "a.csv", 1)
	b := writeTraceFile(t, dir, "b.csv", 2)
	manifest := filepath.Join(dir, "manifest.csv")
	if err := os.WriteFile(manifest, []byte("file,source\na.csv,test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	env := Env{Stdout: &stdout, Stderr: &stderr, Clock: clocktesting.NewFakePassiveClock(t0)}
	args := []string{"--out", out, "--predictor", "default,static,oracle", "--knob", "0.1", "--knob", "oracle=0.02", "--progress", "--trace", a, b, manifest}
	if err := Command(context.Background(), args, env); err != nil {
		t.Fatalf("Command() error = %v; stderr %s", err, stderr.String())
	}
	var sum Summary
	data, err := os.ReadFile(filepath.Join(out, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Traces) != 2 || sum.Traces[0].Trace != "a" || sum.Traces[1].Trace != "b" {
		t.Fatalf("traces = %+v", sum.Traces)
	}
	knobs := map[string]float64{}
	for _, p := range sum.Traces[0].Predictors {
		knobs[p.Predictor] = p.Knob
	}
	if knobs["default"] != 0.1 || knobs["static"] != 0.1 || knobs[Oracle] != 0.02 {
		t.Errorf("knobs = %v, want default and static 0.1, oracle 0.02", knobs)
	}
	f, err := os.Open(filepath.Join(out, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("report.png: %v", err)
	}
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != reportWidthInches*reportDPI || h != int(2*panelHeightInches*reportDPI) {
		t.Errorf("report is %d×%d px", w, h)
	}
	if !strings.Contains(stdout.String(), "default/static reclaimed at 1% violations") {
		t.Errorf("stdout lacks the ratio:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "skipped "+manifest+": not a trace") {
		t.Errorf("stderr does not name the skipped manifest:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "100%") || !strings.Contains(stderr.String(), "steps/s") {
		t.Errorf("stderr lacks the bar or the throughput:\n%s", stderr.String())
	}
}

func TestCommandErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writeTraceFile(t, dir, "a.csv", 1)
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("cpu: {reclaimWatermarkPercent: 120}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no trace", []string{"--out", out}, "no trace"},
		{"no out", []string{a}, "--out"},
		{"unknown flag", []string{"--nope", a}, "flag provided but not defined"},
		{"unknown predictor", []string{"--out", out, "--predictor", "magic", a}, "unknown predictor"},
		{"bad knob", []string{"--out", out, "--knob", "static=x", a}, "--knob"},
		{"knob of unknown predictor", []string{"--out", out, "--knob", "magic=1", a}, "unknown predictor"},
		{"plot not run", []string{"--out", out, "--predictor", "static", "--plot", "default", a}, "not run"},
		{"resource", []string{"--out", out, "--resource", "disk", a}, "resource"},
		{"missing file", []string{"--out", out, filepath.Join(dir, "none.csv")}, "open trace"},
		{"only non-traces", []string{"--out", out, bad}, "none of the files is a trace"},
		{"invalid config", []string{"--out", out, "--config", bad, a}, "reclaimWatermarkPercent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			env := Env{Stdout: &bytes.Buffer{}, Stderr: &stderr, Clock: clocktesting.NewFakePassiveClock(t0)}
			err := Command(context.Background(), tc.args, env)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Command(%q) error = %v, want one containing %q", tc.args, err, tc.wantErr)
			}
		})
	}
	var stderr bytes.Buffer
	err := Command(context.Background(), []string{"-h"}, Env{Stdout: &bytes.Buffer{}, Stderr: &stderr, Clock: clocktesting.NewFakePassiveClock(t0)})
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "usage: bigboxctl simulate") {
		t.Errorf("-h: error %v, output %q", err, stderr.String())
	}
}

// TestQuality is the quality bar on the repository's traces: with
// the policy the agent ships (qos.DefaultPolicy, hysteresis included),
// "default" reclaims at least 1.2× what "static" reclaims at 1% violations,
// averaged over the traces; and the oracle reclaims at least as much as
// every predictor at 1% and 5% on every trace. Per-trace numbers are logged
// as they are.
func TestQuality(t *testing.T) {
	if testing.Short() {
		t.Skip("replays every predictor across its knob grid on every trace (about a minute); skipped with -short")
	}
	t.Parallel()
	r, err := Run(context.Background(), Options{
		Node:       Node{Resource: qos.CPU, Policy: qos.DefaultPolicy(), Capacity: 1, Horizon: time.Hour},
		Traces:     loadTestTraces(t),
		Predictors: PredictorNames(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.Summary.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + b.String())
	if got := r.Summary.DefaultVsStaticAt1Pct; got < 1.2 {
		t.Errorf("default reclaims %.3f× static at 1%% violations, want ≥ 1.2×", got)
	}
	for _, tr := range r.Summary.Traces {
		var oracle PredictorResult
		for _, p := range tr.Predictors {
			if p.Predictor == Oracle {
				oracle = p
			}
		}
		for _, p := range tr.Predictors {
			if p.ReclaimedAt1Pct > oracle.ReclaimedAt1Pct+1e-9 || p.ReclaimedAt5Pct > oracle.ReclaimedAt5Pct+1e-9 {
				t.Errorf("%s: %s reclaims %.4f/%.4f at 1%%/5%%, more than the oracle's %.4f/%.4f",
					tr.Trace, p.Predictor, p.ReclaimedAt1Pct, p.ReclaimedAt5Pct, oracle.ReclaimedAt1Pct, oracle.ReclaimedAt5Pct)
			}
		}
	}
}
