package executor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bigbox-dev/bigbox/pkg/cgroup"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

const (
	parent = "kubepods"
	box    = "kubepods/besteffort"
	pod    = "kubepods/besteffort/poda"
	ctr    = "kubepods/besteffort/poda/c1"
)

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// tree builds kubepods (CPUs 0-3) with the big box, one pod and one
// container, all unlimited with CPUs 0-3 (v1) or no cpuset (v2); mod may
// change the limits.
func tree(v cgroup.Version, mod func(group string, l *cgroup.Limits)) *fakeCgroups {
	f := newFake(v)
	for _, g := range []string{parent, box, pod, ctr} {
		l := cgroup.Limits{CPUQuotaMicros: -1, CPUPeriodMicros: 100_000, CPUWeight: 39, CPUs: []int{0, 1, 2, 3}, MemoryLimitBytes: -1}
		if g == box {
			l.CPUWeight = 1
		}
		if v == cgroup.V2 {
			l.CPUs = nil // v2 cpusets are usually empty: inherit the parent's
		}
		if mod != nil {
			mod(g, &l)
		}
		f.add(g, l)
	}
	return f
}

// base is a BigBox equal to the tree's originals.
func base() qos.BigBox {
	return qos.BigBox{CPUQuotaMicros: -1, CPUPeriodMicros: 100_000, CPUWeight: 1, MemoryLimitBytes: -1}
}

func with(mod func(b *qos.BigBox)) qos.BigBox {
	b := base()
	mod(&b)
	return b
}

func newExec(t *testing.T, f *fakeCgroups, clk *clocktesting.FakeClock) (*Executor, *fakeOOM) {
	t.Helper()
	oom := &fakeOOM{gone: map[int]bool{}}
	e, err := New(f, oom, box, prometheus.NewRegistry(), clk, discard())
	if err != nil {
		t.Fatal(err)
	}
	return e, oom
}

func TestApplyCPUWriteOrder(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		version cgroup.Version
		mod     func(group string, l *cgroup.Limits)
		// steps are applied in turn; want are the writes of the last one.
		steps []qos.BigBox
		want  []string
	}{
		{
			name:    "v1 shrink cpuset: descendants deepest first, then the big box",
			version: cgroup.V1,
			steps:   []qos.BigBox{with(func(b *qos.BigBox) { b.CPUs = []int{0, 1} })},
			want: []string{
				"cpuset.cpus " + ctr + " 0,1",
				"cpuset.cpus " + pod + " 0,1",
				"cpuset.cpus " + box + " 0,1",
			},
		},
		{
			name:    "v1 grow cpuset: the big box first, then descendants top-down",
			version: cgroup.V1,
			mod: func(g string, l *cgroup.Limits) {
				if g != parent {
					l.CPUs = []int{0}
				}
			},
			steps: []qos.BigBox{with(func(b *qos.BigBox) { b.CPUs = []int{0, 1, 2, 3} })},
			want: []string{
				"cpuset.cpus " + box + " 0,1,2,3",
				"cpuset.cpus " + pod + " 0,1,2,3",
				"cpuset.cpus " + ctr + " 0,1,2,3",
			},
		},
		{
			name:    "v1 move cpuset: widen to the union top-down, then narrow deepest first",
			version: cgroup.V1,
			mod: func(g string, l *cgroup.Limits) {
				if g != parent {
					l.CPUs = []int{0, 1}
				}
			},
			steps: []qos.BigBox{with(func(b *qos.BigBox) { b.CPUs = []int{2, 3} })},
			want: []string{
				"cpuset.cpus " + box + " 0,1,2,3",
				"cpuset.cpus " + pod + " 0,1,2,3",
				"cpuset.cpus " + ctr + " 0,1,2,3",
				"cpuset.cpus " + ctr + " 2,3",
				"cpuset.cpus " + pod + " 2,3",
				"cpuset.cpus " + box + " 2,3",
			},
		},
		{
			name:    "v1 nil cpuset means the parent's",
			version: cgroup.V1,
			steps: []qos.BigBox{
				with(func(b *qos.BigBox) { b.CPUs = []int{1} }),
				base(),
			},
			want: []string{
				"cpuset.cpus " + box + " 0,1,2,3",
				"cpuset.cpus " + pod + " 0,1,2,3",
				"cpuset.cpus " + ctr + " 0,1,2,3",
			},
		},
		{
			name:    "v2 cpuset: only the big box",
			version: cgroup.V2,
			steps:   []qos.BigBox{with(func(b *qos.BigBox) { b.CPUs = []int{0, 1} })},
			want:    []string{"cpuset.cpus " + box + " 0,1"},
		},
		{
			name:    "v1 quota below a child's quota: the child first",
			version: cgroup.V1,
			mod: func(g string, l *cgroup.Limits) {
				if g == pod {
					l.CPUQuotaMicros = 200_000
				}
			},
			steps: []qos.BigBox{with(func(b *qos.BigBox) { b.CPUQuotaMicros = 50_000 })},
			want: []string{
				"cpu.cfs_quota_us " + pod + " 50000/100000",
				"cpu.cfs_quota_us " + box + " 50000/100000",
			},
		},
		{
			name:    "v1 quota below child and grandchild quotas: deepest first",
			version: cgroup.V1,
			mod: func(g string, l *cgroup.Limits) {
				switch g {
				case pod:
					l.CPUQuotaMicros = 200_000
				case ctr:
					l.CPUQuotaMicros, l.CPUPeriodMicros = 75_000, 50_000
				}
			},
			steps: []qos.BigBox{with(func(b *qos.BigBox) { b.CPUQuotaMicros = 50_000 })},
			want: []string{
				"cpu.cfs_quota_us " + ctr + " 50000/100000",
				"cpu.cfs_quota_us " + pod + " 50000/100000",
				"cpu.cfs_quota_us " + box + " 50000/100000",
			},
		},
		{
			name:    "v1 quota above the child's: only the big box",
			version: cgroup.V1,
			mod: func(g string, l *cgroup.Limits) {
				if g == pod {
					l.CPUQuotaMicros = 20_000
				}
			},
			steps: []qos.BigBox{with(func(b *qos.BigBox) { b.CPUQuotaMicros = 50_000 })},
			want:  []string{"cpu.cfs_quota_us " + box + " 50000/100000"},
		},
		{
			name:    "v1 quota grows: the big box first, then the lowered child back to its original",
			version: cgroup.V1,
			mod: func(g string, l *cgroup.Limits) {
				if g == pod {
					l.CPUQuotaMicros = 200_000
				}
			},
			steps: []qos.BigBox{
				with(func(b *qos.BigBox) { b.CPUQuotaMicros = 50_000 }),
				with(func(b *qos.BigBox) { b.CPUQuotaMicros = 300_000 }),
			},
			want: []string{
				"cpu.cfs_quota_us " + box + " 300000/100000",
				"cpu.cfs_quota_us " + pod + " 200000/100000",
			},
		},
		{
			name:    "v1 quota grows less than the child's original: child to the big box",
			version: cgroup.V1,
			mod: func(g string, l *cgroup.Limits) {
				if g == pod {
					l.CPUQuotaMicros = 200_000
				}
			},
			steps: []qos.BigBox{
				with(func(b *qos.BigBox) { b.CPUQuotaMicros = 50_000 }),
				with(func(b *qos.BigBox) { b.CPUQuotaMicros = 150_000 }),
			},
			want: []string{
				"cpu.cfs_quota_us " + box + " 150000/100000",
				"cpu.cfs_quota_us " + pod + " 150000/100000",
			},
		},
		{
			name:    "v2 quota below a child's: only the big box",
			version: cgroup.V2,
			mod: func(g string, l *cgroup.Limits) {
				if g == pod {
					l.CPUQuotaMicros = 200_000
				}
			},
			steps: []qos.BigBox{with(func(b *qos.BigBox) { b.CPUQuotaMicros = 50_000 })},
			want:  []string{"cpu.cfs_quota_us " + box + " 50000/100000"},
		},
		{
			name:    "quota, weight and cpuset together",
			version: cgroup.V1,
			steps: []qos.BigBox{with(func(b *qos.BigBox) {
				b.CPUQuotaMicros, b.CPUWeight, b.CPUs = 150_000, 2, []int{2, 3}
			})},
			want: []string{
				"cpu.cfs_quota_us " + box + " 150000/100000",
				"cpu.weight " + box + " 2",
				"cpuset.cpus " + ctr + " 2,3",
				"cpuset.cpus " + pod + " 2,3",
				"cpuset.cpus " + box + " 2,3",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := tree(tc.version, tc.mod)
			e, _ := newExec(t, f, clocktesting.NewFakeClock(epoch))
			for i, b := range tc.steps {
				f.takeWrites()
				changed, err := e.ApplyCPU(b)
				if err != nil {
					t.Fatalf("step %d: ApplyCPU: %v", i, err)
				}
				if !changed {
					t.Errorf("step %d: changed = false, want true", i)
				}
			}
			if got := f.takeWrites(); !slices.Equal(got, tc.want) {
				t.Errorf("writes:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestApplySkipsUnchanged(t *testing.T) {
	t.Parallel()
	f := tree(cgroup.V1, nil)
	e, _ := newExec(t, f, clocktesting.NewFakeClock(epoch))
	b := with(func(b *qos.BigBox) { b.CPUQuotaMicros, b.CPUs, b.MemoryLimitBytes = 80_000, []int{1}, 1<<30 })

	if c, err := e.ApplyCPU(b); err != nil || !c {
		t.Fatalf("first ApplyCPU = %v, %v; want true, nil", c, err)
	}
	if c, err := e.ApplyMemory(b); err != nil || !c {
		t.Fatalf("first ApplyMemory = %v, %v; want true, nil", c, err)
	}
	f.takeWrites()
	for i := range 3 {
		if c, err := e.ApplyCPU(b); err != nil || c {
			t.Errorf("ApplyCPU #%d = %v, %v; want false, nil", i+2, c, err)
		}
		if c, err := e.ApplyMemory(b); err != nil || c {
			t.Errorf("ApplyMemory #%d = %v, %v; want false, nil", i+2, c, err)
		}
	}
	if w := f.takeWrites(); len(w) != 0 {
		t.Errorf("writes on unchanged apply: %q", w)
	}
	want := b
	want.CPUs = []int{1}
	if got := e.Current(); !equalBigBox(got, want) {
		t.Errorf("Current() = %+v, want %+v", got, want)
	}
}

func equalBigBox(a, b qos.BigBox) bool {
	return a.CPUQuotaMicros == b.CPUQuotaMicros && a.CPUPeriodMicros == b.CPUPeriodMicros &&
		a.CPUWeight == b.CPUWeight && slices.Equal(a.CPUs, b.CPUs) &&
		a.MemoryLimitBytes == b.MemoryLimitBytes && a.OOMScoreAdj == b.OOMScoreAdj
}

func TestApplyNoWriteWhenTargetIsOriginal(t *testing.T) {
	t.Parallel()
	f := tree(cgroup.V1, nil)
	e, _ := newExec(t, f, clocktesting.NewFakeClock(epoch))
	if c, err := e.ApplyCPU(base()); err != nil || c {
		t.Fatalf("ApplyCPU(originals) = %v, %v; want false, nil", c, err)
	}
	if w := f.takeWrites(); len(w) != 0 {
		t.Errorf("writes: %q", w)
	}
}

func TestDrift(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		file  string
		edit  func(g *fakeGroup)
		apply func(e *Executor, b qos.BigBox) (bool, error)
		want  string
	}{
		{
			name:  "kubelet resets cpu.shares",
			file:  "cpu.shares",
			edit:  func(g *fakeGroup) { g.lim.CPUWeight = 2 },
			apply: (*Executor).ApplyCPU,
			want:  "cpu.weight " + box + " 1",
		},
		{
			name:  "quota reset to unlimited",
			file:  "cpu.cfs_quota_us",
			edit:  func(g *fakeGroup) { g.lim.CPUQuotaMicros = -1 },
			apply: (*Executor).ApplyCPU,
			want:  "cpu.cfs_quota_us " + box + " 50000/100000",
		},
		{
			name:  "memory limit lifted",
			file:  "memory.limit_in_bytes",
			edit:  func(g *fakeGroup) { g.lim.MemoryLimitBytes = -1 },
			apply: (*Executor).ApplyMemory,
			want:  "memory.limit_in_bytes " + box + " 1073741824",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := tree(cgroup.V1, nil)
			clk := clocktesting.NewFakeClock(epoch)
			e, _ := newExec(t, f, clk)
			b := with(func(b *qos.BigBox) { b.CPUQuotaMicros, b.CPUWeight, b.MemoryLimitBytes = 50_000, 2, 1<<30 })
			if _, err := tc.apply(e, b); err != nil {
				t.Fatal(err)
			}
			b.CPUWeight = 1
			if _, err := tc.apply(e, b); err != nil { // weight written now: 2 → 1
				t.Fatal(err)
			}
			f.takeWrites()

			f.edit(box, tc.edit)
			clk.Step(DefaultForceInterval - time.Second)
			if c, err := tc.apply(e, b); err != nil || c {
				t.Fatalf("apply before the force interval = %v, %v; want false, nil", c, err)
			}
			if w := f.takeWrites(); len(w) != 0 {
				t.Fatalf("writes before the force interval: %q", w)
			}
			clk.Step(2 * time.Second)
			if c, err := tc.apply(e, b); err != nil || !c {
				t.Fatalf("apply after the force interval = %v, %v; want true, nil", c, err)
			}
			if got := f.takeWrites(); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("writes = %q, want %q", got, tc.want)
			}
			if got := testutil.ToFloat64(e.drift.WithLabelValues(tc.file)); got != 1 {
				t.Errorf("bigbox_cgroup_drift_total{file=%q} = %v, want 1", tc.file, got)
			}
			// No drift: nothing written, counter unchanged.
			clk.Step(DefaultForceInterval)
			if c, err := tc.apply(e, b); err != nil || c {
				t.Errorf("apply without drift = %v, %v; want false, nil", c, err)
			}
			if got := testutil.ToFloat64(e.drift.WithLabelValues(tc.file)); got != 1 {
				t.Errorf("drift counter after a clean check = %v, want 1", got)
			}
		})
	}
}

func TestApplyMemoryBusy(t *testing.T) {
	t.Parallel()
	f := tree(cgroup.V1, nil)
	f.edit(box, func(g *fakeGroup) { g.usageBytes = 3 << 30 })
	e, _ := newExec(t, f, clocktesting.NewFakeClock(epoch))
	if _, err := e.ApplyMemory(with(func(b *qos.BigBox) { b.MemoryLimitBytes = 4 << 30 })); err != nil {
		t.Fatal(err)
	}
	changed, err := e.ApplyMemory(with(func(b *qos.BigBox) { b.MemoryLimitBytes = 2 << 30 }))
	if !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("ApplyMemory below usage: err = %v, want EBUSY", err)
	}
	if changed {
		t.Error("changed = true on a refused write")
	}
	if got := e.Current().MemoryLimitBytes; got != 4<<30 {
		t.Errorf("Current().MemoryLimitBytes = %d, want the previous %d", got, int64(4<<30))
	}
	if got := f.get(box).MemoryLimitBytes; got != 4<<30 {
		t.Errorf("limit in the cgroup = %d, want %d", got, int64(4<<30))
	}
	if got := testutil.ToFloat64(e.writeErrors.WithLabelValues("memory.limit_in_bytes")); got != 1 {
		t.Errorf("write errors = %v, want 1", got)
	}
	// Once usage fell (the agent evicted), the same target goes through.
	f.edit(box, func(g *fakeGroup) { g.usageBytes = 1 << 30 })
	if c, err := e.ApplyMemory(with(func(b *qos.BigBox) { b.MemoryLimitBytes = 2 << 30 })); err != nil || !c {
		t.Errorf("ApplyMemory after eviction = %v, %v; want true, nil", c, err)
	}
}

func TestApplyCPUWriteError(t *testing.T) {
	t.Parallel()
	f := tree(cgroup.V1, nil)
	e, _ := newExec(t, f, clocktesting.NewFakeClock(epoch))
	f.fail["cpu.weight "+box] = syscall.EIO
	b := with(func(b *qos.BigBox) { b.CPUWeight = 2 })
	if _, err := e.ApplyCPU(b); !errors.Is(err, syscall.EIO) {
		t.Fatalf("err = %v, want EIO", err)
	}
	if got := testutil.ToFloat64(e.writeErrors.WithLabelValues("cpu.shares")); got != 1 {
		t.Errorf("write errors = %v, want 1", got)
	}
	// The next apply retries.
	if c, err := e.ApplyCPU(b); err != nil || !c {
		t.Errorf("retry = %v, %v; want true, nil", c, err)
	}
}

func TestApplyValidates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		b    qos.BigBox
	}{
		{"zero period", with(func(b *qos.BigBox) { b.CPUPeriodMicros = 0 })},
		{"period above 1s", with(func(b *qos.BigBox) { b.CPUPeriodMicros = 2_000_000 })},
		{"quota below 1ms", with(func(b *qos.BigBox) { b.CPUQuotaMicros = 10 })},
		{"zero quota", with(func(b *qos.BigBox) { b.CPUQuotaMicros = 0 })},
		{"weight above 10000", with(func(b *qos.BigBox) { b.CPUWeight = 10_001 })},
		{"negative cpu", with(func(b *qos.BigBox) { b.CPUs = []int{-1} })},
		{"duplicate cpu", with(func(b *qos.BigBox) { b.CPUs = []int{1, 1} })},
		{"empty cpuset", with(func(b *qos.BigBox) { b.CPUs = []int{} })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := tree(cgroup.V1, nil)
			e, _ := newExec(t, f, clocktesting.NewFakeClock(epoch))
			if _, err := e.ApplyCPU(tc.b); err == nil {
				t.Error("ApplyCPU accepted an invalid value")
			}
			if w := f.takeWrites(); len(w) != 0 {
				t.Errorf("writes: %q", w)
			}
		})
	}
	f := tree(cgroup.V1, nil)
	e, _ := newExec(t, f, clocktesting.NewFakeClock(epoch))
	if _, err := e.ApplyMemory(with(func(b *qos.BigBox) { b.MemoryLimitBytes = 0 })); err == nil {
		t.Error("ApplyMemory accepted a zero limit")
	}
	if err := e.SetOOMScoreAdj(1001); err == nil {
		t.Error("SetOOMScoreAdj accepted 1001")
	}
}

func TestRestore(t *testing.T) {
	t.Parallel()
	for _, v := range []cgroup.Version{cgroup.V1, cgroup.V2} {
		t.Run("v"+string(rune('0'+v)), func(t *testing.T) {
			t.Parallel()
			f := tree(v, func(g string, l *cgroup.Limits) {
				if g == pod {
					l.CPUQuotaMicros = 200_000
				}
			})
			before := map[string]cgroup.Limits{}
			for _, g := range []string{parent, box, pod, ctr} {
				before[g] = f.get(g)
			}
			e, _ := newExec(t, f, clocktesting.NewFakeClock(epoch))
			b := qos.BigBox{CPUQuotaMicros: 50_000, CPUPeriodMicros: 100_000, CPUWeight: 2, CPUs: []int{3}, MemoryLimitBytes: 1 << 30}
			if _, err := e.ApplyCPU(b); err != nil {
				t.Fatal(err)
			}
			if _, err := e.ApplyMemory(b); err != nil {
				t.Fatal(err)
			}
			f.takeWrites()
			if err := e.Restore(context.Background()); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			for g, want := range before {
				if got := f.get(g); !equalLimits(got, want) {
					t.Errorf("%s after Restore = %+v, want %+v", g, got, want)
				}
			}
			if v == cgroup.V1 {
				// Cpusets widen parents first; the lowered child quota comes
				// back after the big box's.
				want := []string{
					"cpuset.cpus " + box + " 0,1,2,3",
					"cpuset.cpus " + pod + " 0,1,2,3",
					"cpuset.cpus " + ctr + " 0,1,2,3",
					"cpu.cfs_quota_us " + box + " -1/100000",
					"cpu.cfs_quota_us " + pod + " 200000/100000",
					"cpu.shares " + box + " 2", // the exact original shares
					"memory.limit_in_bytes " + box + " -1",
				}
				if got := f.takeWrites(); !slices.Equal(got, want) {
					t.Errorf("restore writes:\n got %q\nwant %q", got, want)
				}
			}
			f.takeWrites()
			if err := e.Restore(context.Background()); err != nil {
				t.Errorf("second Restore: %v", err)
			}
			if w := f.takeWrites(); len(w) != 0 {
				t.Errorf("second Restore wrote %q", w)
			}
			// Apply after Restore records the originals again.
			if _, err := e.ApplyCPU(b); err != nil {
				t.Fatal(err)
			}
			if err := e.Restore(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := f.get(box); !equalLimits(got, before[box]) {
				t.Errorf("big box after second cycle = %+v, want %+v", got, before[box])
			}
		})
	}
}

func equalLimits(a, b cgroup.Limits) bool {
	return a.CPUQuotaMicros == b.CPUQuotaMicros && a.CPUPeriodMicros == b.CPUPeriodMicros &&
		a.CPUWeight == b.CPUWeight && slices.Equal(a.CPUs, b.CPUs) && a.MemoryLimitBytes == b.MemoryLimitBytes
}

func TestRestoreContextDone(t *testing.T) {
	t.Parallel()
	f := tree(cgroup.V1, nil)
	e, _ := newExec(t, f, clocktesting.NewFakeClock(epoch))
	if _, err := e.ApplyCPU(with(func(b *qos.BigBox) { b.CPUs = []int{0} })); err != nil {
		t.Fatal(err)
	}
	f.takeWrites()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Restore(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Restore with a done context: err = %v, want context.Canceled", err)
	}
	if w := f.takeWrites(); len(w) != 0 {
		t.Errorf("writes after the context ended: %q", w)
	}
	// The originals are kept, so a later Restore finishes the job.
	if err := e.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.get(box).CPUs; !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Errorf("big box cpus = %v, want 0-3", got)
	}
}

func TestRestoreJoinsErrors(t *testing.T) {
	t.Parallel()
	f := tree(cgroup.V1, nil)
	e, _ := newExec(t, f, clocktesting.NewFakeClock(epoch))
	b := with(func(b *qos.BigBox) { b.CPUWeight, b.MemoryLimitBytes = 2, 1<<30 })
	if _, err := e.ApplyCPU(b); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ApplyMemory(b); err != nil {
		t.Fatal(err)
	}
	f.fail["cpu.shares "+box] = syscall.EIO
	f.fail["memory.limit_in_bytes "+box] = syscall.EPERM
	err := e.Restore(context.Background())
	if !errors.Is(err, syscall.EIO) || !errors.Is(err, syscall.EPERM) {
		t.Fatalf("Restore err = %v, want both EIO and EPERM", err)
	}
	if err := e.Restore(context.Background()); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := f.get(box); got.CPUWeight != 1 || got.MemoryLimitBytes != -1 {
		t.Errorf("after retry: weight %d, memory %d; want 1, -1", got.CPUWeight, got.MemoryLimitBytes)
	}
}

func TestRestoreVanishedDescendant(t *testing.T) {
	t.Parallel()
	f := tree(cgroup.V1, nil)
	e, _ := newExec(t, f, clocktesting.NewFakeClock(epoch))
	if _, err := e.ApplyCPU(with(func(b *qos.BigBox) { b.CPUs = []int{0} })); err != nil {
		t.Fatal(err)
	}
	f.remove(ctr)
	f.remove(pod)
	if err := e.Restore(context.Background()); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got := f.get(box).CPUs; !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Errorf("big box cpus = %v, want 0-3", got)
	}
}

func TestSetOOMScoreAdj(t *testing.T) {
	t.Parallel()
	f := tree(cgroup.V1, nil)
	f.edit(box, func(g *fakeGroup) { g.pids = []int{10} })
	f.edit(ctr, func(g *fakeGroup) { g.pids = []int{20, 21} })
	e, oom := newExec(t, f, clocktesting.NewFakeClock(epoch))
	oom.gone[21] = true // exits between listing and write

	steps := []struct {
		name  string
		edit  func()
		score int
		want  []int
	}{
		{"first call sets every pid", func() {}, 1000, []int{10, 20, 21}},
		{"second call sets none", func() {}, 1000, nil},
		{"new pid only", func() { f.edit(pod, func(g *fakeGroup) { g.pids = []int{30} }) }, 1000, []int{30}},
		{"exited pid forgotten, reused pid set again", func() {
			f.edit(pod, func(g *fakeGroup) { g.pids = nil })
		}, 1000, nil},
		{"reused pid", func() { f.edit(pod, func(g *fakeGroup) { g.pids = []int{30} }) }, 1000, []int{30}},
		{"new score starts over", func() {}, 999, []int{10, 20, 21, 30}},
	}
	for _, s := range steps {
		s.edit()
		oom.calls = nil
		if err := e.SetOOMScoreAdj(s.score); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !slices.Equal(oom.calls, s.want) {
			t.Errorf("%s: writes to pids %v, want %v", s.name, oom.calls, s.want)
		}
	}
	if oom.scores[10] != 999 || oom.scores[30] != 999 {
		t.Errorf("scores = %v", oom.scores)
	}
	if got := e.Current().OOMScoreAdj; got != 999 {
		t.Errorf("Current().OOMScoreAdj = %d, want 999", got)
	}
}

func TestNewRegistersMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	f := tree(cgroup.V1, nil)
	if _, err := New(f, &fakeOOM{}, box, reg, clocktesting.NewFakeClock(epoch), discard()); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg, "bigbox_cgroup_drift_total", "bigbox_cgroup_write_errors_total")
	if err != nil {
		t.Fatal(err)
	}
	if n != 9 {
		t.Errorf("series = %d, want 9 (4 drift + 5 write error files)", n)
	}
	if _, err := New(f, &fakeOOM{}, box, reg, clocktesting.NewFakeClock(epoch), discard()); err == nil {
		t.Error("second New on the same registry: want a registration error")
	}
	if _, err := New(f, &fakeOOM{}, "", prometheus.NewRegistry(), clocktesting.NewFakeClock(epoch), discard()); err == nil {
		t.Error("New with an empty group: want an error")
	}
}

// TestApplyMemoryPageRounding: the kernel keeps a limit in whole pages, so a
// limit off a page boundary is written rounded down, and reading it back
// later is no drift.
func TestApplyMemoryPageRounding(t *testing.T) {
	t.Parallel()
	f := tree(cgroup.V1, nil)
	clk := clocktesting.NewFakeClock(epoch)
	e, _ := newExec(t, f, clk)
	page := int64(os.Getpagesize())
	b := with(func(b *qos.BigBox) { b.MemoryLimitBytes = 1<<30 + page/2 })
	if _, err := e.ApplyMemory(b); err != nil {
		t.Fatal(err)
	}
	if got, want := f.takeWrites(), []string{"memory.limit_in_bytes " + box + " 1073741824"}; !slices.Equal(got, want) {
		t.Fatalf("writes = %q, want %q", got, want)
	}
	clk.Step(2 * DefaultForceInterval)
	if c, err := e.ApplyMemory(b); err != nil || c {
		t.Errorf("apply after the force interval = %v, %v; want false, nil", c, err)
	}
	if got := testutil.ToFloat64(e.drift.WithLabelValues("memory.limit_in_bytes")); got != 0 {
		t.Errorf("drift counted for the kernel's own rounding: %v", got)
	}
}
