package sampler

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bigbox-dev/bigbox/internal/host"
	"github.com/bigbox-dev/bigbox/pkg/cgroup"
)

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// env is a fake node in a temporary directory: a procfs, a sysfs with two
// CPUs and a cgroup tree (v1 with separate cpu and cpuacct mounts, or v2),
// read through the real host.Reader and cgroup.FS.
type env struct {
	t       testing.TB
	version cgroup.Version
	cgRoot  string
	proc    string
	layout  cgroup.Layout
	clk     *clocktesting.FakeClock
	fs      *cgroup.FS
	host    *host.Reader
}

// groupStat is what a fake group's files say.
type groupStat struct {
	usageNanos     uint64
	periods        uint64
	throttled      uint64
	throttledNanos uint64
	memUsageBytes  uint64
	inactiveBytes  uint64
}

func newEnv(t testing.TB, v cgroup.Version, kubepods string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{
		t:       t,
		version: v,
		cgRoot:  filepath.Join(dir, "cgroup"),
		proc:    filepath.Join(dir, "proc"),
		layout:  cgroup.NewLayout(kubepods),
		clk:     clocktesting.NewFakeClock(epoch),
	}
	sys := filepath.Join(dir, "sys")
	e.write(filepath.Join(sys, "devices/system/cpu/online"), "0-1\n")
	e.setNode(0, 0, nil)
	e.setMemInfo(8<<30, 6<<30)
	for _, r := range psiResources {
		e.write(filepath.Join(e.proc, "pressure", r), "some avg10=1.00 avg60=0.50 avg300=0.25 total=1000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
	}
	if v == cgroup.V2 {
		e.write(filepath.Join(e.cgRoot, "cgroup.controllers"), "cpuset cpu io memory pids\n")
	} else {
		for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory"} {
			e.mkdir(filepath.Join(e.cgRoot, c))
		}
	}
	for _, g := range []string{e.layout.Kubepods, e.layout.Burstable, e.layout.Besteffort} {
		e.setGroup(g, groupStat{})
	}
	var err error
	if e.fs, err = cgroup.Open(e.cgRoot); err != nil {
		t.Fatal(err)
	}
	e.host = host.New(e.proc, sys)
	t.Cleanup(func() {
		if err := e.host.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

func (e *env) sampler() *Sampler {
	return New(e.fs, e.host, e.layout, e.clk, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func (e *env) mkdir(dir string) {
	e.t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) write(file, content string) {
	e.t.Helper()
	e.mkdir(filepath.Dir(file))
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// setNode writes /proc/stat: node busy and idle ticks (10 ms each), split
// evenly over the two CPUs unless perCPU gives [busy0, idle0, busy1, idle1].
func (e *env) setNode(busyTicks, idleTicks uint64, perCPU []uint64) {
	e.t.Helper()
	if perCPU == nil {
		perCPU = []uint64{busyTicks / 2, idleTicks / 2, busyTicks - busyTicks/2, idleTicks - idleTicks/2}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cpu  %d 0 0 %d 0 0 0 0 0 0\n", busyTicks, idleTicks)
	for i := range 2 {
		fmt.Fprintf(&b, "cpu%d %d 0 0 %d 0 0 0 0 0 0\n", i, perCPU[2*i], perCPU[2*i+1])
	}
	b.WriteString("intr 0\n")
	e.write(filepath.Join(e.proc, "stat"), b.String())
}

func (e *env) setMemInfo(totalBytes, availableBytes uint64) {
	e.t.Helper()
	e.write(filepath.Join(e.proc, "meminfo"), fmt.Sprintf("MemTotal: %d kB\nMemFree: 0 kB\nMemAvailable: %d kB\n", totalBytes>>10, availableBytes>>10))
}

// dir is a group's directory in controller c's hierarchy.
func (e *env) dir(c, group string) string {
	if e.version == cgroup.V2 {
		return filepath.Join(e.cgRoot, group)
	}
	return filepath.Join(e.cgRoot, c, group)
}

// setGroup creates or updates group's accounting files.
func (e *env) setGroup(group string, s groupStat) {
	e.t.Helper()
	if e.version == cgroup.V2 {
		d := e.dir("", group)
		e.write(filepath.Join(d, "cpu.stat"), fmt.Sprintf("usage_usec %d\nuser_usec 0\nsystem_usec 0\nnr_periods %d\nnr_throttled %d\nthrottled_usec %d\n",
			s.usageNanos/1000, s.periods, s.throttled, s.throttledNanos/1000))
		e.write(filepath.Join(d, "memory.current"), fmt.Sprintf("%d\n", s.memUsageBytes))
		e.write(filepath.Join(d, "memory.stat"), fmt.Sprintf("anon 0\nfile 0\ninactive_file %d\n", s.inactiveBytes))
		e.write(filepath.Join(d, "memory.max"), "max\n")
		for _, r := range psiResources {
			e.write(filepath.Join(d, r+".pressure"), "some avg10=2.00 avg60=0.00 avg300=0.00 total=10\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
		}
		return
	}
	e.write(filepath.Join(e.dir("cpuacct", group), "cpuacct.usage"), fmt.Sprintf("%d\n", s.usageNanos))
	e.write(filepath.Join(e.dir("cpu", group), "cpu.stat"), fmt.Sprintf("nr_periods %d\nnr_throttled %d\nthrottled_time %d\n", s.periods, s.throttled, s.throttledNanos))
	e.mkdir(e.dir("cpuset", group))
	m := e.dir("memory", group)
	e.write(filepath.Join(m, "memory.usage_in_bytes"), fmt.Sprintf("%d\n", s.memUsageBytes))
	e.write(filepath.Join(m, "memory.stat"), fmt.Sprintf("cache 0\nrss 0\ntotal_inactive_file %d\n", s.inactiveBytes))
	e.write(filepath.Join(m, "memory.limit_in_bytes"), "9223372036854771712\n")
}

// removeGroup deletes group from every hierarchy.
func (e *env) removeGroup(group string) {
	e.t.Helper()
	for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory"} {
		if err := os.RemoveAll(e.dir(c, group)); err != nil {
			e.t.Fatal(err)
		}
	}
}
