// Package faketree writes a kubelet-shaped cgroup v1 or v2 tree of plain
// files into a directory, with the files bigbox reads and writes, for
// benchmarks and for running the agent against many pods without a
// kubelet. Values are fixed and plausible; nothing changes them over time.
package faketree

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Spec says what tree to write.
type Spec struct {
	// Version is 1 or 2.
	Version int
	// Pods in burstable (online) and besteffort (offline).
	OnlinePods, OfflinePods int
	// CPUs in the root cpuset.
	CPUs int
}

// v1Controllers are the hierarchies bigbox uses on cgroup v1.
var v1Controllers = []string{"cpu", "cpuacct", "cpuset", "memory"}

// Write creates the tree under root, which must exist.
func Write(root string, s Spec) error {
	w := &writer{root: root, v: s.Version, cpus: fmt.Sprintf("0-%d", max(s.CPUs, 1)-1)}
	switch s.Version {
	case 1:
		for _, c := range v1Controllers {
			if err := os.MkdirAll(filepath.Join(root, c), 0o755); err != nil {
				return err
			}
		}
	case 2:
		w.file("", "cgroup.controllers", "cpuset cpu io memory pids")
	default:
		return fmt.Errorf("cgroup version %d: want 1 or 2", s.Version)
	}
	w.group("")
	for _, g := range []string{"kubepods", "kubepods/burstable", "kubepods/besteffort"} {
		w.group(g)
	}
	for i := range s.OnlinePods {
		w.pod("kubepods/burstable", i)
	}
	for i := range s.OfflinePods {
		w.pod("kubepods/besteffort", 100000+i)
	}
	return w.err
}

type writer struct {
	root string
	v    int
	cpus string
	err  error
}

func (w *writer) file(group, name, content string) {
	w.ctrlFile("", group, name, content)
}

func (w *writer) ctrlFile(ctrl, group, name, content string) {
	if w.err != nil {
		return
	}
	dir := filepath.Join(w.root, group)
	if w.v == 1 {
		dir = filepath.Join(w.root, ctrl, group)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		w.err = err
		return
	}
	w.err = os.WriteFile(filepath.Join(dir, name), []byte(content+"\n"), 0o644)
}

func (w *writer) group(g string) {
	if w.v == 1 {
		w.ctrlFile("cpu", g, "cpu.cfs_quota_us", "-1")
		w.ctrlFile("cpu", g, "cpu.cfs_period_us", "100000")
		w.ctrlFile("cpu", g, "cpu.shares", "1024")
		w.ctrlFile("cpu", g, "cpu.stat", "nr_periods 100\nnr_throttled 3\nthrottled_time 123456")
		w.ctrlFile("cpu", g, "cgroup.procs", "")
		w.ctrlFile("cpuacct", g, "cpuacct.usage", "123456789")
		w.ctrlFile("cpuacct", g, "cgroup.procs", "")
		w.ctrlFile("cpuset", g, "cpuset.cpus", w.cpus)
		w.ctrlFile("cpuset", g, "cpuset.effective_cpus", w.cpus)
		w.ctrlFile("cpuset", g, "cpuset.mems", "0")
		w.ctrlFile("cpuset", g, "cgroup.procs", "")
		w.ctrlFile("memory", g, "memory.usage_in_bytes", "104857600")
		w.ctrlFile("memory", g, "memory.limit_in_bytes", "9223372036854771712")
		w.ctrlFile("memory", g, "memory.stat", memoryStatV1)
		w.ctrlFile("memory", g, "cgroup.procs", "")
		return
	}
	w.file(g, "cgroup.controllers", "cpuset cpu io memory pids")
	w.file(g, "cgroup.subtree_control", "cpuset cpu io memory pids")
	w.file(g, "cgroup.procs", "")
	w.file(g, "cpu.max", "max 100000")
	w.file(g, "cpu.weight", "100")
	w.file(g, "cpu.stat", "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\nnr_periods 100\nnr_throttled 3\nthrottled_usec 1234")
	w.file(g, "cpu.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0")
	w.file(g, "cpuset.cpus", "")
	w.file(g, "cpuset.cpus.effective", w.cpus)
	w.file(g, "memory.current", "104857600")
	w.file(g, "memory.max", "max")
	w.file(g, "memory.stat", memoryStatV2)
	w.file(g, "memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0")
}

func (w *writer) pod(parent string, i int) {
	uid := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	pod := parent + "/pod" + uid
	w.group(pod)
	w.group(pod + "/c" + strconv.Itoa(i))
}

const memoryStatV1 = `cache 20971520
rss 83886080
mapped_file 0
inactive_anon 0
active_anon 83886080
inactive_file 10485760
active_file 10485760
unevictable 0
hierarchical_memory_limit 9223372036854771712
total_cache 20971520
total_rss 83886080
total_inactive_anon 0
total_active_anon 83886080
total_inactive_file 10485760
total_active_file 10485760`

const memoryStatV2 = `anon 83886080
file 20971520
kernel 0
anon_thp 0
inactive_anon 0
active_anon 83886080
inactive_file 10485760
active_file 10485760
unevictable 0`
