package executor

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bigbox-dev/bigbox/internal/host"
	"github.com/bigbox-dev/bigbox/pkg/cgroup"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// The conventional mount points, for the test against this machine's
// cgroup v1 hierarchy.
const (
	realCgroupRoot = "/sys/fs/cgroup"
	realProc       = "/proc"
	realSys        = "/sys"
)

// busyEnv makes the test binary a CPU burner instead of running tests (see
// TestMain); the burner exits when its stdin closes.
const busyEnv = "BIGBOX_EXECUTOR_TEST_BURNER"

func TestMain(m *testing.M) {
	if os.Getenv(busyEnv) == "1" {
		go func() {
			for {
			}
		}()
		// Returns when the test closes the pipe or dies; the error does not
		// matter, either way the burner is done.
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRealV1 runs the executor against this machine's cgroup v1 hierarchy:
// a big box with a pod cgroup holding a CPU burner, where the pod has its
// own CFS quota and the full cpuset. Shrinking quota and cpuset in the
// wrong order fails with EINVAL and EBUSY from the kernel itself.
func TestRealV1(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	if st, err := os.Stat(realCgroupRoot + "/cpu"); err != nil || !st.IsDir() {
		t.Skipf("no cgroup v1 cpu hierarchy at %s/cpu", realCgroupRoot)
	}
	fsys, err := cgroup.Open(realCgroupRoot)
	if err != nil {
		t.Fatal(err)
	}
	if fsys.Version() != cgroup.V1 {
		t.Skip("the hierarchy is not cgroup v1")
	}
	top := fmt.Sprintf("bigbox-test-%016x", rand.Uint64())
	bigBox := top + "/besteffort"
	podGroup := bigBox + "/podtest"
	t.Cleanup(func() {
		if err := fsys.Remove(top); err != nil {
			t.Errorf("remove %s: %v", top, err)
		}
	})
	if err := fsys.Create(podGroup); err != nil {
		t.Fatal(err)
	}
	parentLim, err := fsys.Limits(top)
	if err != nil {
		t.Fatal(err)
	}
	if len(parentLim.CPUs) < 2 {
		t.Skipf("needs at least 2 CPUs, the test cgroup has %v", parentLim.CPUs)
	}
	// The pod has a quota of its own: the big box cannot go below it first.
	if err := fsys.SetCPUQuota(podGroup, 50_000, 100_000); err != nil {
		t.Fatal(err)
	}

	pid := startBurner(t, fsys, podGroup)

	origBox, err := fsys.Limits(bigBox)
	if err != nil {
		t.Fatal(err)
	}
	origShares, err := fsys.CPUShares(bigBox)
	if err != nil {
		t.Fatal(err)
	}
	origPod, err := fsys.Limits(podGroup)
	if err != nil {
		t.Fatal(err)
	}

	hostReader := host.New(realProc, realSys)
	t.Cleanup(func() {
		if err := hostReader.Close(); err != nil {
			t.Error(err)
		}
	})
	e, err := New(fsys, hostReader, bigBox, prometheus.NewRegistry(), clocktesting.NewFakeClock(epoch), discard())
	if err != nil {
		t.Fatal(err)
	}
	oneCPU := parentLim.CPUs[:1]
	b := qos.BigBox{CPUQuotaMicros: 20_000, CPUPeriodMicros: 100_000, CPUWeight: 1, CPUs: oneCPU, MemoryLimitBytes: 256 << 20}
	if _, err := e.ApplyCPU(b); err != nil {
		t.Fatalf("ApplyCPU: %v", err)
	}
	if _, err := e.ApplyMemory(b); err != nil {
		t.Fatalf("ApplyMemory: %v", err)
	}
	if err := e.SetOOMScoreAdj(1000); err != nil {
		t.Fatalf("SetOOMScoreAdj: %v", err)
	}

	for _, g := range []string{bigBox, podGroup} {
		l, err := fsys.Limits(g)
		if err != nil {
			t.Fatal(err)
		}
		if l.CPUQuotaMicros != 20_000 || l.CPUPeriodMicros != 100_000 || !slices.Equal(l.CPUs, oneCPU) {
			t.Errorf("%s after apply: quota %d/%d cpus %v; want 20000/100000 cpus %v", g, l.CPUQuotaMicros, l.CPUPeriodMicros, l.CPUs, oneCPU)
		}
	}
	if l, err := fsys.Limits(bigBox); err != nil || l.MemoryLimitBytes != 256<<20 || l.CPUWeight != 1 {
		t.Errorf("big box after apply: %+v, %v; want memory 256 MiB, weight 1", l, err)
	}
	if score, err := hostReader.OOMScoreAdj(pid); err != nil || score != 1000 {
		t.Errorf("burner oom_score_adj = %d, %v; want 1000", score, err)
	}
	waitThrottled(t, fsys, bigBox)

	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if err := e.Restore(ctx); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	for g, want := range map[string]cgroup.Limits{bigBox: origBox, podGroup: origPod} {
		got, err := fsys.Limits(g)
		if err != nil {
			t.Fatal(err)
		}
		if !equalLimits(got, want) {
			t.Errorf("%s after Restore = %+v, want %+v", g, got, want)
		}
	}
	if shares, err := fsys.CPUShares(bigBox); err != nil || shares != origShares {
		t.Errorf("cpu.shares after Restore = %d, %v; want %d", shares, err, origShares)
	}
}

// startBurner starts a CPU burner (this binary, see TestMain) in group and
// stops it when the test ends. The burner dies with the test process
// (Pdeathsig) and when its stdin closes.
func startBurner(t *testing.T, fsys *cgroup.FS, group string) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), busyEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Closing stdin ends the burner; Kill makes sure, Wait reaps it
		// so the cgroup is empty before it is removed.
		if err := stdin.Close(); err != nil {
			t.Errorf("close burner stdin: %v", err)
		}
		if err := cmd.Process.Kill(); err != nil && err != os.ErrProcessDone {
			t.Errorf("kill burner: %v", err)
		}
		// The burner exits by the signal or by its own os.Exit; either is
		// fine, so Wait's error is not a failure.
		_ = cmd.Wait()
	})
	if err := fsys.AddProc(group, cmd.Process.Pid); err != nil {
		t.Fatalf("move burner into %s: %v", group, err)
	}
	return cmd.Process.Pid
}

// waitThrottled waits until the kernel throttled group a few times (the
// burner wants a whole CPU, the quota grants 0.2).
func waitThrottled(t *testing.T, fsys *cgroup.FS, group string) {
	t.Helper()
	start, err := fsys.CPUStat(group)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ticker := clock.RealClock{}.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("%s not throttled within 10s (throttled periods stayed at %d)", group, start.Throttled)
		case <-ticker.C():
		}
		st, err := fsys.CPUStat(group)
		if err != nil {
			t.Fatal(err)
		}
		if st.Throttled >= start.Throttled+3 {
			t.Logf("%s throttled in %d of %d periods", group, st.Throttled-start.Throttled, st.Periods-start.Periods)
			return
		}
	}
}
