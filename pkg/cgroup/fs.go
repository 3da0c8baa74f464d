package cgroup

import "errors"

// TODO(#3): skeleton; the cgroup work replaces every body below.
var errTODO = errors.New("cgroup: not implemented yet")

// FS is one machine's cgroup hierarchy (all v1 controller mounts, or the v2
// unified tree) under a root directory.
type FS struct {
	root    string
	version Version
}

// Open detects the cgroup version under root (v2 when root/cgroup.controllers
// exists, v1 when controller directories such as root/cpu and root/memory
// do).
func Open(root string) (*FS, error) { return nil, errTODO }

// Version returns the hierarchy's cgroup version.
func (f *FS) Version() Version { return f.version }

// Root returns the hierarchy root.
func (f *FS) Root() string { return f.root }

// Exists reports whether group exists (v1: in the cpu hierarchy).
func (f *FS) Exists(group string) bool { return false }

// Children lists the names of group's direct child groups, sorted.
func (f *FS) Children(group string) ([]string, error) { return nil, errTODO }

// Procs lists the PIDs in group and, when recursive, in all its descendants.
func (f *FS) Procs(group string, recursive bool) ([]int, error) { return nil, errTODO }

// CPUUsageNanos reads only the cumulative CPU time of group: the cheapest
// read, for the fast CPU loop.
func (f *FS) CPUUsageNanos(group string) (uint64, error) { return 0, errTODO }

// CPUStat reads group's CPU time and throttling counters.
func (f *FS) CPUStat(group string) (CPUStat, error) { return CPUStat{}, errTODO }

// MemoryStat reads group's memory usage, inactive file and limit.
func (f *FS) MemoryStat(group string) (MemoryStat, error) { return MemoryStat{}, errTODO }

// Pressure reads group's PSI for resource "cpu", "memory" or "io";
// ErrNotSupported where the kernel does not provide it (v1).
func (f *FS) Pressure(group, resource string) (PSI, error) { return PSI{}, errTODO }

// Limits reads the values bigbox controls from group.
func (f *FS) Limits(group string) (Limits, error) { return Limits{}, errTODO }

// SetCPUQuota writes the CFS quota and period.
func (f *FS) SetCPUQuota(group string, quotaMicros, periodMicros int64) error { return errTODO }

// SetCPUWeight writes cpu.weight (v2) or the equivalent cpu.shares (v1).
func (f *FS) SetCPUWeight(group string, weight uint64) error { return errTODO }

// SetCPUs writes the cpuset (v1 also fills cpuset.mems from the parent when
// it is empty, as the kernel rejects tasks otherwise).
func (f *FS) SetCPUs(group string, cpus []int) error { return errTODO }

// SetMemoryLimit writes the hard memory limit.
func (f *FS) SetMemoryLimit(group string, limitBytes int64) error { return errTODO }
