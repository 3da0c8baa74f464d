package config

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clocktesting "k8s.io/utils/clock/testing"
)

const (
	goodV1 = "cpu: {reclaimWatermarkPercent: 60}\n"
	goodV2 = "cpu: {reclaimWatermarkPercent: 70}\n"
	goodV3 = "cpu: {reclaimWatermarkPercent: 80}\n"
	badDoc = "cpu: {reclaimWatermarkPercent: 120}\n"
)

// startWatcher makes a watcher of path, runs it until the test ends, and
// returns once it watches the directory.
func startWatcher(t *testing.T, path string, opts ...WatcherOption) (*Watcher, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	w, err := NewWatcher(path, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})), reg, opts...)
	if err != nil {
		t.Fatalf("NewWatcher: %v", err)
	}
	watching := make(chan struct{})
	w.hookWatching = func() { close(watching) }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-watching:
	case err := <-done:
		t.Fatalf("Run returned before watching: %v", err)
	}
	return w, reg
}

// waitFor waits on Changes until cond holds, failing the test after a
// deadline.
func waitFor(t *testing.T, w *Watcher, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-w.Changes():
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s (version %s, last error %v)", what, w.Version(), w.LastError())
		}
	}
}

func waitVersion(t *testing.T, w *Watcher, doc string) {
	t.Helper()
	want := Version([]byte(doc))
	waitFor(t, w, "version "+want, func() bool { return w.Version() == want })
}

func writeFile(t *testing.T, path, doc string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
}

// replaceFile writes doc next to path and renames it over path, as editors
// and configuration tools do.
func replaceFile(t *testing.T, path, doc string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".nodeslo.yaml.swp")
	writeFile(t, tmp, doc)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestWatcherRewrite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nodeslo.yaml")
	writeFile(t, path, goodV1)
	w, _ := startWatcher(t, path, WithDebounce(0))
	if got := w.Version(); got != Version([]byte(goodV1)) {
		t.Fatalf("initial version %s", got)
	}
	// In place: truncate and write. A reload may see the truncated (empty,
	// hence default) file first; the last one sees the new content.
	writeFile(t, path, goodV2)
	waitVersion(t, w, goodV2)
	if got := *w.Current().CPU.ReclaimWatermarkPercent; got != 70 {
		t.Errorf("reclaim = %v, want 70", got)
	}
	// A file in the same directory under another name is not the config.
	writeFile(t, filepath.Join(filepath.Dir(path), "other.yaml"), badDoc)
	writeFile(t, path, goodV3)
	waitVersion(t, w, goodV3)
	if err := w.LastError(); err != nil {
		t.Errorf("LastError = %v", err)
	}
}

func TestWatcherRenameReplace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nodeslo.yaml")
	writeFile(t, path, goodV1)
	w, _ := startWatcher(t, path, WithDebounce(0))
	replaceFile(t, path, goodV2)
	waitVersion(t, w, goodV2)
	replaceFile(t, path, goodV3)
	waitVersion(t, w, goodV3)
}

// TestWatcherConfigMap replays what the kubelet does to a ConfigMap volume:
// the key is a symlink through ..data, and an update writes a new timestamped
// directory, points ..data_tmp at it and renames ..data_tmp over ..data.
func TestWatcherConfigMap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	publish := func(stamp, doc string) {
		t.Helper()
		if err := os.Mkdir(filepath.Join(dir, stamp), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, stamp, "nodeslo.yaml"), doc)
		if err := os.Symlink(stamp, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	publish("..2026_11_25_01_00_00.000000001", goodV1)
	if err := os.Symlink(filepath.Join("..data", "nodeslo.yaml"), filepath.Join(dir, "nodeslo.yaml")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "nodeslo.yaml")
	w, _ := startWatcher(t, path, WithDebounce(0))
	if got := w.Version(); got != Version([]byte(goodV1)) {
		t.Fatalf("initial version %s", got)
	}

	publish("..2026_11_25_02_00_00.000000002", goodV2)
	// The kubelet removes the old directory after the swap.
	if err := os.RemoveAll(filepath.Join(dir, "..2026_11_25_01_00_00.000000001")); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, w, goodV2)

	publish("..2026_11_25_03_00_00.000000003", badDoc)
	waitFor(t, w, "the bad version to be rejected", func() bool { return w.LastError() != nil })
	if got := w.Version(); got != Version([]byte(goodV2)) {
		t.Errorf("version after a bad update = %s, want the last good one", got)
	}
}

func TestWatcherRejectsBadKeepsGood(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nodeslo.yaml")
	writeFile(t, path, goodV1)
	w, reg := startWatcher(t, path, WithDebounce(0))
	v1 := Version([]byte(goodV1))

	replaceFile(t, path, badDoc)
	waitFor(t, w, "the bad version to be rejected", func() bool { return w.LastError() != nil })
	if err := w.LastError(); !strings.Contains(err.Error(), "cpu.reclaimWatermarkPercent: 120 is not within 0–100") {
		t.Errorf("LastError = %v", err)
	}
	if got := testutil.ToFloat64(w.metrics.errorsTotal); got != 1 {
		t.Errorf("bigbox_config_errors_total = %v, want 1", got)
	}
	if got := w.Version(); got != v1 {
		t.Errorf("version = %s, want the last good %s", got, v1)
	}
	if got := *w.Current().CPU.ReclaimWatermarkPercent; got != 60 {
		t.Errorf("reclaim in force = %v, want 60", got)
	}
	want := `
# HELP bigbox_config_errors_total NodeSLO versions rejected (unreadable or invalid); the last good version stays in force.
# TYPE bigbox_config_errors_total counter
bigbox_config_errors_total 1
# HELP bigbox_config_version_info Content hash of the NodeSLO in force (always 1).
# TYPE bigbox_config_version_info gauge
bigbox_config_version_info{version="` + v1 + `"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}

	replaceFile(t, path, goodV2)
	waitVersion(t, w, goodV2)
	if err := w.LastError(); err != nil {
		t.Errorf("LastError after a good version = %v", err)
	}
	want = strings.ReplaceAll(want, v1, Version([]byte(goodV2)))
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestWatcherMissingFileIsAnError(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nodeslo.yaml")
	writeFile(t, path, goodV1)
	w, _ := startWatcher(t, path, WithDebounce(0))
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, w, "the removal to be reported", func() bool { return w.LastError() != nil })
	if err := w.LastError(); !strings.Contains(err.Error(), "no such file") {
		t.Errorf("LastError = %v", err)
	}
	if got := w.Version(); got != Version([]byte(goodV1)) {
		t.Errorf("version = %s, want the last good one", got)
	}
	// Putting the same document back clears the error without a new version.
	replaceFile(t, path, goodV1)
	waitFor(t, w, "the error to clear", func() bool { return w.LastError() == nil })
	if got := testutil.ToFloat64(w.metrics.errorsTotal); got != 1 {
		t.Errorf("bigbox_config_errors_total = %v, want 1", got)
	}
}

func TestWatcherDebounce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nodeslo.yaml")
	writeFile(t, path, goodV1)
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC))
	reg := prometheus.NewRegistry()
	w, err := NewWatcher(path, slog.New(slog.NewTextHandler(t.Output(), nil)), reg, WithClock(clk), WithDebounce(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	watching := make(chan struct{})
	armed := make(chan struct{}, 16)
	w.hookWatching = func() { close(watching) }
	w.hookArmed = func() { armed <- struct{}{} }
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	<-watching

	replaceFile(t, path, goodV2)
	select {
	case <-armed:
	case <-ctx.Done():
		t.Fatal("no debounce timer started")
	}
	// Only the timer reloads, so nothing has changed yet.
	if got := w.Version(); got != Version([]byte(goodV1)) {
		t.Fatalf("reloaded before the debounce: version %s", got)
	}
	clk.Step(time.Second)
	waitVersion(t, w, goodV2)

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestNewWatcherErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(t.Output(), nil))
	tests := []struct {
		name, doc, want string
	}{
		{"missing", "", "no such file"},
		{"invalid", badDoc, "cpu.reclaimWatermarkPercent: 120"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, tt.name+".yaml")
			if tt.doc != "" {
				writeFile(t, path, tt.doc)
			}
			_, err := NewWatcher(path, logger, nil)
			if err == nil {
				t.Fatal("NewWatcher succeeded")
			}
			for _, want := range []string{"must exist and be valid at start", tt.want} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
	t.Run("registered twice", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(dir, "twice.yaml")
		writeFile(t, path, goodV1)
		reg := prometheus.NewRegistry()
		if _, err := NewWatcher(path, logger, reg); err != nil {
			t.Fatal(err)
		}
		if _, err := NewWatcher(path, logger, reg); err == nil || !strings.Contains(err.Error(), "register config metrics") {
			t.Errorf("second NewWatcher on one registry: %v", err)
		}
	})
}
