package host

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/bigbox-dev/bigbox/pkg/cgroup"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// Capacity is what the node has.
type Capacity struct {
	// Cores is the number of online CPUs (logical CPUs, so a hyper-thread
	// counts as one, as Kubernetes counts them).
	Cores float64
	// CPUs are the online CPU ids, sorted.
	CPUs []int
	// MemoryBytes is MemTotal.
	MemoryBytes uint64
}

// Capacity reads the online CPUs from <sys>/devices/system/cpu/online and
// MemTotal from <proc>/meminfo.
func (r *Reader) Capacity() (Capacity, error) {
	cpus, err := r.OnlineCPUs()
	if err != nil {
		return Capacity{}, fmt.Errorf("capacity: %w", err)
	}
	m, err := r.MemInfo()
	if err != nil {
		return Capacity{}, fmt.Errorf("capacity: %w", err)
	}
	return Capacity{Cores: float64(len(cpus)), CPUs: cpus, MemoryBytes: m.TotalBytes}, nil
}

// OnlineCPUs reads <sys>/devices/system/cpu/online: the ids of the CPUs the
// kernel schedules on, sorted. It is an error when none are listed.
func (r *Reader) OnlineCPUs() ([]int, error) {
	path := filepath.Join(r.sysRoot, "devices", "system", "cpu", "online")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("online cpus: %w", err)
	}
	cpus, err := parseCPUList(b)
	if err != nil {
		return nil, fmt.Errorf("online cpus: %s: %w", path, err)
	}
	if len(cpus) == 0 {
		return nil, fmt.Errorf("online cpus: %s lists no CPU", path)
	}
	return cpus, nil
}

// Topology groups the online CPUs into physical cores, so the big box's
// cpuset can take hyper-thread siblings together. For each online CPU N it
// reads <sys>/devices/system/cpu/cpuN/topology/thread_siblings_list (the
// CPUs sharing N's core); where that file is missing it groups by
// physical_package_id and core_id instead (core_id alone repeats across
// sockets); where those are missing too, N is a core of its own. So a
// kernel or container without topology files yields one CPU per core. A
// file that exists but cannot be parsed is an error. Offline CPUs are left
// out even when a sibling list names them. Each core's CPUs are sorted and
// the cores are sorted by their first CPU.
func (r *Reader) Topology() (qos.Topology, error) {
	online, err := r.OnlineCPUs()
	if err != nil {
		return qos.Topology{}, fmt.Errorf("topology: %w", err)
	}
	isOnline := make(map[int]bool, len(online))
	for _, c := range online {
		isOnline[c] = true
	}
	// Union-find over CPU ids, so inconsistent sibling lists (cpu0 naming 4
	// while cpu4 names only itself) still put every CPU in exactly one core.
	parent := make(map[int]int, len(online))
	for _, c := range online {
		parent[c] = c
	}
	var find func(int) int
	find = func(c int) int {
		p := parent[c]
		if p == c {
			return c
		}
		root := find(p)
		parent[c] = root
		return root
	}
	union := func(a, b int) {
		ra, rb := find(a), find(b)
		if ra != rb {
			parent[max(ra, rb)] = min(ra, rb)
		}
	}
	type coreKey struct{ pkg, core int64 }
	byCoreID := make(map[coreKey]int)
	for _, c := range online {
		dir := filepath.Join(r.sysRoot, "devices", "system", "cpu", "cpu"+strconv.Itoa(c), "topology")
		siblings, err := readCPUListFile(filepath.Join(dir, "thread_siblings_list"))
		switch {
		case err == nil:
			for _, s := range siblings {
				if isOnline[s] {
					union(c, s)
				}
			}
			continue
		case !errors.Is(err, fs.ErrNotExist):
			return qos.Topology{}, fmt.Errorf("topology: %w", err)
		}
		pkg, errPkg := readIntFile(filepath.Join(dir, "physical_package_id"))
		core, errCore := readIntFile(filepath.Join(dir, "core_id"))
		for _, err := range []error{errPkg, errCore} {
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return qos.Topology{}, fmt.Errorf("topology: %w", err)
			}
		}
		if errPkg != nil || errCore != nil {
			continue // no topology: a core of its own
		}
		k := coreKey{pkg, core}
		if first, ok := byCoreID[k]; ok {
			union(c, first)
		} else {
			byCoreID[k] = c
		}
	}
	groups := make(map[int][]int)
	for _, c := range online { // online is sorted, so each group is too
		root := find(c)
		groups[root] = append(groups[root], c)
	}
	topo := qos.Topology{Cores: make([][]int, 0, len(groups))}
	for _, g := range groups {
		topo.Cores = append(topo.Cores, g)
	}
	slices.SortFunc(topo.Cores, func(a, b []int) int { return a[0] - b[0] })
	return topo, nil
}

// readCPUListFile reads and parses a sysfs CPU list file.
func readCPUListFile(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err // already names the path
	}
	cpus, err := parseCPUList(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cpus, nil
}

// readIntFile reads a sysfs file holding one decimal integer.
func readIntFile(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err // already names the path
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

// parseCPUList parses a sysfs CPU list (cpu/online, thread_siblings_list)
// with the cpuset parser of pkg/cgroup: the kernel prints both the same way.
func parseCPUList(b []byte) ([]int, error) {
	cpus, err := cgroup.ParseCPUList(string(b))
	if err != nil {
		return nil, err
	}
	if cpus == nil {
		cpus = []int{}
	}
	return cpus, nil
}
