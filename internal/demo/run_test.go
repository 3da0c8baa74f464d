package demo

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/internal/config"
	"github.com/bigbox-dev/bigbox/internal/host"
	"github.com/bigbox-dev/bigbox/pkg/cgroup"
)

// TestNodeSLOParses checks the demo's NodeSLO against the agent's own
// parser, so a renamed field breaks this test rather than the demo.
func TestNodeSLOParses(t *testing.T) {
	t.Parallel()
	n, err := config.Parse([]byte(NodeSLOYAML))
	if err != nil {
		t.Fatalf("config.Parse(NodeSLOYAML) error = %v", err)
	}
	p, _, err := n.ForNode(nil)
	if err != nil {
		t.Fatalf("ForNode() error = %v", err)
	}
	tests := []struct {
		name      string
		got, want float64
	}{
		{name: "enabled", got: map[bool]float64{true: 1}[p.Enabled], want: 1},
		{name: "cpu reclaim", got: p.CPU.ReclaimWatermarkPercent, want: 65},
		{name: "cpu evict", got: p.CPU.EvictWatermarkPercent, want: 90},
		{name: "memory reclaim", got: p.Memory.ReclaimWatermarkPercent, want: 70},
		{name: "memory evict", got: p.Memory.EvictWatermarkPercent, want: 90},
		{name: "cpu grow after", got: p.CPU.GrowAfter.Seconds(), want: 3},
		{name: "memory grow after", got: p.Memory.GrowAfter.Seconds(), want: 3},
		{name: "eviction cooldown", got: p.EvictionCooldown.Seconds(), want: 30},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestCalibrate(t *testing.T) {
	t.Parallel()
	target := 2 * time.Millisecond
	n, cost, err := calibrate(clock.RealClock{}, target)
	if err != nil {
		t.Fatalf("calibrate() error = %v", err)
	}
	if n < 1 {
		t.Errorf("iterations = %d, want at least 1", n)
	}
	// The least of five runs on a busy machine: within a factor of three.
	if cost < target/3 || cost > target*3 {
		t.Errorf("cost = %v, want about %v", cost, target)
	}
	if _, _, err := calibrate(clock.RealClock{}, 0); err == nil {
		t.Error("calibrate(0) error = nil, want one")
	}
}

func TestViewLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    Sample
		want []string
	}{
		{
			name: "no agent, no limits",
			s:    Sample{Seconds: 12, Phase: PhaseAlone, LoadRPS: 312, Requests: 300, Errors: 2, P50Millis: 1.6, P99Millis: 4.25, OnlineCores: 0.45, NodeCores: 0.9, QuotaCores: -1, MemoryLimitBytes: -1, CPUs: []int{0, 1}},
			want: []string{"   12 alone", "312", "298", "1.60", "4.25", "0.45", "    -", "unlim", "0-1", "unlim"},
		},
		{
			name: "agent limits the big box",
			s:    Sample{Seconds: 100, Phase: PhaseAgent, QuotaCores: 0.55, CPUs: []int{1}, MemoryLimitBytes: 6 << 30, OfflineMemoryBytes: 1 << 29, Agent: true, ReclaimableCores: 0.55},
			want: []string{"agent", " 0.55", "1    ", "6.00G", "0.50G"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := viewLine(tc.s, 3)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("viewLine() = %q, want it to contain %q", got, w)
				}
			}
		})
	}
}

func TestWriteHumanSummary(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	sum := Summarize([]PhaseResult{
		phaseOf(PhaseAlone, 2, Sample{NodeCores: 0.5}, ms, 2*ms),
		phaseOf(PhaseBurners, 2, Sample{NodeCores: 2, OfflineCores: 1.5}, 2*ms, 8*ms),
		func() PhaseResult {
			r := phaseOf(PhaseAgent, 2, Sample{NodeCores: 1.3, OfflineCores: 0.8, QuotaCores: -1, MemoryLimitBytes: -1}, ms, 3*ms)
			r.AgentError = "agent binary: no such file"
			return r
		}(),
	}, 2)
	var b bytes.Buffer
	if err := writeHumanSummary(&b, sum, "demo-out"); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"alone", "burners", "p99 with burners, no agent", "agent unavailable: agent binary", "demo-out/summary.json"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("summary lacks %q:\n%s", w, b.String())
		}
	}
	if strings.Contains(b.String(), "with burners and agent") {
		t.Errorf("summary compares with an agent that never ran:\n%s", b.String())
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := func() Config {
		return Config{
			Cgroups: &cgroup.FS{}, Host: host.New("/nonexistent", "/nonexistent"), Clock: clock.RealClock{},
			Logger: slog.New(slog.DiscardHandler), Out: io.Discard,
			Duration: 9 * time.Second, Phases: AllPhases(), OutDir: "out", TracePath: "t.csv",
			PeakCores: 0.65, Work: time.Millisecond, CPUBurners: 2, ChildCommand: []string{"demo", ChildArg},
		}
	}
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{name: "good", change: func(*Config) {}},
		{name: "phases out of order", change: func(c *Config) { c.Phases = []Phase{PhaseBurners, PhaseAlone} }, wantErr: "out of order"},
		{name: "phase repeated", change: func(c *Config) { c.Phases = []Phase{PhaseAlone, PhaseAlone} }, wantErr: "repeated"},
		{name: "unknown phase", change: func(c *Config) { c.Phases = []Phase{"lunch"} }, wantErr: "unknown phase"},
		{name: "no phases", change: func(c *Config) { c.Phases = nil }, wantErr: "no phases"},
		{name: "too short", change: func(c *Config) { c.Duration = 2 * time.Second }, wantErr: "less than a second per phase"},
		{name: "no work", change: func(c *Config) { c.Work = 0 }, wantErr: "must be positive"},
		{name: "no clock", change: func(c *Config) { c.Clock = nil }, wantErr: "required"},
		{name: "no child command", change: func(c *Config) { c.ChildCommand = nil }, wantErr: "required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := good()
			tc.change(&c)
			err := c.validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("validate() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestRunEndToEnd runs the real demo, shortened, on this machine's cgroup
// v1 hierarchy: the online service and burners are this test binary
// re-executed (see TestMain). It checks the phases measured something and
// that the demo's whole cgroup tree is gone afterwards. The agent phase
// runs with a missing agent binary, which the demo must report and carry
// on without.
func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end demo run skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to write cgroups")
	}
	const root = "/sys/fs/cgroup"
	if _, err := os.Stat(filepath.Join(root, "cpu")); err != nil {
		t.Skip("needs a cgroup v1 hierarchy at /sys/fs/cgroup/cpu")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cg, err := cgroup.Open(root)
	if err != nil {
		t.Fatalf("cgroup.Open: %v", err)
	}
	hr := host.New("/proc", "/sys")
	t.Cleanup(func() { _ = hr.Close() }) // read-only file
	out := t.TempDir()
	var view bytes.Buffer
	cfg := Config{
		Cgroups: cg, Host: hr, Clock: clock.RealClock{},
		Logger: slog.New(slog.NewTextHandler(&testWriter{t}, nil)), Out: &view,
		CgroupRoot: root, ProcRoot: "/proc", SysRoot: "/sys",
		Duration: 6 * time.Second, Phases: AllPhases(), OutDir: out,
		AgentPath: filepath.Join(t.TempDir(), "no-such-agent"),
		TracePath: "../../testdata/traces/crane-input0.csv", SmoothSamples: 15,
		PeakCores: 0.2, Work: time.Millisecond,
		CPUBurners: 1, MemoryBurnerBytes: 32 << 20,
		ChildCommand: []string{exe, ChildArg},
	}
	sum, err := Run(t.Context(), cfg)
	t.Logf("live view:\n%s", view.String())
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if sum.CgroupParent == "" || !strings.HasPrefix(sum.CgroupParent, "bigbox-demo-") {
		t.Fatalf("CgroupParent = %q, want bigbox-demo-…", sum.CgroupParent)
	}
	for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory"} {
		dir := filepath.Join(root, c, sum.CgroupParent)
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after the run (stat error %v)", dir, err)
		}
	}
	if len(sum.Phases) != 3 {
		t.Fatalf("got %d phases, want 3", len(sum.Phases))
	}
	for _, p := range sum.Phases {
		if p.Requests == 0 || p.Seconds < 1 {
			t.Errorf("phase %s: %d requests in %v s, want some", p.Phase, p.Requests, p.Seconds)
		}
	}
	if sum.Phases[1].OfflineCoreSeconds <= 0 {
		t.Errorf("burners phase used %v offline core-seconds, want some", sum.Phases[1].OfflineCoreSeconds)
	}
	if sum.Agent == nil || !strings.Contains(sum.Agent.Error, "no-such-agent") {
		t.Errorf("Agent = %+v, want the missing binary reported", sum.Agent)
	}
	var onDisk Summary
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &onDisk); err != nil || len(onDisk.Phases) != 3 {
		t.Errorf("summary.json: %v, %d phases; want 3", err, len(onDisk.Phases))
	}
	if st, err := os.Stat(filepath.Join(out, "report.png")); err != nil || st.Size() == 0 {
		t.Errorf("report.png: %v", err)
	}
}

// testWriter sends the demo's log to the test log.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
