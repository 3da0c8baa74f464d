package host

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shirou/gopsutil/v4/common"
	gopsutilcpu "github.com/shirou/gopsutil/v4/cpu"

	"github.com/bigbox-dev/bigbox/pkg/cgroup"
)

// The conventional mount points, for the read-only tests against the
// machine the tests run on.
const (
	realProc = "/proc"
	realSys  = "/sys"
)

// newRealReader returns a Reader of this machine's procfs and sysfs, or
// skips when they are not there (not Linux, or a sandbox without them).
func newRealReader(tb testing.TB) *Reader {
	tb.Helper()
	for _, p := range []string{filepath.Join(realProc, "stat"), filepath.Join(realSys, "devices", "system", "cpu", "online")} {
		if _, err := os.Stat(p); err != nil {
			tb.Skipf("no real procfs/sysfs here: %v", err)
		}
	}
	r := New(realProc, realSys)
	tb.Cleanup(func() {
		if err := r.Close(); err != nil {
			tb.Error(err)
		}
	})
	return r
}

func TestRealHost(t *testing.T) {
	t.Parallel()
	r := newRealReader(t)

	capacity, err := r.Capacity()
	if err != nil {
		t.Fatalf("Capacity() error = %v", err)
	}
	if capacity.Cores <= 0 || capacity.Cores != float64(len(capacity.CPUs)) || capacity.MemoryBytes == 0 {
		t.Errorf("Capacity() = %+v, want cores > 0 matching the cpus, memory > 0", capacity)
	}

	topo, err := r.Topology()
	if err != nil {
		t.Fatalf("Topology() error = %v", err)
	}
	if len(topo.Cores) == 0 {
		t.Fatal("Topology() has no cores")
	}
	checkTopology(t, topo, capacity.CPUs)

	first, err := r.CPUTimes()
	if err != nil {
		t.Fatalf("CPUTimes() error = %v", err)
	}
	if first.TotalNanos == 0 || first.BusyNanos > first.TotalNanos {
		t.Errorf("CPUTimes() = %+v, want 0 < total, busy <= total", first)
	}
	second, err := r.CPUTimes()
	if err != nil {
		t.Fatalf("second CPUTimes() error = %v", err)
	}
	if second.BusyNanos < first.BusyNanos || second.TotalNanos < first.TotalNanos {
		t.Errorf("CPUTimes() went back: %+v then %+v", first, second)
	}

	perCPU, err := r.PerCPUTimes()
	if err != nil {
		t.Fatalf("PerCPUTimes() error = %v", err)
	}
	for _, c := range capacity.CPUs {
		if c >= len(perCPU) || perCPU[c].TotalNanos == 0 {
			t.Errorf("PerCPUTimes() has no time for online cpu %d: %+v", c, perCPU)
		}
	}

	m, err := r.MemInfo()
	if err != nil {
		t.Fatalf("MemInfo() error = %v", err)
	}
	if m.TotalBytes != capacity.MemoryBytes || m.AvailableBytes == 0 || m.AvailableBytes > m.TotalBytes {
		t.Errorf("MemInfo() = %+v, want MemTotal %d and 0 < available <= total", m, capacity.MemoryBytes)
	}

	for _, res := range []string{"cpu", "memory", "io"} {
		p, err := r.Pressure(res)
		if errors.Is(err, cgroup.ErrNotSupported) {
			t.Logf("Pressure(%q): kernel without PSI: %v", res, err)
			continue
		}
		if err != nil {
			t.Errorf("Pressure(%q) error = %v", res, err)
		}
		if p.Some.Total < 0 || p.Full.Total < 0 {
			t.Errorf("Pressure(%q) = %+v, negative total", res, p)
		}
	}
}

func TestRealOOMScoreAdj(t *testing.T) {
	t.Parallel()
	r := newRealReader(t)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skipf("no sleep binary to start a child process: %v", err)
	}
	cmd := exec.Command(sleep, "30")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", sleep, err)
	}
	pid := cmd.Process.Pid
	reaped := false
	t.Cleanup(func() {
		if reaped {
			return
		}
		// Only our own child, by pid; the kill error of an exited child
		// does not matter, Wait reaps it either way.
		if err := cmd.Process.Kill(); err != nil {
			t.Logf("kill %d: %v", pid, err)
		}
		_ = cmd.Wait() // killed on purpose: the "signal: killed" error is expected
	})

	// Raising is always allowed; lowering below the process's
	// oom_score_adj_min (inherited, normally 0) would need CAP_SYS_RESOURCE,
	// so the test only lowers back to 0.
	for _, score := range []int{1000, 0} {
		if err := r.SetOOMScoreAdj(pid, score); err != nil {
			t.Fatalf("SetOOMScoreAdj(%d, %d) error = %v", pid, score, err)
		}
		got, err := r.OOMScoreAdj(pid)
		if err != nil {
			t.Fatalf("OOMScoreAdj(%d) error = %v", pid, err)
		}
		if got != score {
			t.Errorf("OOMScoreAdj(%d) = %d after setting %d", pid, got, score)
		}
	}

	// A file opened while the process lived answers ESRCH once it is gone,
	// which processError turns into fs.ErrNotExist.
	f, err := os.OpenFile(filepath.Join(realProc, strconv.Itoa(pid), "oom_score_adj"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("open oom_score_adj of %d: %v", pid, err)
	}
	defer f.Close() // the write below fails; nothing to flush
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("wait %d: %v, want killed", pid, err)
	}
	reaped = true
	_, err = f.Write([]byte("1000"))
	if err == nil {
		t.Fatalf("write oom_score_adj of exited pid %d: no error", pid)
	}
	if err := processError("set oom_score_adj", pid, err); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("write to an exited process: %v, want fs.ErrNotExist", err)
	}
	// Not SetOOMScoreAdj(pid) by number now: the pid may already belong to
	// another process. Reading it is harmless and almost surely gone.
	if _, err := r.OOMScoreAdj(pid); !errors.Is(err, fs.ErrNotExist) {
		t.Logf("OOMScoreAdj of exited pid %d: %v (pid reused?)", pid, err)
	}
}

// BenchmarkCPUTimes is the agent's fast-loop read: the aggregate line of
// the real /proc/stat.
func BenchmarkCPUTimes(b *testing.B) {
	r := newRealReader(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.CPUTimes(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCPUTimesGopsutil is the same read through gopsutil, pointed at
// the same procfs root through its context values, for the choice made in
// the package comment.
func BenchmarkCPUTimesGopsutil(b *testing.B) {
	newRealReader(b) // skips without a real procfs
	ctx := context.WithValue(context.Background(), common.EnvKey, common.EnvMap{common.HostProcEnvKey: realProc})
	b.ReportAllocs()
	for b.Loop() {
		ts, err := gopsutilcpu.TimesWithContext(ctx, false)
		if err != nil || len(ts) != 1 {
			b.Fatalf("TimesWithContext() = %v, %v", ts, err)
		}
	}
}

func BenchmarkPerCPUTimes(b *testing.B) {
	r := newRealReader(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.PerCPUTimes(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMemInfo(b *testing.B) {
	r := newRealReader(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.MemInfo(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseStatTotal is the parsing part of CPUTimes alone.
func BenchmarkParseStatTotal(b *testing.B) {
	in := []byte(statTwoCPU)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseStatTotal(in); err != nil {
			b.Fatal(err)
		}
	}
}
