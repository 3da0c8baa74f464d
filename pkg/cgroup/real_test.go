package cgroup

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/utils/clock"
)

// The real-hierarchy tests default to the conventional mount points; the
// flags point them elsewhere (e.g. into a container's view).
var (
	cgroupRootFlag = flag.String("cgroup.root", "/sys/fs/cgroup", "cgroup mount root for the real-hierarchy tests")
	procRootFlag   = flag.String("proc.root", "/proc", "procfs root for the real-hierarchy tests")
)

// uniqueGroup names a test's own subtree.
func uniqueGroup(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("bigbox-test-%d-%s", os.Getpid(), rand.Text()[:8])
}

// startBusyLoop starts a shell spinning on one CPU and kills it in
// t.Cleanup (registered after the group's removal, so it runs first).
func startBusyLoop(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start busy loop: %v", err)
	}
	t.Cleanup(func() {
		if err := cmd.Process.Kill(); err != nil {
			t.Errorf("kill busy loop %d: %v", cmd.Process.Pid, err)
		}
		// Wait reaps it so the group becomes empty; the error is the kill.
		if err := cmd.Wait(); err == nil {
			t.Errorf("busy loop %d exited cleanly, want killed", cmd.Process.Pid)
		}
	})
	return cmd.Process.Pid
}

// waitUntil polls cond on clk until it holds or timeout passes. The kernel
// counters these tests watch move with real time, so the real clock is the
// one to wait on.
func waitUntil(t *testing.T, clk clock.WithTicker, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	start := clk.Now()
	tick := clk.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if clk.Since(start) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		<-tick.C()
	}
}

func TestRealV1(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("real cgroup v1 test: needs root to create cgroups")
	}
	root := *cgroupRootFlag
	if !isDir(filepath.Join(root, "cpu")) {
		t.Skipf("real cgroup v1 test: no v1 cpu hierarchy at %s/cpu", root)
	}
	f, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version() != V1 {
		t.Fatalf("Version = %d on a host with %s/cpu", f.Version(), root)
	}
	clk := clock.RealClock{}
	top := uniqueGroup(t)
	group := top + "/box"
	t.Cleanup(func() {
		if err := f.Remove(top); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := f.Create(group); err != nil {
		t.Fatal(err)
	}
	if kids, err := f.Children(top); err != nil || !slices.Equal(kids, []string{"box"}) {
		t.Fatalf("Children(%s) = %v, %v", top, kids, err)
	}
	orig, err := f.Limits(group)
	if err != nil {
		t.Fatal(err)
	}
	if len(orig.CPUs) == 0 || orig.CPUQuotaMicros != Unlimited || orig.MemoryLimitBytes != Unlimited {
		t.Fatalf("fresh group limits %+v: want inherited cpuset, no quota, no memory limit", orig)
	}
	origShares, err := f.CPUShares(group)
	if err != nil {
		t.Fatal(err)
	}

	// CPU quota: 10 ms per 100 ms, set before the loop joins.
	if err := f.SetCPUQuota(group, 10000, 100000); err != nil {
		t.Fatal(err)
	}
	pid := startBusyLoop(t)
	if err := f.AddProc(group, pid); err != nil {
		t.Fatal(err)
	}
	for _, g := range []struct {
		name      string
		recursive bool
	}{{group, false}, {top, true}} {
		if pids, err := f.Procs(g.name, g.recursive); err != nil || !slices.Contains(pids, pid) {
			t.Fatalf("Procs(%s, %v) = %v, %v; want %d in it", g.name, g.recursive, pids, err, pid)
		}
	}
	before, err := f.CPUStat(group)
	if err != nil {
		t.Fatal(err)
	}
	start := clk.Now()
	var after CPUStat
	waitUntil(t, clk, 20*time.Second, "throttling", func() (bool, error) {
		after, err = f.CPUStat(group)
		return after.Throttled >= before.Throttled+5 && clk.Since(start) >= time.Second, err
	})
	wall := clk.Since(start)
	used := time.Duration(after.UsageNanos - before.UsageNanos)
	if after.ThrottledNanos <= before.ThrottledNanos || after.Periods <= before.Periods {
		t.Errorf("throttling counters did not rise: before %+v after %+v", before, after)
	}
	if used <= 0 || float64(used) > 0.2*float64(wall) {
		t.Errorf("busy loop used %v in %v under a 10%% quota", used, wall)
	}
	fast, err := f.CPUUsageNanos(group)
	if err != nil || fast < after.UsageNanos {
		t.Errorf("CPUUsageNanos = %d, %v; want ≥ %d", fast, err, after.UsageNanos)
	}
	if topUsage, err := f.CPUUsageNanos(top); err != nil || topUsage < fast {
		t.Errorf("parent usage %d, %v below child's %d", topUsage, err, fast)
	}
	if _, err := f.Pressure(group, "cpu"); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Pressure on v1: %v, want ErrNotSupported", err)
	}

	// Cpuset: one CPU, visible in the process's affinity.
	if err := f.SetCPUs(group, orig.CPUs[:1]); err != nil {
		t.Fatal(err)
	}
	if l, err := f.Limits(group); err != nil || !slices.Equal(l.CPUs, orig.CPUs[:1]) {
		t.Errorf("cpus read back %v, %v; want %v", l.CPUs, err, orig.CPUs[:1])
	}
	if got := allowedCPUs(t, pid); !slices.Equal(got, orig.CPUs[:1]) {
		t.Errorf("busy loop may run on %v, want %v", got, orig.CPUs[:1])
	}
	if len(orig.CPUs) > 1 {
		// The kernel refuses to shrink a parent below a child's cpuset.
		err := f.SetCPUs(top, orig.CPUs[1:2])
		if !errors.Is(err, syscall.EBUSY) && !errors.Is(err, syscall.EINVAL) {
			t.Errorf("shrinking the parent below the child: %v, want EBUSY or EINVAL", err)
		}
		if err != nil && !strings.Contains(err.Error(), "write "+f.Path(CPUSet, top)+"/cpuset.cpus") {
			t.Errorf("error %q does not name the file", err)
		}
		// The order the executor follows (docs/executor.md): widen the
		// parent first, move the child, then narrow the parent.
		for _, w := range []struct {
			group string
			cpus  []int
		}{{top, orig.CPUs}, {group, orig.CPUs[1:2]}, {top, orig.CPUs[1:2]}} {
			if err := f.SetCPUs(w.group, w.cpus); err != nil {
				t.Fatalf("set %s to %v: %v", w.group, w.cpus, err)
			}
		}
		if got := allowedCPUs(t, pid); !slices.Equal(got, orig.CPUs[1:2]) {
			t.Errorf("after moving the subtree the busy loop may run on %v, want %v", got, orig.CPUs[1:2])
		}
		if err := f.SetCPUs(top, orig.CPUs); err != nil {
			t.Fatalf("widen the parent back: %v", err)
		}
	}
	if err := f.SetCPUs(group, nil); err != nil {
		t.Fatal(err)
	}
	if l, err := f.Limits(group); err != nil || !slices.Equal(l.CPUs, orig.CPUs) {
		t.Errorf("empty cpuset read back %v, %v; want the parent's %v", l.CPUs, err, orig.CPUs)
	}

	// Weight ↔ shares.
	if err := f.SetCPUWeight(group, 1); err != nil {
		t.Fatal(err)
	}
	if s, err := f.CPUShares(group); err != nil || s != 2 {
		t.Errorf("cpu.shares = %d, %v after weight 1; want 2", s, err)
	}

	// Memory limit, with the memsw order when swap accounting is on.
	const mib = 1 << 20
	if err := f.SetMemoryLimit(group, 64*mib); err != nil {
		t.Fatal(err)
	}
	if st, err := f.MemoryStat(group); err != nil || st.LimitBytes != 64*mib {
		t.Errorf("MemoryStat = %+v, %v; want limit 64 MiB", st, err)
	}
	memsw := f.Path(Memory, group) + "/memory.memsw.limit_in_bytes"
	if isFile(memsw) {
		if err := writeFile(memsw, formatInt(96*mib)); err != nil {
			t.Fatal(err)
		}
		// The rule SetMemoryLimit orders around is real.
		if err := writeFile(f.Path(Memory, group)+"/memory.limit_in_bytes", formatInt(512*mib)); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("limit above memsw: %v, want EINVAL", err)
		}
		for _, step := range []struct{ limit, memsw int64 }{
			{256 * mib, 288 * mib}, // grow: memsw first
			{32 * mib, 64 * mib},   // shrink: limit first
			{Unlimited, Unlimited}, // lift both
		} {
			if err := f.SetMemoryLimit(group, step.limit); err != nil {
				t.Fatalf("SetMemoryLimit(%d) with memsw: %v", step.limit, err)
			}
			got, err := f.readLimit(Memory, group, "memory.memsw.limit_in_bytes")
			if err != nil || got != step.memsw {
				t.Errorf("after limit %d: memsw %d, %v; want %d", step.limit, got, err, step.memsw)
			}
		}
	} else {
		t.Logf("no swap accounting (%s absent): memsw order not exercised here", memsw)
	}

	// Restore and compare.
	if err := f.SetCPUQuota(group, orig.CPUQuotaMicros, orig.CPUPeriodMicros); err != nil {
		t.Fatal(err)
	}
	if err := f.SetCPUShares(group, origShares); err != nil {
		t.Fatal(err)
	}
	if err := f.SetCPUs(group, orig.CPUs); err != nil {
		t.Fatal(err)
	}
	if err := f.SetMemoryLimit(group, orig.MemoryLimitBytes); err != nil {
		t.Fatal(err)
	}
	restored, err := f.Limits(group)
	if err != nil || !limitsEqual(restored, orig) {
		t.Errorf("restored %+v, %v; want %+v", restored, err, orig)
	}
}

// allowedCPUs reads a process's CPU affinity from procfs.
func allowedCPUs(t *testing.T, pid int) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(*procRootFlag, fmt.Sprint(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			cpus, err := ParseCPUList(v)
			if err != nil {
				t.Fatal(err)
			}
			return cpus
		}
	}
	t.Fatalf("no Cpus_allowed_list for %d", pid)
	return nil
}

func TestRealV2(t *testing.T) {
	root := filepath.Join(*cgroupRootFlag, "unified")
	if !isFile(filepath.Join(root, "cgroup.controllers")) {
		root = *cgroupRootFlag // a pure v2 host
	}
	if !isFile(filepath.Join(root, "cgroup.controllers")) {
		t.Skipf("real cgroup v2 test: no cgroup2 mount at %s/unified or %s", *cgroupRootFlag, *cgroupRootFlag)
	}
	f, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version() != V2 {
		t.Fatalf("Version = %d for %s", f.Version(), root)
	}
	// Read-only checks of the root.
	if u, err := f.CPUUsageNanos(""); err != nil || u == 0 {
		t.Errorf("root CPUUsageNanos = %d, %v", u, err)
	}
	if st, err := f.CPUStat(""); err != nil || st.UsageNanos == 0 {
		t.Errorf("root CPUStat = %+v, %v", st, err)
	}
	if _, err := f.Pressure("", "cpu"); err != nil && !errors.Is(err, ErrNotSupported) {
		t.Errorf("root Pressure: %v", err)
	}
	if _, err := f.Children(""); err != nil {
		t.Errorf("root Children: %v", err)
	}

	if os.Geteuid() != 0 {
		t.Skip("real cgroup v2 test: the group part needs root")
	}
	// Create would enable controllers in the root's subtree_control; that
	// is a write to a cgroup the test does not own, so only go on when
	// there is nothing to enable.
	avail, err := readFile(root+"/cgroup.controllers", nil)
	if err != nil {
		t.Fatal(err)
	}
	enabled, err := readFile(root+"/cgroup.subtree_control", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range v2Controllers() {
		if slices.Contains(strings.Fields(string(avail)), c) && !slices.Contains(strings.Fields(string(enabled)), c) {
			t.Skipf("real cgroup v2 test: creating a group would enable %s in the root's subtree_control", c)
		}
	}
	group := uniqueGroup(t)
	t.Cleanup(func() {
		if err := f.Remove(group); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := f.Create(group); err != nil {
		t.Fatal(err)
	}
	if !f.Exists(group) {
		t.Fatalf("%s not created", group)
	}
	pid := startBusyLoop(t)
	if err := f.AddProc(group, pid); err != nil {
		t.Fatal(err)
	}
	if pids, err := f.Procs(group, true); err != nil || !slices.Equal(pids, []int{pid}) {
		t.Errorf("Procs = %v, %v; want [%d]", pids, err, pid)
	}
	waitUntil(t, clock.RealClock{}, 10*time.Second, "cpu usage in the v2 group", func() (bool, error) {
		u, err := f.CPUUsageNanos(group)
		return u > 0, err
	})
	if p, err := f.Pressure(group, "cpu"); err != nil && !errors.Is(err, ErrNotSupported) {
		t.Errorf("Pressure(%s) = %+v, %v", group, p, err)
	}
}
