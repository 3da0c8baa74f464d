package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
)

// Controller names, as v1 mounts them and as Path takes them. cgroup1's
// names are the kernel's.
const (
	CPU     = string(cgroup1.Cpu)
	CPUAcct = string(cgroup1.Cpuacct)
	CPUSet  = string(cgroup1.Cpuset)
	Memory  = string(cgroup1.Memory)
)

// controllers returns the v1 hierarchies bigbox uses, in the order Create
// and AddProc visit them (a function, not a package variable, so nothing
// can change it).
func controllers() [4]string { return [4]string{CPU, CPUAcct, CPUSet, Memory} }

// FS is one machine's cgroup hierarchy (all v1 controller mounts, or the v2
// unified tree) under a root directory.
type FS struct {
	root    string
	version Version
	// dirs maps a controller to its v1 mount directory below root ("cpu",
	// "cpu,cpuacct", …); absent when not mounted. Unused on v2.
	dirs map[string]string
	// hier lists the controllers whose directories are distinct mounts
	// (cpu and cpuacct are one on a joint mount, even through symlinks), in
	// the order of controllers. Unused on v2.
	hier []string
}

// Open detects the cgroup version under root (v2 when root/cgroup.controllers
// exists, v1 when controller directories such as root/cpu and root/memory
// do).
//
// On v1 the cpu and cpuacct controllers may be separate mounts (root/cpu,
// root/cpuacct) or one joint mount (root/"cpu,cpuacct", often with cpu and
// cpuacct symlinks to it); both work. A hybrid host (v1 controllers plus a
// controller-less v2 at root/unified) is v1.
func Open(root string) (*FS, error) {
	if root == "" {
		return nil, errors.New("cgroup: empty root")
	}
	if isFile(root + "/cgroup.controllers") {
		return &FS{root: root, version: V2}, nil
	}
	candidates := map[string][]string{
		CPU:     {"cpu", "cpu,cpuacct", "cpuacct,cpu"},
		CPUAcct: {"cpuacct", "cpu,cpuacct", "cpuacct,cpu"},
		CPUSet:  {"cpuset"},
		Memory:  {"memory"},
	}
	dirs := make(map[string]string)
	for ctrl, names := range candidates {
		for _, name := range names {
			if isDir(root + "/" + name) {
				dirs[ctrl] = name
				break
			}
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("cgroup: %s holds neither cgroup v2 (no cgroup.controllers) nor v1 controller directories (cpu, cpuacct, cpuset, memory)", root)
	}
	var hier []string
	var seen []os.FileInfo
	for _, c := range controllers() {
		dir, ok := dirs[c]
		if !ok {
			continue
		}
		st, err := os.Stat(root + "/" + dir)
		if err != nil {
			return nil, fmt.Errorf("cgroup: %w", err)
		}
		if slices.ContainsFunc(seen, func(o os.FileInfo) bool { return os.SameFile(o, st) }) {
			continue
		}
		seen = append(seen, st)
		hier = append(hier, c)
	}
	return &FS{root: root, version: V1, dirs: dirs, hier: hier}, nil
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// Version returns the hierarchy's cgroup version.
func (f *FS) Version() Version { return f.version }

// Root returns the hierarchy root.
func (f *FS) Root() string { return f.root }

// Path returns the directory of group in controller's hierarchy (v1) or in
// the unified tree (v2, where controller is ignored). On v1 an unmounted
// controller gives root/<controller>/group, which does not exist.
func (f *FS) Path(controller, group string) string {
	base := f.root
	if f.version == V1 {
		base += "/" + f.v1Dir(controller)
	}
	if group == "" {
		return base
	}
	return base + "/" + group
}

// file returns the path of a control file of group on controller's
// hierarchy, or an error when the group name is bad or (v1) the controller
// is not mounted.
func (f *FS) file(controller, group, name string) (string, error) {
	if err := checkGroup(group); err != nil {
		return "", err
	}
	if f.version == V1 {
		if _, ok := f.dirs[controller]; !ok {
			return "", fmt.Errorf("%w: v1 controller %s is not mounted under %s", ErrNotSupported, controller, f.root)
		}
	}
	return f.filePath(controller, group, name), nil
}

// filePath is Path(controller, group)+"/"+name in one allocation.
func (f *FS) filePath(controller, group, name string) string {
	switch {
	case f.version == V2 && group == "":
		return f.root + "/" + name
	case f.version == V2:
		return f.root + "/" + group + "/" + name
	case group == "":
		return f.root + "/" + f.v1Dir(controller) + "/" + name
	}
	return f.root + "/" + f.v1Dir(controller) + "/" + group + "/" + name
}

func (f *FS) v1Dir(controller string) string {
	if dir, ok := f.dirs[controller]; ok {
		return dir
	}
	return controller
}

// readGroupFile reads a control file with a caller-provided buffer.
func (f *FS) readGroupFile(controller, group, name string, buf []byte) ([]byte, string, error) {
	path, err := f.file(controller, group, name)
	if err != nil {
		return nil, "", err
	}
	b, err := readFile(path, buf)
	return b, path, err
}

func (f *FS) readUint(controller, group, name string) (uint64, error) {
	var buf [64]byte
	b, path, err := f.readGroupFile(controller, group, name, buf[:])
	if err != nil {
		return 0, err
	}
	v, err := parseUint(b)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return v, nil
}

func (f *FS) readLimit(controller, group, name string) (int64, error) {
	var buf [64]byte
	b, path, err := f.readGroupFile(controller, group, name, buf[:])
	if err != nil {
		return 0, err
	}
	v, err := parseLimit(b)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return v, nil
}

func (f *FS) readCPUList(controller, group, name string) ([]int, error) {
	var buf [256]byte
	b, path, err := f.readGroupFile(controller, group, name, buf[:])
	if err != nil {
		return nil, err
	}
	cpus, err := ParseCPUList(string(b))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return cpus, nil
}

func (f *FS) write(controller, group, name, value string) error {
	path, err := f.file(controller, group, name)
	if err != nil {
		return err
	}
	return writeFile(path, value)
}

// Exists reports whether group exists (v1: in the cpu hierarchy).
func (f *FS) Exists(group string) bool {
	if checkGroup(group) != nil {
		return false
	}
	return isDir(f.Path(f.listController(), group))
}

// listController is the v1 hierarchy that Exists, Children and Procs look
// at: cpu, or cpuacct when cpu is not mounted.
func (f *FS) listController() string {
	if _, ok := f.dirs[CPU]; !ok && f.version == V1 {
		if _, ok := f.dirs[CPUAcct]; ok {
			return CPUAcct
		}
	}
	return CPU
}

// Children lists the names of group's direct child groups, sorted.
func (f *FS) Children(group string) ([]string, error) {
	if err := checkGroup(group); err != nil {
		return nil, err
	}
	dir := f.Path(f.listController(), group)
	names, err := readDirNames(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return names, nil
}

// readDirNames lists the subdirectories of dir, sorted.
func readDirNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// unwrapPathError drops os's *PathError so that our "op path: err" wrapping
// does not print the path twice; errors.Is still sees the errno.
func unwrapPathError(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// Procs lists the PIDs in group and, when recursive, in all its descendants,
// sorted. Descendants that vanish during the walk (a pod just deleted) are
// skipped; the group itself must exist.
func (f *FS) Procs(group string, recursive bool) ([]int, error) {
	if err := checkGroup(group); err != nil {
		return nil, err
	}
	ctrl := f.listController()
	pids, err := f.appendProcs(nil, ctrl, group)
	if err != nil {
		return nil, err
	}
	if recursive {
		if pids, err = f.appendDescendantProcs(pids, ctrl, group); err != nil {
			return nil, err
		}
	}
	slices.Sort(pids)
	return slices.Compact(pids), nil
}

func (f *FS) appendProcs(pids []int, ctrl, group string) ([]int, error) {
	var buf [1024]byte
	b, path, err := f.readGroupFile(ctrl, group, "cgroup.procs", buf[:])
	if err != nil {
		return nil, err
	}
	out, err := parseProcs(b, pids)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return out, nil
}

func (f *FS) appendDescendantProcs(pids []int, ctrl, group string) ([]int, error) {
	children, err := f.Children(group)
	if err != nil {
		return nil, err
	}
	for _, c := range children {
		child := join(group, c)
		out, err := f.appendProcs(pids, ctrl, child)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out, err = f.appendDescendantProcs(out, ctrl, child)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		pids = out
	}
	return pids, nil
}

func join(group, child string) string {
	if group == "" {
		return child
	}
	return group + "/" + child
}

// parent returns the group one level up ("" for a top-level group).
func parent(group string) string {
	for i := len(group) - 1; i >= 0; i-- {
		if group[i] == '/' {
			return group[:i]
		}
	}
	return ""
}

// CPUUsageNanos reads only the cumulative CPU time of group: the cheapest
// read, for the fast CPU loop (v1 cpuacct.usage, v2 cpu.stat usage_usec).
// It allocates only the path.
func (f *FS) CPUUsageNanos(group string) (uint64, error) {
	if f.version == V1 {
		return f.readUint(CPUAcct, group, "cpuacct.usage")
	}
	var buf [512]byte
	b, path, err := f.readGroupFile(CPU, group, "cpu.stat", buf[:])
	if err != nil {
		return 0, err
	}
	v, err := parseUsageUsec(b)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return v, nil
}

// CPUStat reads group's CPU time and throttling counters (v1 cpuacct.usage
// and cpu.stat, v2 cpu.stat).
func (f *FS) CPUStat(group string) (CPUStat, error) {
	var buf [512]byte
	b, path, err := f.readGroupFile(CPU, group, "cpu.stat", buf[:])
	if err != nil {
		return CPUStat{}, err
	}
	st, err := parseCPUStat(b)
	if err != nil {
		return CPUStat{}, fmt.Errorf("parse %s: %w", path, err)
	}
	if f.version == V1 {
		if st.UsageNanos, err = f.readUint(CPUAcct, group, "cpuacct.usage"); err != nil {
			return CPUStat{}, err
		}
	}
	return st, nil
}

// MemoryStat reads group's memory usage, inactive file and limit (v1
// memory.usage_in_bytes, memory.stat, memory.limit_in_bytes; v2
// memory.current, memory.stat, memory.max).
func (f *FS) MemoryStat(group string) (MemoryStat, error) {
	usageFile, limitFile := "memory.current", "memory.max"
	if f.version == V1 {
		usageFile, limitFile = "memory.usage_in_bytes", "memory.limit_in_bytes"
	}
	usage, err := f.readUint(Memory, group, usageFile)
	if err != nil {
		return MemoryStat{}, err
	}
	var buf [4096]byte
	b, path, err := f.readGroupFile(Memory, group, "memory.stat", buf[:])
	if err != nil {
		return MemoryStat{}, err
	}
	inactive, err := parseInactiveFile(b)
	if err != nil {
		return MemoryStat{}, fmt.Errorf("parse %s: %w", path, err)
	}
	limit, err := f.readLimit(Memory, group, limitFile)
	if err != nil {
		return MemoryStat{}, err
	}
	st := MemoryStat{UsageBytes: usage, InactiveFileBytes: inactive, LimitBytes: limit}
	if usage > inactive {
		st.WorkingSetBytes = usage - inactive
	}
	return st, nil
}

// Pressure reads group's PSI for resource "cpu", "memory" or "io";
// ErrNotSupported where the kernel does not provide it (v1, or a v2 kernel
// without CONFIG_PSI).
func (f *FS) Pressure(group, resource string) (PSI, error) {
	switch resource {
	case "cpu", "memory", "io": // the PSI files a v2 group has
	default:
		return PSI{}, fmt.Errorf("pressure: unknown resource %q (want cpu, memory or io)", resource)
	}
	if f.version == V1 {
		return PSI{}, fmt.Errorf("pressure of %s on cgroup v1: %w", group, ErrNotSupported)
	}
	var buf [256]byte
	b, path, err := f.readGroupFile(CPU, group, resource+".pressure", buf[:])
	if errors.Is(err, fs.ErrNotExist) {
		return PSI{}, fmt.Errorf("%w: %w", ErrNotSupported, err)
	}
	if err != nil {
		return PSI{}, err
	}
	p, err := ParsePSI(bytes.NewReader(b))
	if err != nil {
		return PSI{}, fmt.Errorf("parse %s: %w", path, err)
	}
	return p, nil
}

// Limits reads the values bigbox controls from group.
func (f *FS) Limits(group string) (Limits, error) {
	var l Limits
	var err error
	if f.version == V1 {
		if l.CPUPeriodMicros, err = f.readLimit(CPU, group, "cpu.cfs_period_us"); err != nil {
			return Limits{}, err
		}
		if l.CPUQuotaMicros, err = f.readLimit(CPU, group, "cpu.cfs_quota_us"); err != nil {
			return Limits{}, err
		}
		shares, err := f.readUint(CPU, group, "cpu.shares")
		if err != nil {
			return Limits{}, err
		}
		l.CPUWeight = SharesToWeight(shares)
		if l.MemoryLimitBytes, err = f.readLimit(Memory, group, "memory.limit_in_bytes"); err != nil {
			return Limits{}, err
		}
	} else {
		var buf [64]byte
		b, path, err := f.readGroupFile(CPU, group, "cpu.max", buf[:])
		if err != nil {
			return Limits{}, err
		}
		if l.CPUQuotaMicros, l.CPUPeriodMicros, err = parseCPUMax(b); err != nil {
			return Limits{}, fmt.Errorf("parse %s: %w", path, err)
		}
		if l.CPUWeight, err = f.readUint(CPU, group, "cpu.weight"); err != nil {
			return Limits{}, err
		}
		if l.MemoryLimitBytes, err = f.readLimit(Memory, group, "memory.max"); err != nil {
			return Limits{}, err
		}
	}
	if l.CPUs, err = f.readCPUList(CPUSet, group, "cpuset.cpus"); err != nil {
		return Limits{}, err
	}
	return l, nil
}

// CFS period bounds the kernel accepts (kernel/sched/core.c: 1 ms to 1 s),
// and the least quota (1 ms).
const (
	MinCPUPeriodMicros int64 = 1000
	MaxCPUPeriodMicros int64 = 1000000
	MinCPUQuotaMicros  int64 = 1000
)

// SetCPUQuota writes the CFS quota and period; quotaMicros Unlimited lifts
// the limit. v1 writes cpu.cfs_period_us, then cpu.cfs_quota_us (as runc
// does); v2 writes both in one cpu.max write ("max <period>" or
// "<quota> <period>").
func (f *FS) SetCPUQuota(group string, quotaMicros, periodMicros int64) error {
	if periodMicros < MinCPUPeriodMicros || periodMicros > MaxCPUPeriodMicros {
		return fmt.Errorf("cpu period %dµs out of range [%d, %d]", periodMicros, MinCPUPeriodMicros, MaxCPUPeriodMicros)
	}
	if quotaMicros != Unlimited && quotaMicros < MinCPUQuotaMicros {
		return fmt.Errorf("cpu quota %dµs below %d (or Unlimited)", quotaMicros, MinCPUQuotaMicros)
	}
	if f.version == V2 {
		var quota *int64 // nil is "max"
		if quotaMicros != Unlimited {
			quota = &quotaMicros
		}
		period := uint64(periodMicros)
		return f.write(CPU, group, "cpu.max", string(cgroup2.NewCPUMax(quota, &period)))
	}
	if err := f.write(CPU, group, "cpu.cfs_period_us", formatInt(periodMicros)); err != nil {
		return err
	}
	return f.write(CPU, group, "cpu.cfs_quota_us", formatInt(quotaMicros))
}

// SetCPUWeight writes cpu.weight (v2) or the equivalent cpu.shares (v1, see
// WeightToShares). weight must be within 1–10000.
func (f *FS) SetCPUWeight(group string, weight uint64) error {
	shares, err := WeightToShares(weight) // also the range check
	if err != nil {
		return err
	}
	if f.version == V2 {
		return f.write(CPU, group, "cpu.weight", strconv.FormatUint(weight, 10))
	}
	return f.write(CPU, group, "cpu.shares", strconv.FormatUint(shares, 10))
}

// CPUShares reads v1 cpu.shares as it is, for restoring a value exactly
// (weights are coarser than shares, so not every shares value survives the
// trip through Limits.CPUWeight). ErrNotSupported on v2.
func (f *FS) CPUShares(group string) (uint64, error) {
	if f.version == V2 {
		return 0, fmt.Errorf("cpu.shares on cgroup v2: %w", ErrNotSupported)
	}
	return f.readUint(CPU, group, "cpu.shares")
}

// SetCPUShares writes v1 cpu.shares (2–262144) as it is. ErrNotSupported on
// v2.
func (f *FS) SetCPUShares(group string, shares uint64) error {
	if f.version == V2 {
		return fmt.Errorf("cpu.shares on cgroup v2: %w", ErrNotSupported)
	}
	if shares < MinCPUShares || shares > MaxCPUShares {
		return fmt.Errorf("cpu shares %d out of range [%d, %d]", shares, MinCPUShares, MaxCPUShares)
	}
	return f.write(CPU, group, "cpu.shares", strconv.FormatUint(shares, 10))
}

// SetCPUs writes the cpuset; an empty cpus means all CPUs of the parent.
//
// v1: the kernel refuses tasks in a cpuset with empty cpuset.mems, so an
// empty one is first filled from the parent; an empty cpus copies the
// parent's effective CPUs (v1 has no "inherit"). The kernel also refuses
// (EBUSY) to shrink a cpuset below a child's, so callers shrink children
// first.
//
// v2: an empty cpus writes an empty cpuset.cpus, which makes the group
// follow the parent's effective CPUs.
func (f *FS) SetCPUs(group string, cpus []int) error {
	if err := checkCPUs(cpus); err != nil {
		return err
	}
	if err := checkGroup(group); err != nil {
		return err
	}
	list := FormatCPUList(cpus)
	if f.version == V2 {
		if list == "" {
			list = "\n" // an empty write(2) would not reach the kernel's parser
		}
		return f.write(CPUSet, group, "cpuset.cpus", list)
	}
	if group != "" {
		if err := f.inheritCpuset(group, "cpuset.mems"); err != nil {
			return err
		}
	}
	if list == "" {
		if group == "" {
			return errors.New("set cpus: the root cpuset has no parent to take CPUs from")
		}
		var err error
		if list, err = f.parentEffectiveCPUs(group); err != nil {
			return err
		}
	}
	return f.write(CPUSet, group, "cpuset.cpus", list)
}

// inheritCpuset copies the parent's value of a v1 cpuset file (cpuset.cpus
// or cpuset.mems) into group when group's is empty.
func (f *FS) inheritCpuset(group, name string) error {
	var buf [256]byte
	cur, _, err := f.readGroupFile(CPUSet, group, name, buf[:])
	if err != nil {
		return err
	}
	if len(trimValue(cur)) > 0 {
		return nil
	}
	var pbuf [256]byte
	pv, _, err := f.readGroupFile(CPUSet, parent(group), name, pbuf[:])
	if err != nil {
		return err
	}
	if len(trimValue(pv)) == 0 {
		return fmt.Errorf("set %s of %s: the parent's is empty too", name, group)
	}
	return f.write(CPUSet, group, name, string(trimValue(pv)))
}

func (f *FS) parentEffectiveCPUs(group string) (string, error) {
	p := parent(group)
	cpus, err := f.readCPUList(CPUSet, p, "cpuset.effective_cpus")
	if errors.Is(err, fs.ErrNotExist) { // kernels before 4.x
		cpus, err = f.readCPUList(CPUSet, p, "cpuset.cpus")
	}
	if err != nil {
		return "", err
	}
	if len(cpus) == 0 {
		return "", fmt.Errorf("set cpus of %s: the parent has no CPUs", group)
	}
	return FormatCPUList(cpus), nil
}

// SetMemoryLimit writes the hard memory limit; Unlimited lifts it.
//
// v1: when memory.memsw.limit_in_bytes (memory+swap) is limited, the kernel
// rejects (EINVAL) a memory limit above it and a memsw limit below the
// memory limit (mm/memcontrol-v1.c, mem_cgroup_resize_max; see the
// ordering in containerd/cgroups cgroup1/memory.go). bigbox keeps the swap
// allowance memsw − limit as it was: growing writes memsw first, then the
// limit; shrinking writes the limit first, then memsw. Unlimited lifts both.
//
// v2: memory.max, "max" or bytes (memory.swap.max is independent).
func (f *FS) SetMemoryLimit(group string, limitBytes int64) error {
	if limitBytes != Unlimited && (limitBytes < 0 || limitBytes >= unlimitedThreshold) {
		return fmt.Errorf("memory limit %d bytes out of range [0, 2^62) (or Unlimited)", limitBytes)
	}
	if f.version == V2 {
		v := "max"
		if limitBytes != Unlimited {
			v = formatInt(limitBytes)
		}
		return f.write(Memory, group, "memory.max", v)
	}
	memsw, err := f.readLimit(Memory, group, "memory.memsw.limit_in_bytes")
	if errors.Is(err, fs.ErrNotExist) || (err == nil && memsw == Unlimited) {
		// No swap accounting, or memsw unlimited: no ordering to keep.
		return f.write(Memory, group, "memory.limit_in_bytes", formatInt(limitBytes))
	}
	if err != nil {
		return err
	}
	cur, err := f.readLimit(Memory, group, "memory.limit_in_bytes")
	if err != nil {
		return err
	}
	for _, w := range memswWrites(cur, memsw, limitBytes) {
		if err := f.write(Memory, group, w.file, formatInt(w.value)); err != nil {
			return err
		}
	}
	return nil
}

type limitWrite struct {
	file  string
	value int64
}

// memswWrites orders the v1 writes that move the memory limit from cur to
// next while memory+swap stays limited (memsw ≥ limit at every step). The
// swap allowance memsw − cur is kept.
func memswWrites(cur, memsw, next int64) []limitWrite {
	const limitFile, memswFile = "memory.limit_in_bytes", "memory.memsw.limit_in_bytes"
	if next == Unlimited {
		return []limitWrite{{memswFile, Unlimited}, {limitFile, Unlimited}}
	}
	allowance := int64(0)
	if cur != Unlimited && memsw > cur {
		allowance = memsw - cur
	}
	nextMemsw := next + allowance
	if nextMemsw >= unlimitedThreshold || nextMemsw < next {
		nextMemsw = Unlimited
	}
	if cur == Unlimited || next > cur {
		return []limitWrite{{memswFile, nextMemsw}, {limitFile, next}}
	}
	return []limitWrite{{limitFile, next}, {memswFile, nextMemsw}}
}
