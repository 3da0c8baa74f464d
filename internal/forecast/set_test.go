package forecast

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bigbox-dev/bigbox/internal/config"
	"github.com/bigbox-dev/bigbox/internal/trace"
)

const (
	cpuCores    = 16.0
	memoryBytes = 64 << 30
)

// newSet returns a configured set that has learnt three hours of load.
func newSet(t testing.TB, cpu, memory config.PredictorSpec) *Set {
	t.Helper()
	s, err := NewSet(cpu, memory)
	if err != nil {
		t.Fatal(err)
	}
	configure(t, s, cpu, memory)
	return s
}

func configure(t testing.TB, s *Set, cpu, memory config.PredictorSpec) {
	t.Helper()
	if _, err := s.CPU.Configure(cpu, cpuCores); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Memory.Configure(memory, memoryBytes); err != nil {
		t.Fatal(err)
	}
}

func learn(s *Set, from, to int) {
	for i := from; i < to; i++ {
		now := t0.Add(time.Duration(i) * time.Second)
		s.CPU.Observe(now, load(i))
		s.Memory.Observe(now, load(i)*(1<<30))
	}
}

func TestSaveLoad(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "forecast.json")
	cpu, memory := config.DefaultPredictorSpec(), spec("decaying-histogram", 0.99)
	a := newSet(t, cpu, memory)
	learn(a, 0, 3*3600)
	if err := a.Save(path); err != nil {
		t.Fatal(err)
	}
	// The agent restarts: a new set from the config, Load before the first
	// scan, Configure with the measured capacity at the first scan.
	b, err := NewSet(cpu, memory)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Load(path); err != nil {
		t.Fatal(err)
	}
	configure(t, b, cpu, memory)
	for i := 3 * 3600; i < 3*3600+600; i++ {
		now := t0.Add(time.Duration(i) * time.Second)
		for _, p := range []struct{ a, b *Forecaster }{{a.CPU, b.CPU}, {a.Memory, b.Memory}} {
			p.a.Observe(now, load(i))
			p.b.Observe(now, load(i))
			if pa, pb := p.a.Predict(now), p.b.Predict(now); pa != pb {
				t.Fatalf("second %d: loaded set predicts %v, saved one %v", i, pb, pa)
			}
		}
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil || len(entries) != 1 {
		t.Errorf("files beside the state: %v, %v", entries, err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	s := newSet(t, config.DefaultPredictorSpec(), config.DefaultPredictorSpec())
	if err := s.Load(filepath.Join(t.TempDir(), "none.json")); err != nil {
		t.Errorf("Load of a missing file: %v", err)
	}
}

// savedDocument returns a valid saved document of a set that learnt an hour.
func savedDocument(t testing.TB, cpu, memory config.PredictorSpec) []byte {
	t.Helper()
	s := newSet(t, cpu, memory)
	learn(s, 0, 3600)
	d, err := s.Document()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadRefuses(t *testing.T) {
	t.Parallel()
	def := config.DefaultPredictorSpec()
	valid := string(savedDocument(t, def, def))
	tests := []struct {
		name        string
		file        string
		cpu, memory config.PredictorSpec
		want        string
		// restored says which forecasters took the saved state anyway.
		cpuRestored, memoryRestored bool
	}{
		{name: "not JSON", file: "{not json", cpu: def, memory: def, want: "decode forecast state"},
		{name: "empty", file: "", cpu: def, memory: def, want: "decode forecast state"},
		{name: "truncated", file: valid[:len(valid)/2], cpu: def, memory: def, want: "decode forecast state"},
		{name: "other version", file: strings.Replace(valid, `"version":1`, `"version":2`, 1), cpu: def, memory: def,
			want: "version 2, want 1"},
		{name: "unknown field", file: strings.Replace(valid, `"version":1`, `"version":1,"extra":0`, 1), cpu: def, memory: def,
			want: `unknown field "extra"`},
		{name: "trailing data", file: valid + "{}", cpu: def, memory: def, want: "data after the document"},
		{name: "bad horizon", file: strings.Replace(valid, `"horizon":"1h0m0s"`, `"horizon":"soon"`, 1), cpu: def, memory: def,
			want: `cpu.spec: horizon "soon"`},
		{name: "state not an object", file: `{"version":1,"cpu":{"spec":{"name":"default","knob":0.05,"horizon":"1h"},"state":[]},` +
			`"memory":{"spec":{"name":"default","knob":0.05,"horizon":"1h"},"state":{}}}`, cpu: def, memory: def,
			want: "cpu.state: not a JSON object"},
		{name: "corrupt predictor state", file: strings.Replace(valid, `"slot_ns":`, `"slot_ns":1`, 1), cpu: def, memory: def,
			want: "seasonal state has", memoryRestored: true},
		{name: "cpu predictor changed", file: valid, cpu: spec("seasonal", 0.05), memory: def,
			want: "cpu: saved default over 1h0m0s, now seasonal over 1h0m0s", memoryRestored: true},
		{name: "memory horizon changed", file: valid, cpu: def, memory: config.PredictorSpec{Name: "default", Knob: 0.05, Horizon: 2 * time.Hour},
			want: "memory: saved default over 1h0m0s, now default over 2h0m0s", cpuRestored: true},
		{name: "knob changed is restored", file: valid, cpu: spec("default", 0.1), memory: spec("default", 0), cpuRestored: true, memoryRestored: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "forecast.json")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			s := newSet(t, tt.cpu, tt.memory)
			err := s.Load(path)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Load: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Load = %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(tt.name, "changed") && tt.want != "" && !errors.Is(err, ErrSpecChanged) {
				t.Errorf("error is not ErrSpecChanged: %v", err)
			}
			// A restored forecaster knows the hour it learnt; a fresh one
			// predicts its margin alone.
			now := t0.Add(3600 * time.Second)
			for _, r := range []struct {
				name     string
				f        *Forecaster
				restored bool
			}{{"cpu", s.CPU, tt.cpuRestored}, {"memory", s.Memory, tt.memoryRestored}} {
				fresh := r.f.Spec().Knob * r.f.Capacity()
				if got := r.f.Predict(now); (got > fresh) != r.restored {
					t.Errorf("%s forecast %v (margin %v): restored = %v, want %v", r.name, got, fresh, got > fresh, r.restored)
				}
			}
		})
	}
}

func TestLoadTooLarge(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "forecast.json")
	big := append([]byte(`{"version":1,"cpu":{"spec":{"name":"`), bytes.Repeat([]byte("x"), MaxDocumentBytes)...)
	if err := os.WriteFile(path, big, 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSet(t, config.DefaultPredictorSpec(), config.DefaultPredictorSpec())
	if err := s.Load(path); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load = %v, want too large", err)
	}
}

func TestSaveUnwritable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A directory where the file should be: the rename fails.
	path := filepath.Join(dir, "forecast.json")
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := newSet(t, config.DefaultPredictorSpec(), config.DefaultPredictorSpec())
	if err := s.Save(path); err == nil || !strings.Contains(err.Error(), "save forecast state") {
		t.Errorf("Save = %v, want an error", err)
	}
}

// TestTrace feeds each real trace of testdata/traces through the default
// forecaster one sample per second (the agent's cadence; the traces'
// minutes and five-minute steps are compressed to seconds), saves and
// restores in the middle with a gap, and checks that the forecast stays at
// or above the last sample, within reach of the trace's peak, and that the
// state stays small.
func TestTrace(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob("../../testdata/traces/*.csv")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no traces: %v", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			file, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			series, err := trace.Parse(file)
			if cerr := file.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
			// Online cores of a 16-core node: the peak at 60% of capacity.
			scale := 0.6 * cpuCores / series.Max()
			s := newSet(t, config.DefaultPredictorSpec(), config.DefaultPredictorSpec())
			margin := predictMargin(s.CPU)
			var peak float64
			half := len(series.Samples) / 2
			const gap = 10 * time.Minute
			statePath := filepath.Join(t.TempDir(), "forecast.json")
			var largest int
			for i, x := range series.Samples {
				now := t0.Add(time.Duration(i) * time.Second)
				if i >= half {
					now = now.Add(gap)
				}
				if i == half { // the agent restarts
					if err := s.Save(statePath); err != nil {
						t.Fatal(err)
					}
					s = newSet(t, config.DefaultPredictorSpec(), config.DefaultPredictorSpec())
					if err := s.Load(statePath); err != nil {
						t.Fatal(err)
					}
				}
				v := x.Value * scale
				peak = max(peak, v)
				if s.CPU.Observe(now, v) {
					t.Fatalf("sample %d: state dropped", i)
				}
				p := s.CPU.Predict(now)
				if p < v+margin-1e-9 {
					t.Fatalf("sample %d: forecast %v below the sample %v plus the margin %v", i, p, v, margin)
				}
				// The burst guard's widening is at most one miss, itself at
				// most the peak: the forecast stays below twice the peak and
				// margins.
				if p > 2*(peak+margin)+1e-9 {
					t.Fatalf("sample %d: forecast %v far above the peak so far %v", i, p, peak)
				}
				if i%1000 == 0 {
					b, err := s.CPU.MarshalState()
					if err != nil {
						t.Fatal(err)
					}
					largest = max(largest, len(b))
				}
			}
			if largest > MaxDocumentBytes/8 {
				t.Errorf("state grew to %d bytes", largest)
			}
			t.Logf("%d samples, peak %.2f cores, largest state %d bytes", len(series.Samples), peak, largest)
		})
	}
}

func predictMargin(f *Forecaster) float64 { return f.Spec().Knob * f.Capacity() }

func TestRun(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "forecast.json")
	s := newSet(t, config.DefaultPredictorSpec(), config.DefaultPredictorSpec())
	clk := clocktesting.NewFakeClock(t0)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, path, time.Minute, clk, slog.New(slog.DiscardHandler)) }()
	saved := func() []byte {
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for !clk.HasWaiters() {
		runtime.Gosched()
	}
	if saved() != nil {
		t.Fatal("saved before the first interval")
	}
	learn(s, 0, 600)
	clk.Step(time.Minute)
	for saved() == nil { // the save runs in Run's goroutine
		runtime.Gosched()
	}
	first := saved()
	learn(s, 600, 1200)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	last := saved()
	if bytes.Equal(first, last) {
		t.Error("no save on stop")
	}
	loaded := newSet(t, config.DefaultPredictorSpec(), config.DefaultPredictorSpec())
	if err := loaded.Load(path); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(1200 * time.Second)
	if a, b := s.CPU.Predict(now), loaded.CPU.Predict(now); a != b {
		t.Errorf("the state saved on stop predicts %v, the set %v", b, a)
	}
	if err := s.Run(t.Context(), path, 0, clk, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("Run with a zero interval: want an error")
	}
}
