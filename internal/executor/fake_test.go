package executor

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/bigbox-dev/bigbox/pkg/cgroup"
)

// fakeCgroups is an in-memory hierarchy that enforces the kernel rules the
// executor's write order exists for, and records every successful write as
// "<file> <group> <value>". A write the kernel would refuse fails with the
// kernel's errno and changes nothing, so a wrong order fails the test even
// where the recorded order is not compared.
type fakeCgroups struct {
	mu      sync.Mutex
	version cgroup.Version
	groups  map[string]*fakeGroup
	writes  []string
	// fail makes the next write of "<file> <group>" fail with the error.
	fail map[string]error
}

type fakeGroup struct {
	lim        cgroup.Limits
	usageBytes int64
	pids       []int
}

func newFake(v cgroup.Version) *fakeCgroups {
	return &fakeCgroups{version: v, groups: map[string]*fakeGroup{}, fail: map[string]error{}}
}

// add creates group with lim; parents must exist (except the root).
func (f *fakeCgroups) add(group string, lim cgroup.Limits) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lim.CPUs = slices.Clone(lim.CPUs)
	f.groups[group] = &fakeGroup{lim: lim}
}

func (f *fakeCgroups) remove(group string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.groups, group)
}

// edit changes a group behind the executor's back (no write recorded).
func (f *fakeCgroups) edit(group string, fn func(g *fakeGroup)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.groups[group])
}

func (f *fakeCgroups) get(group string) cgroup.Limits {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.groups[group].lim
	l.CPUs = slices.Clone(l.CPUs)
	return l
}

func (f *fakeCgroups) takeWrites() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.writes
	f.writes = nil
	return w
}

func (f *fakeCgroups) Version() cgroup.Version { return f.version }

func (f *fakeCgroups) notExist(group string) error {
	return &fs.PathError{Op: "open", Path: group, Err: fs.ErrNotExist}
}

func (f *fakeCgroups) Limits(group string) (cgroup.Limits, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.groups[group]
	if !ok {
		return cgroup.Limits{}, f.notExist(group)
	}
	l := g.lim
	l.CPUs = slices.Clone(l.CPUs)
	return l, nil
}

func (f *fakeCgroups) Children(group string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.groups[group]; !ok {
		return nil, f.notExist(group)
	}
	return f.childrenLocked(group), nil
}

func (f *fakeCgroups) childrenLocked(group string) []string {
	var names []string
	for g := range f.groups {
		if path.Dir(g) == group && g != group {
			names = append(names, path.Base(g))
		}
	}
	sort.Strings(names)
	return names
}

func (f *fakeCgroups) Procs(group string, recursive bool) ([]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.groups[group]
	if !ok {
		return nil, f.notExist(group)
	}
	pids := slices.Clone(g.pids)
	if recursive {
		for name, c := range f.groups {
			if strings.HasPrefix(name, group+"/") {
				pids = append(pids, c.pids...)
			}
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// write applies fn to group after the injected failure check, records it on
// success.
func (f *fakeCgroups) write(file, group, value string, fn func(g *fakeGroup) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := file + " " + group
	if err, ok := f.fail[key]; ok {
		delete(f.fail, key)
		return &fs.PathError{Op: "write", Path: key, Err: err}
	}
	g, ok := f.groups[group]
	if !ok {
		return f.notExist(group)
	}
	if err := fn(g); err != nil {
		return &fs.PathError{Op: "write", Path: key, Err: err}
	}
	f.writes = append(f.writes, key+" "+value)
	return nil
}

func cores(q, p int64) float64 { return quota{q, p}.cores() }

func (f *fakeCgroups) SetCPUQuota(group string, quotaMicros, periodMicros int64) error {
	return f.write("cpu.cfs_quota_us", group, fmt.Sprintf("%d/%d", quotaMicros, periodMicros), func(g *fakeGroup) error {
		old := g.lim
		g.lim.CPUQuotaMicros, g.lim.CPUPeriodMicros = quotaMicros, periodMicros
		if f.version == cgroup.V1 && !f.schedulableLocked() {
			g.lim = old
			return syscall.EINVAL
		}
		return nil
	})
}

// schedulableLocked is tg_cfs_schedulable_down: top-down, a group with a
// quota may not have more bandwidth than its nearest limited ancestor.
func (f *fakeCgroups) schedulableLocked() bool {
	names := make([]string, 0, len(f.groups))
	for g := range f.groups {
		names = append(names, g)
	}
	slices.SortFunc(names, byDepth)
	eff := map[string]float64{}
	for _, n := range names {
		parent := inf
		if p, ok := eff[path.Dir(n)]; ok {
			parent = p
		}
		l := f.groups[n].lim
		own := cores(l.CPUQuotaMicros, l.CPUPeriodMicros)
		if own == inf {
			eff[n] = parent
			continue
		}
		if own > parent {
			return false
		}
		eff[n] = own
	}
	return true
}

func (f *fakeCgroups) SetCPUWeight(group string, weight uint64) error {
	return f.write("cpu.weight", group, strconv.FormatUint(weight, 10), func(g *fakeGroup) error {
		g.lim.CPUWeight = weight
		return nil
	})
}

// CPUShares and SetCPUShares model v1 shares through the weight, as the
// kernel would round-trip them.
func (f *fakeCgroups) CPUShares(group string) (uint64, error) {
	l, err := f.Limits(group)
	if err != nil {
		return 0, err
	}
	return cgroup.WeightToShares(l.CPUWeight)
}

func (f *fakeCgroups) SetCPUShares(group string, shares uint64) error {
	return f.write("cpu.shares", group, strconv.FormatUint(shares, 10), func(g *fakeGroup) error {
		g.lim.CPUWeight = cgroup.SharesToWeight(shares)
		return nil
	})
}

func (f *fakeCgroups) SetCPUs(group string, cpus []int) error {
	return f.write("cpuset.cpus", group, formatCPUs(cpus), func(g *fakeGroup) error {
		if f.version == cgroup.V1 {
			for _, c := range f.childrenLocked(group) {
				if !subsetCPUs(f.groups[path.Join(group, c)].lim.CPUs, cpus) {
					return syscall.EBUSY // a child uses a CPU we drop
				}
			}
			if p, ok := f.groups[path.Dir(group)]; ok && !subsetCPUs(cpus, p.lim.CPUs) {
				return syscall.EACCES // outside the parent
			}
		}
		g.lim.CPUs = slices.Clone(cpus)
		return nil
	})
}

func (f *fakeCgroups) SetMemoryLimit(group string, limitBytes int64) error {
	return f.write("memory.limit_in_bytes", group, strconv.FormatInt(limitBytes, 10), func(g *fakeGroup) error {
		if f.version == cgroup.V1 && limitBytes >= 0 && limitBytes < g.usageBytes {
			return syscall.EBUSY // reclaim could not get below the limit
		}
		g.lim.MemoryLimitBytes = limitBytes
		return nil
	})
}

func formatCPUs(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}

// fakeOOM records oom_score_adj writes; pids in gone fail with ENOENT.
type fakeOOM struct {
	mu     sync.Mutex
	scores map[int]int
	calls  []int
	gone   map[int]bool
}

func (o *fakeOOM) SetOOMScoreAdj(pid, score int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, pid)
	if o.gone[pid] {
		return &fs.PathError{Op: "open", Path: fmt.Sprintf("/proc/%d/oom_score_adj", pid), Err: syscall.ENOENT}
	}
	if o.scores == nil {
		o.scores = map[int]int{}
	}
	o.scores[pid] = score
	return nil
}
