package cgroup

import (
	"os"
	"path/filepath"
	"testing"
)

// v1 "unlimited" as the kernel prints it with 4 KiB pages.
const v1Unlimited = "9223372036854771712\n"

// fakeTree is a cgroup hierarchy under t.TempDir() whose files read as the
// kernel prints them. Writes through FS land in the same files, so a test
// reads back what was written.
type fakeTree struct {
	t       testing.TB
	root    string
	version Version
	// dirs maps controller names to their directory ("" on v2).
	dirs map[string]string
}

// v1 mount shapes of cpu and cpuacct.
type v1Mounts int

const (
	separate   v1Mounts = iota // cpu and cpuacct mounted apart
	jointLinks                 // one "cpu,cpuacct" mount, cpu and cpuacct symlinks to it (systemd)
	jointOnly                  // one "cpu,cpuacct" mount, no symlinks
)

// newFakeV1 builds a v1 tree (plus the empty v2 at unified of a hybrid
// host) with cpu and cpuacct mounted as m says.
func newFakeV1(t testing.TB, m v1Mounts) *fakeTree {
	t.Helper()
	root := t.TempDir()
	ft := &fakeTree{t: t, root: root, version: V1, dirs: map[string]string{
		CPU: "cpu", CPUAcct: "cpuacct", CPUSet: "cpuset", Memory: "memory",
	}}
	switch m {
	case jointLinks:
		ft.mkdir("cpu,cpuacct")
		for _, l := range []string{"cpu", "cpuacct"} {
			if err := os.Symlink("cpu,cpuacct", filepath.Join(root, l)); err != nil {
				t.Fatal(err)
			}
		}
	case jointOnly:
		ft.dirs[CPU], ft.dirs[CPUAcct] = "cpu,cpuacct", "cpu,cpuacct"
	}
	ft.addGroup("")
	// A hybrid host also has an empty v2 at unified.
	ft.mkdir("unified")
	ft.writeRaw("unified/cgroup.controllers", "\n")
	return ft
}

// newFakeV1Only builds a v1 tree with only the named mounts (as
// directories), nothing else.
func newFakeV1Only(t testing.TB, mounts ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, m := range mounts {
		if err := os.MkdirAll(filepath.Join(root, m), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func newFakeV2(t testing.TB) *fakeTree {
	t.Helper()
	ft := &fakeTree{t: t, root: t.TempDir(), version: V2, dirs: map[string]string{}}
	ft.addGroup("")
	return ft
}

func (ft *fakeTree) open() *FS {
	ft.t.Helper()
	f, err := Open(ft.root)
	if err != nil {
		ft.t.Fatalf("Open: %v", err)
	}
	return f
}

func (ft *fakeTree) mkdir(rel string) {
	ft.t.Helper()
	if err := os.MkdirAll(filepath.Join(ft.root, rel), 0o755); err != nil {
		ft.t.Fatal(err)
	}
}

func (ft *fakeTree) writeRaw(rel, content string) {
	ft.t.Helper()
	if err := os.WriteFile(filepath.Join(ft.root, rel), []byte(content), 0o644); err != nil {
		ft.t.Fatal(err)
	}
}

// rel is the path of a group's file relative to the root.
func (ft *fakeTree) rel(ctrl, group, file string) string {
	return filepath.Join(ft.dirs[ctrl], group, file)
}

// set writes a control file of group in ctrl's hierarchy.
func (ft *fakeTree) set(ctrl, group, file, content string) {
	ft.t.Helper()
	ft.mkdir(filepath.Join(ft.dirs[ctrl], group))
	ft.writeRaw(ft.rel(ctrl, group, file), content)
}

// get reads a control file of group in ctrl's hierarchy.
func (ft *fakeTree) get(ctrl, group, file string) string {
	ft.t.Helper()
	b, err := os.ReadFile(filepath.Join(ft.root, ft.rel(ctrl, group, file)))
	if err != nil {
		ft.t.Fatal(err)
	}
	return string(b)
}

// addGroup makes group (and its dirs) with the files a fresh kernel group
// has; the root ("") gets root-like values.
func (ft *fakeTree) addGroup(group string) {
	ft.t.Helper()
	isRoot := group == ""
	if ft.version == V2 {
		ft.set(CPU, group, "cgroup.controllers", "cpuset cpu io memory pids\n")
		ft.set(CPU, group, "cgroup.subtree_control", "\n")
		ft.set(CPU, group, "cgroup.procs", "")
		ft.set(CPU, group, "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n")
		ft.set(CPU, group, "cpu.max", "max 100000\n")
		ft.set(CPU, group, "cpu.weight", "100\n")
		ft.set(CPU, group, "cpuset.cpus", "\n")
		ft.set(CPU, group, "cpuset.mems", "\n")
		ft.set(CPU, group, "cpuset.cpus.effective", "0-3\n")
		ft.set(CPU, group, "memory.current", "0\n")
		ft.set(CPU, group, "memory.max", "max\n")
		ft.set(CPU, group, "memory.stat", "anon 0\nfile 0\nactive_anon 0\ninactive_anon 0\nactive_file 0\ninactive_file 0\n")
		for _, r := range []string{"cpu", "memory", "io"} {
			ft.set(CPU, group, r+".pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
		}
		return
	}
	for _, c := range controllers() {
		ft.set(c, group, "cgroup.procs", "")
	}
	ft.set(CPU, group, "cpu.cfs_period_us", "100000\n")
	ft.set(CPU, group, "cpu.cfs_quota_us", "-1\n")
	ft.set(CPU, group, "cpu.shares", "1024\n")
	ft.set(CPU, group, "cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\nnr_bursts 0\nburst_time 0\n")
	ft.set(CPUAcct, group, "cpuacct.usage", "0\n")
	cpus, mems := "\n", "\n"
	if isRoot {
		cpus, mems = "0-3\n", "0\n"
	}
	ft.set(CPUSet, group, "cpuset.cpus", cpus)
	ft.set(CPUSet, group, "cpuset.mems", mems)
	ft.set(CPUSet, group, "cpuset.effective_cpus", cpus)
	ft.set(Memory, group, "memory.usage_in_bytes", "0\n")
	ft.set(Memory, group, "memory.limit_in_bytes", v1Unlimited)
	ft.set(Memory, group, "memory.memsw.limit_in_bytes", v1Unlimited)
	ft.set(Memory, group, "memory.stat", "cache 0\nrss 0\ninactive_file 0\nactive_file 0\ntotal_cache 0\ntotal_rss 0\ntotal_inactive_file 0\ntotal_active_file 0\n")
}
