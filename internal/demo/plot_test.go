package demo

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReport(t *testing.T) {
	t.Parallel()
	var samples []Sample
	for i := range 90 {
		s := Sample{Seconds: float64(i + 1), QuotaCores: -1, MemoryLimitBytes: -1, LoadRPS: float64(100 + i), Requests: 100, P50Millis: 1.5, P99Millis: 3, OnlineCores: 0.3, NodeCores: 0.4}
		switch {
		case i < 30:
			s.Phase = PhaseAlone
		case i < 60:
			s.Phase = PhaseBurners
			s.OfflineCores, s.OfflineMemoryBytes, s.NodeCores = 1.6, 1<<30, 2
		default:
			s.Phase = PhaseAgent
			s.OfflineCores, s.OfflineMemoryBytes, s.NodeCores = 0.8, 1<<30, 1.2
			s.QuotaCores, s.MemoryLimitBytes, s.CPUs = 0.8, 8<<30, []int{1}
			s.Agent, s.ReclaimableCores = i%7 != 0, 0.8 // a few unanswered seconds break the line
		}
		samples = append(samples, s)
	}
	path := filepath.Join(t.TempDir(), "report.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(f, samples, 2); err != nil {
		t.Fatalf("WriteReport() error = %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		t.Fatal("report.png is empty")
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode png: %v", err)
	}
	w, h := ReportPixels()
	if cfg.Width != w || cfg.Height != h {
		t.Errorf("report is %d×%d pixels, want %d×%d", cfg.Width, cfg.Height, w, h)
	}
}

func TestWriteReportNoSamples(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WriteReport(&buf, nil, 2); err == nil {
		t.Error("WriteReport(no samples) error = nil, want one")
	}
}

func TestPhaseBounds(t *testing.T) {
	t.Parallel()
	samples := []Sample{
		{Seconds: 1, Phase: PhaseAlone}, {Seconds: 2, Phase: PhaseAlone},
		{Seconds: 3, Phase: PhaseBurners}, {Seconds: 4, Phase: PhaseBurners},
		{Seconds: 5, Phase: PhaseAgent},
	}
	got := phaseBounds(samples)
	want := []phaseBound{{PhaseAlone, 0, 2}, {PhaseBurners, 2, 4}, {PhaseAgent, 4, 5}}
	if len(got) != len(want) {
		t.Fatalf("phaseBounds() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("bound %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
