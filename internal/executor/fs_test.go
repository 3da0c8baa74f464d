package executor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bigbox-dev/bigbox/pkg/cgroup"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// v1Unlimited is "no limit" as v1 prints it with 4 KiB pages.
const v1Unlimited = "9223372036854771712"

// fileTree is a cgroup hierarchy of plain files under t.TempDir(), read and
// written through the real cgroup.FS. It checks what lands in the files;
// the kernel's ordering rules are the in-memory fake's job.
type fileTree struct {
	t       *testing.T
	root    string
	version cgroup.Version
}

func newFileTree(t *testing.T, v cgroup.Version, groups ...string) *fileTree {
	t.Helper()
	ft := &fileTree{t: t, root: t.TempDir(), version: v}
	if v == cgroup.V2 {
		ft.put("", "cgroup.controllers", "cpuset cpu io memory pids")
	}
	for _, g := range groups {
		if v == cgroup.V2 {
			for name, val := range map[string]string{
				"cgroup.procs": "", "cpu.max": "max 100000", "cpu.weight": "100",
				"cpuset.cpus": "", "memory.max": "max",
			} {
				ft.put(g, name, val)
			}
			continue
		}
		for name, val := range map[string]string{
			"cpu/cgroup.procs": "", "cpu/cpu.cfs_period_us": "100000", "cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.shares": "1024",
			"cpuacct/cgroup.procs": "",
			"cpuset/cgroup.procs":  "", "cpuset/cpuset.cpus": "0-3", "cpuset/cpuset.mems": "0", "cpuset/cpuset.effective_cpus": "0-3",
			"memory/cgroup.procs": "", "memory/memory.limit_in_bytes": v1Unlimited,
		} {
			ctrl, file, _ := strings.Cut(name, "/")
			ft.put(filepath.Join(ctrl, g), file, val)
		}
	}
	return ft
}

func (ft *fileTree) put(dir, file, content string) {
	ft.t.Helper()
	d := filepath.Join(ft.root, dir)
	if err := os.MkdirAll(d, 0o755); err != nil {
		ft.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, file), []byte(content+"\n"), 0o644); err != nil {
		ft.t.Fatal(err)
	}
}

// file is the path of a control file of group: "cpu/cpu.shares" names the
// controller on v1 (ignored on v2).
func (ft *fileTree) file(group, name string) string {
	ctrl, file, _ := strings.Cut(name, "/")
	if ft.version == cgroup.V2 {
		return filepath.Join(ft.root, group, file)
	}
	return filepath.Join(ft.root, ctrl, group, file)
}

func (ft *fileTree) get(group, name string) string {
	ft.t.Helper()
	b, err := os.ReadFile(ft.file(group, name))
	if err != nil {
		ft.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func (ft *fileTree) set(group, name, content string) {
	ft.t.Helper()
	if err := os.WriteFile(ft.file(group, name), []byte(content+"\n"), 0o644); err != nil {
		ft.t.Fatal(err)
	}
}

func TestFileTree(t *testing.T) {
	t.Parallel()
	type check struct{ group, file, want string }
	cases := []struct {
		name    string
		version cgroup.Version
		applied []check
		// drift is rewritten behind the executor's back and must come back.
		drift     []check
		driftFile []string
		restored  []check
	}{
		{
			name:    "v1",
			version: cgroup.V1,
			applied: []check{
				{box, "cpu/cpu.cfs_quota_us", "50000"},
				{box, "cpu/cpu.cfs_period_us", "100000"},
				{box, "cpu/cpu.shares", "2"},
				{box, "cpuset/cpuset.cpus", "1"},
				{pod, "cpuset/cpuset.cpus", "1"},
				{box, "memory/memory.limit_in_bytes", "1073741824"},
			},
			drift: []check{
				{box, "cpu/cpu.shares", "1024"},
				{box, "memory/memory.limit_in_bytes", v1Unlimited},
			},
			driftFile: []string{"cpu.shares", "memory.limit_in_bytes"},
			restored: []check{
				{box, "cpu/cpu.cfs_quota_us", "-1"},
				{box, "cpu/cpu.shares", "1024"}, // exact, not the weight's 1022
				{box, "cpuset/cpuset.cpus", "0-3"},
				{pod, "cpuset/cpuset.cpus", "0-3"},
				{box, "memory/memory.limit_in_bytes", "-1"},
			},
		},
		{
			name:    "v2",
			version: cgroup.V2,
			applied: []check{
				{box, "cpu/cpu.max", "50000 100000"},
				{box, "cpu/cpu.weight", "1"},
				{box, "cpuset/cpuset.cpus", "1"},
				{pod, "cpuset/cpuset.cpus", ""}, // v2: only the big box
				{box, "memory/memory.max", "1073741824"},
			},
			drift: []check{
				{box, "cpu/cpu.weight", "100"},
				{box, "memory/memory.max", "max"},
			},
			driftFile: []string{"cpu.weight", "memory.max"},
			restored: []check{
				{box, "cpu/cpu.max", "max 100000"},
				{box, "cpu/cpu.weight", "100"},
				{box, "cpuset/cpuset.cpus", ""},
				{box, "memory/memory.max", "max"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ft := newFileTree(t, tc.version, parent, box, pod)
			fsys, err := cgroup.Open(ft.root)
			if err != nil {
				t.Fatal(err)
			}
			clk := clocktesting.NewFakeClock(epoch)
			e, err := New(fsys, &fakeOOM{}, box, prometheus.NewRegistry(), clk, discard())
			if err != nil {
				t.Fatal(err)
			}
			b := qos.BigBox{CPUQuotaMicros: 50_000, CPUPeriodMicros: 100_000, CPUWeight: 1, CPUs: []int{1}, MemoryLimitBytes: 1 << 30}
			apply := func() {
				t.Helper()
				if _, err := e.ApplyCPU(b); err != nil {
					t.Fatalf("ApplyCPU: %v", err)
				}
				if _, err := e.ApplyMemory(b); err != nil {
					t.Fatalf("ApplyMemory: %v", err)
				}
			}
			verify := func(stage string, checks []check) {
				t.Helper()
				for _, c := range checks {
					if got := ft.get(c.group, c.file); got != c.want {
						t.Errorf("%s: %s %s = %q, want %q", stage, c.group, c.file, got, c.want)
					}
				}
			}
			apply()
			verify("applied", tc.applied)

			for _, c := range tc.drift {
				ft.set(c.group, c.file, c.want)
			}
			clk.Step(DefaultForceInterval)
			apply()
			verify("after drift", tc.applied)
			for _, f := range tc.driftFile {
				if got := testutil.ToFloat64(e.drift.WithLabelValues(f)); got != 1 {
					t.Errorf("bigbox_cgroup_drift_total{file=%q} = %v, want 1", f, got)
				}
			}

			if err := e.Restore(context.Background()); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			verify("restored", tc.restored)
		})
	}
}

func TestFileTreeForceIntervalOption(t *testing.T) {
	t.Parallel()
	ft := newFileTree(t, cgroup.V1, parent, box)
	fsys, err := cgroup.Open(ft.root)
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(epoch)
	e, err := New(fsys, &fakeOOM{}, box, prometheus.NewRegistry(), clk, discard(), WithForceInterval(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	b := with(func(b *qos.BigBox) { b.CPUQuotaMicros = 20_000 })
	if _, err := e.ApplyCPU(b); err != nil {
		t.Fatal(err)
	}
	ft.set(box, "cpu/cpu.cfs_quota_us", "-1")
	clk.Step(5 * time.Second)
	if c, err := e.ApplyCPU(b); err != nil || !c {
		t.Fatalf("ApplyCPU after 5s = %v, %v; want a rewrite", c, err)
	}
	if got := ft.get(box, "cpu/cpu.cfs_quota_us"); got != "20000" {
		t.Errorf("quota = %s, want 20000", got)
	}
	if _, err := New(fsys, &fakeOOM{}, box, prometheus.NewRegistry(), clk, discard(), WithForceInterval(0)); err == nil {
		t.Error("New with a zero force interval: want an error")
	}
}
