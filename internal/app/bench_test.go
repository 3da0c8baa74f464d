package app

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/internal/agent"
	"github.com/bigbox-dev/bigbox/internal/executor"
	"github.com/bigbox-dev/bigbox/internal/faketree"
	"github.com/bigbox-dev/bigbox/internal/host"
	"github.com/bigbox-dev/bigbox/internal/sampler"
	"github.com/bigbox-dev/bigbox/pkg/cgroup"
)

// newFakeAgent wires the real sampler, executor and agent on a fake cgroup
// tree with the given pods and this machine's /proc and /sys.
func newFakeAgent(tb testing.TB, version, pods int, podScan time.Duration) *agent.Agent {
	tb.Helper()
	root := tb.TempDir()
	if err := faketree.Write(root, faketree.Spec{Version: version, OnlinePods: pods / 10, OfflinePods: pods - pods/10, CPUs: 2}); err != nil {
		tb.Fatal(err)
	}
	cg, err := cgroup.Open(root)
	if err != nil {
		tb.Fatal(err)
	}
	layout, err := cgroup.DetectLayout(cg, "kubepods")
	if err != nil {
		tb.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	hr := host.New("/proc", "/sys")
	tb.Cleanup(func() {
		if err := hr.Close(); err != nil {
			tb.Error(err)
		}
	})
	reg := prometheus.NewRegistry()
	cfg, err := newConfigSource(nil, nil, nil, logger)
	if err != nil {
		tb.Fatal(err)
	}
	clk := clock.RealClock{}
	smp := sampler.New(cg, hr, layout, clk, logger)
	tb.Cleanup(func() {
		if err := smp.Close(); err != nil {
			tb.Error(err)
		}
	})
	exec, err := executor.New(cg, hr, layout.Besteffort, reg, clk, logger)
	if err != nil {
		tb.Fatal(err)
	}
	a, err := agent.New(agent.Options{PodScanInterval: podScan}, agent.Parts{
		Config: cfg, CPU: cpuAdapter{smp}, Full: fullAdapter{s: smp}, Exec: exec,
		Evictor: agent.NewCgroupKiller(cg), Clock: clk, Logger: logger,
	}, reg)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// BenchmarkTick is one sampling and control tick (node scan, memory and
// CPU decisions, cgroup writes skipped when unchanged) on fake trees: with a
// pod scan in every tick (scan=pods, what a tick under pressure costs and
// what the agent does every 10s) and without (scan=node, the other 9 of 10
// ticks when the node is calm).
func BenchmarkTick(b *testing.B) {
	for _, v := range []int{1, 2} {
		for _, pods := range []int{10, 200, 1000} {
			for _, sc := range []struct {
				name     string
				interval time.Duration
			}{{"pods", time.Nanosecond}, {"node", time.Hour}} {
				b.Run(fmt.Sprintf("v%d/pods=%d/scan=%s", v, pods, sc.name), func(b *testing.B) {
					a := newFakeAgent(b, v, pods, sc.interval)
					ctx := b.Context()
					a.Tick(ctx)
					b.ReportAllocs()
					for b.Loop() {
						a.Tick(ctx)
					}
				})
			}
		}
	}
}

func TestFakeTreeAgent(t *testing.T) {
	t.Parallel()
	for _, v := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			t.Parallel()
			a := newFakeAgent(t, v, 20, 0)
			a.Tick(t.Context())
			a.Tick(t.Context())
			st, ok := a.Status()
			if !ok {
				t.Fatal("no status after two ticks")
			}
			if len(st.OfflinePods) != 18 {
				t.Errorf("offline pods = %d, want 18", len(st.OfflinePods))
			}
			// CPU needs /proc/stat to move between two ticks (10ms
			// jiffies), which two quick ticks may not see; memory does not.
			if st.Memory.Capacity <= 0 {
				t.Errorf("memory capacity %v, want > 0", st.Memory.Capacity)
			}
			if st.BigBox.OOMScoreAdj != 1000 || st.BigBox.CPUWeight != 1 {
				t.Errorf("big box = %+v, want oom_score_adj 1000 and weight 1", st.BigBox)
			}
		})
	}
}

// BenchmarkCPUTick is one tick of the fast loop: three counters, one
// decision, no write when nothing changed. It runs 20 times a second.
func BenchmarkCPUTick(b *testing.B) {
	a := newFakeAgent(b, 1, 200, time.Hour)
	ctx := b.Context()
	a.Tick(ctx)
	b.ReportAllocs()
	for b.Loop() {
		a.TickCPU(ctx)
	}
}
