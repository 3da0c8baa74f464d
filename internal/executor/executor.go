// Package executor applies a qos.BigBox to the besteffort cgroup ("the big
// box") and puts the original values back on Restore.
//
// Writes are ordered so the kernel never refuses them (see plan and
// docs/executor.md), unchanged values are skipped, values the kubelet or an
// operator changed behind the executor's back are rewritten every
// ForceInterval, and the executor never writes outside the big box subtree
// (reading its parent is fine).
package executor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/pkg/cgroup"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

var inf = math.Inf(1)

// DefaultForceInterval is how often the real values are re-read and
// rewritten when they drifted: the kubelet rewrites its QoS cgroups about
// once a minute.
const DefaultForceInterval = 60 * time.Second

// Kernel ranges (Documentation/scheduler/sched-bwc.rst, cgroup-v2.rst).
const (
	minPeriodMicros = 1_000     // 1 ms
	maxPeriodMicros = 1_000_000 // 1 s
	minQuotaMicros  = 1_000     // 1 ms
	maxWeight       = 10_000
	minOOMScoreAdj  = -1000
	maxOOMScoreAdj  = 1000
)

// limitsReader reads the values the executor controls.
type limitsReader interface {
	Limits(group string) (cgroup.Limits, error)
}

// treeReader walks the big box subtree.
type treeReader interface {
	Version() cgroup.Version
	Children(group string) ([]string, error)
	Procs(group string, recursive bool) ([]int, error)
}

// cpuWriter writes the CPU controls.
type cpuWriter interface {
	SetCPUQuota(group string, quotaMicros, periodMicros int64) error
	SetCPUWeight(group string, weight uint64) error
	SetCPUs(group string, cpus []int) error
}

// memoryWriter writes the memory limit.
type memoryWriter interface {
	SetMemoryLimit(group string, limitBytes int64) error
}

// Cgroups is what the executor reads and writes; *cgroup.FS satisfies it.
type Cgroups interface {
	limitsReader
	treeReader
	cpuWriter
	memoryWriter
}

// OOMScorer sets a process's oom_score_adj; *host.Reader satisfies it.
type OOMScorer interface {
	SetOOMScoreAdj(pid, score int) error
}

// sharesReadWriter reads and writes v1 cpu.shares as they are, so Restore
// puts back a value the weight scale cannot express (1024 reads as weight
// 40, which writes back as 1022); *cgroup.FS has it.
type sharesReadWriter interface {
	CPUShares(group string) (uint64, error)
	SetCPUShares(group string, shares uint64) error
}

// gone reports whether err says a cgroup or process disappeared: missing,
// or removed while a file of it was open (ENODEV).
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV)
}

// Option configures an Executor.
type Option func(*Executor)

// WithForceInterval sets how often real values are re-read to detect drift
// (default DefaultForceInterval).
func WithForceInterval(d time.Duration) Option {
	return func(e *Executor) { e.forceInterval = d }
}

// cpuKnown is what the executor believes the big box's CPU files hold.
type cpuKnown struct {
	valid         bool
	quota         quota
	weight        uint64
	cpus          []int
	wroteQuota    bool
	wroteWeight   bool
	wroteCPUs     bool
	lastCheck     time.Time
	parentCPUs    []int // the parent's cpuset, what "all CPUs" means on v1
	parentCPUsErr error
}

// memKnown is what the executor believes the big box's memory limit is.
type memKnown struct {
	valid      bool
	limitBytes int64
	wrote      bool
	lastCheck  time.Time
}

// Executor applies qos.BigBox values to one big box cgroup. It is safe for
// concurrent use by the CPU and memory loops.
type Executor struct {
	// pageBytes is the page size the kernel rounds memory limits to.
	pageBytes     int64
	cg            Cgroups
	shares        sharesReadWriter // nil on v2 or when cg cannot
	oom           OOMScorer
	group         string
	version       cgroup.Version
	clk           clock.PassiveClock
	log           *slog.Logger
	forceInterval time.Duration

	drift       *prometheus.CounterVec
	writeErrors *prometheus.CounterVec

	mu sync.Mutex
	// orig holds the big box's values before the first change; nil until
	// the first Apply and again after a complete Restore.
	orig *cgroup.Limits
	// origShares is the exact v1 cpu.shares before the first change; 0
	// when not known.
	origShares uint64
	// origCPUs and origQuota hold the values of descendants the executor
	// changed, keyed by group.
	origCPUs  map[string][]int
	origQuota map[string]quota
	cpu       cpuKnown
	mem       memKnown
	current   qos.BigBox
	// oomDone maps each pid already given oomScore to the generation of the
	// listing that last saw it.
	oomDone  map[int]uint64
	oomGen   uint64
	oomScore int
}

// New returns an executor for the big box group (e.g. "kubepods/besteffort")
// of cg. It registers bigbox_cgroup_drift_total and
// bigbox_cgroup_write_errors_total on reg. Nothing is read or written before
// the first Apply.
func New(cg Cgroups, oom OOMScorer, group string, reg prometheus.Registerer, clk clock.PassiveClock, logger *slog.Logger, opts ...Option) (*Executor, error) {
	if group == "" || group == "." || group == "/" {
		return nil, fmt.Errorf("executor: big box group %q is not a child group", group)
	}
	e := &Executor{
		pageBytes:     int64(os.Getpagesize()),
		cg:            cg,
		oom:           oom,
		group:         path.Clean(group),
		version:       cg.Version(),
		clk:           clk,
		log:           logger.With("component", "executor"),
		forceInterval: DefaultForceInterval,
		drift: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bigbox_cgroup_drift_total",
			Help: "Times a big box cgroup file was found changed behind the agent's back and rewritten.",
		}, []string{"file"}),
		writeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bigbox_cgroup_write_errors_total",
			Help: "Failed writes to cgroup files by the executor.",
		}, []string{"file"}),
		origCPUs:  map[string][]int{},
		origQuota: map[string]quota{},
		oomDone:   map[int]uint64{},
	}
	if s, ok := cg.(sharesReadWriter); ok && e.version == cgroup.V1 {
		e.shares = s
	}
	for _, o := range opts {
		o(e)
	}
	if e.forceInterval <= 0 {
		return nil, fmt.Errorf("executor: force interval %v is not positive", e.forceInterval)
	}
	for _, c := range []prometheus.Collector{e.drift, e.writeErrors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("executor: register metrics: %w", err)
		}
	}
	// Show every file at zero from the start, so rate() works at once.
	for _, f := range []fileKind{fileQuota, fileWeight, fileCPUs, fileMemory} {
		e.drift.WithLabelValues(e.file(f))
		e.writeErrors.WithLabelValues(e.file(f))
	}
	e.writeErrors.WithLabelValues(e.file(fileOOM))
	return e, nil
}

// fileKind names a controlled value; file turns it into the file name of
// the hierarchy's version, the label of the metrics.
type fileKind int

const (
	fileQuota fileKind = iota
	fileWeight
	fileCPUs
	fileMemory
	fileOOM
)

func (e *Executor) file(k fileKind) string {
	v2 := e.version == cgroup.V2
	switch k {
	case fileQuota:
		if v2 {
			return "cpu.max"
		}
		return "cpu.cfs_quota_us"
	case fileWeight:
		if v2 {
			return "cpu.weight"
		}
		return "cpu.shares"
	case fileCPUs:
		return "cpuset.cpus"
	case fileMemory:
		if v2 {
			return "memory.max"
		}
		return "memory.limit_in_bytes"
	default:
		return "oom_score_adj"
	}
}

// Current returns what was last written (or found in place when nothing
// needed writing); zero before the first Apply. CPUs is the resolved set,
// never nil after a CPU apply on v1.
func (e *Executor) Current() qos.BigBox {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.current
	c.CPUs = slices.Clone(c.CPUs)
	return c
}

// recordOriginals reads the big box once before the first change.
func (e *Executor) recordOriginals(now time.Time) error {
	if e.orig != nil {
		return nil
	}
	lim, err := e.cg.Limits(e.group)
	if err != nil {
		return fmt.Errorf("read original limits of %s: %w", e.group, err)
	}
	lim.CPUs = normalizeCPUs(lim.CPUs)
	e.origShares = 0
	if e.shares != nil {
		if e.origShares, err = e.shares.CPUShares(e.group); err != nil {
			return fmt.Errorf("read original cpu.shares of %s: %w", e.group, err)
		}
	}
	e.orig = &lim
	e.cpu = cpuKnown{
		valid:     true,
		quota:     quota{lim.CPUQuotaMicros, lim.CPUPeriodMicros},
		weight:    lim.CPUWeight,
		cpus:      lim.CPUs,
		lastCheck: now,
	}
	e.mem = memKnown{valid: true, limitBytes: lim.MemoryLimitBytes, lastCheck: now}
	e.current = qos.BigBox{
		CPUQuotaMicros:   lim.CPUQuotaMicros,
		CPUPeriodMicros:  lim.CPUPeriodMicros,
		CPUWeight:        lim.CPUWeight,
		CPUs:             lim.CPUs,
		MemoryLimitBytes: lim.MemoryLimitBytes,
		OOMScoreAdj:      e.oomScore,
	}
	e.log.Info("recorded original big box values", "group", e.group,
		"cpu_quota_us", lim.CPUQuotaMicros, "cpu_period_us", lim.CPUPeriodMicros,
		"cpu_weight", lim.CPUWeight, "cpus", lim.CPUs, "memory_limit_bytes", lim.MemoryLimitBytes)
	return nil
}

// refreshCPU re-reads the big box's CPU files when they are not known or the
// force interval passed, counting drift of files the executor wrote.
func (e *Executor) refreshCPU(now time.Time) error {
	if e.cpu.valid && now.Sub(e.cpu.lastCheck) < e.forceInterval {
		return nil
	}
	lim, err := e.cg.Limits(e.group)
	if err != nil {
		return fmt.Errorf("read limits of %s: %w", e.group, err)
	}
	q := quota{lim.CPUQuotaMicros, lim.CPUPeriodMicros}
	cpus := normalizeCPUs(lim.CPUs)
	if e.cpu.valid {
		if e.cpu.wroteQuota && q != e.cpu.quota {
			e.countDrift(fileQuota, e.cpu.quota, q)
		}
		if e.cpu.wroteWeight && lim.CPUWeight != e.cpu.weight {
			e.countDrift(fileWeight, e.cpu.weight, lim.CPUWeight)
		}
		if e.cpu.wroteCPUs && !slices.Equal(cpus, e.cpu.cpus) {
			e.countDrift(fileCPUs, e.cpu.cpus, cpus)
		}
	}
	e.cpu.valid, e.cpu.quota, e.cpu.weight, e.cpu.cpus = true, q, lim.CPUWeight, cpus
	e.cpu.lastCheck = now
	e.cpu.parentCPUs, e.cpu.parentCPUsErr = nil, nil
	return nil
}

func (e *Executor) countDrift(k fileKind, want, got any) {
	e.drift.WithLabelValues(e.file(k)).Inc()
	e.log.Info("cgroup value drifted, rewriting", "group", e.group, "file", e.file(k), "want", want, "got", got)
}

func (e *Executor) countWriteError(k fileKind) {
	e.writeErrors.WithLabelValues(e.file(k)).Inc()
}

// ApplyCPU brings the big box's CFS quota and period, weight and cpuset to
// b. It reports whether anything was written. CPUWeight 0 leaves the weight
// alone; CPUs nil means all CPUs of the big box's parent.
//
// The quota goes first: it is one write that takes effect at once, while a
// v1 cpuset change walks the subtree.
func (e *Executor) ApplyCPU(b qos.BigBox) (changed bool, err error) {
	if err := validateCPU(b); err != nil {
		return false, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clk.Now()
	if err := e.recordOriginals(now); err != nil {
		return false, err
	}
	if err := e.refreshCPU(now); err != nil {
		return false, err
	}
	var errs []error

	c, err := e.applyQuota(quota{b.CPUQuotaMicros, b.CPUPeriodMicros})
	changed = changed || c
	errs = append(errs, err)

	if b.CPUWeight != 0 {
		c, err := e.applyWeight(b.CPUWeight)
		changed = changed || c
		errs = append(errs, err)
	}

	cpus, err := e.resolveCPUs(b.CPUs)
	if err != nil {
		errs = append(errs, err)
	} else {
		c, err := e.applyCPUs(cpus)
		changed = changed || c
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		// What the kernel holds after a failed write is not certain.
		e.cpu.valid = false
		return changed, err
	}
	return changed, nil
}

func validateCPU(b qos.BigBox) error {
	if b.CPUPeriodMicros < minPeriodMicros || b.CPUPeriodMicros > maxPeriodMicros {
		return fmt.Errorf("cpu period %dus out of range [%d, %d]", b.CPUPeriodMicros, minPeriodMicros, maxPeriodMicros)
	}
	if b.CPUQuotaMicros != cgroup.Unlimited && b.CPUQuotaMicros < minQuotaMicros {
		return fmt.Errorf("cpu quota %dus is neither unlimited (-1) nor at least %dus", b.CPUQuotaMicros, minQuotaMicros)
	}
	if b.CPUWeight > maxWeight {
		return fmt.Errorf("cpu weight %d above %d", b.CPUWeight, maxWeight)
	}
	for i, c := range b.CPUs {
		if c < 0 {
			return fmt.Errorf("cpu %d is negative", c)
		}
		if slices.Contains(b.CPUs[:i], c) {
			return fmt.Errorf("cpu %d listed twice", c)
		}
	}
	if b.CPUs != nil && len(b.CPUs) == 0 {
		return errors.New("empty cpuset (nil means all CPUs)")
	}
	return nil
}

// resolveCPUs turns the requested set into the set to write: a sorted copy,
// or for nil the parent's cpuset on v1 (a v1 cpuset cannot be empty while
// tasks run in it) and the empty set on v2 (inherit the parent's).
func (e *Executor) resolveCPUs(cpus []int) ([]int, error) {
	if cpus != nil {
		return normalizeCPUs(cpus), nil
	}
	if e.version == cgroup.V2 {
		return []int{}, nil
	}
	if e.cpu.parentCPUs == nil && e.cpu.parentCPUsErr == nil {
		parent := path.Dir(e.group)
		lim, err := e.cg.Limits(parent)
		switch {
		case err != nil:
			e.cpu.parentCPUsErr = fmt.Errorf("read cpuset of parent %s: %w", parent, err)
		case len(lim.CPUs) == 0:
			e.cpu.parentCPUsErr = fmt.Errorf("parent %s has an empty cpuset", parent)
		default:
			e.cpu.parentCPUs = normalizeCPUs(lim.CPUs)
		}
	}
	return e.cpu.parentCPUs, e.cpu.parentCPUsErr
}

func normalizeCPUs(cpus []int) []int {
	c := slices.Clone(cpus)
	if c == nil {
		c = []int{}
	}
	slices.Sort(c)
	return slices.Compact(c)
}

// applyQuota writes the CFS bandwidth.
//
// v1 rule: the kernel refuses (EINVAL) any quota that would leave a cgroup
// with more bandwidth (quota/period) than its parent
// (tg_cfs_schedulable_down in kernel/sched/core.c). So when the big box
// shrinks below a descendant's bandwidth, that descendant is lowered to the
// big box's new value first, deepest first; when the big box grows, it goes
// first, then descendants the executor lowered earlier get back
// min(original, big box), parents before children. Descendants' originals
// are recorded for Restore. v2 takes the minimum along the path instead of
// refusing, so only the big box is written.
func (e *Executor) applyQuota(target quota) (bool, error) {
	if target == e.cpu.quota {
		e.current.CPUQuotaMicros, e.current.CPUPeriodMicros = target.quotaMicros, target.periodMicros
		return false, nil
	}
	nodes := []node[quota]{{group: e.group, cur: e.cpu.quota, final: target}}
	if e.version == cgroup.V1 {
		desc, err := e.quotaDescendants(target, target.cores() < e.cpu.quota.cores())
		if err != nil {
			return false, err
		}
		nodes = append(nodes, desc...)
	}
	changed := false
	for _, s := range plan(nodes, widenQuota, equalQuota) {
		if s.group != e.group {
			if _, ok := e.origQuota[s.group]; !ok {
				e.origQuota[s.group] = curOf(nodes, s.group)
			}
		}
		if err := e.cg.SetCPUQuota(s.group, s.value.quotaMicros, s.value.periodMicros); err != nil {
			if s.group != e.group && gone(err) {
				continue // the pod went away
			}
			e.countWriteError(fileQuota)
			return changed, fmt.Errorf("set cpu quota %dus per %dus of %s: %w", s.value.quotaMicros, s.value.periodMicros, s.group, err)
		}
		changed = true
		e.log.Debug("wrote cpu quota", "group", s.group, "cpu_quota_us", s.value.quotaMicros, "cpu_period_us", s.value.periodMicros)
		if s.group == e.group {
			e.cpu.quota, e.cpu.wroteQuota = s.value, true
		} else if s.value == e.origQuota[s.group] {
			delete(e.origQuota, s.group) // back at its original: no longer ours
		}
	}
	e.current.CPUQuotaMicros, e.current.CPUPeriodMicros = target.quotaMicros, target.periodMicros
	return changed, nil
}

// quotaDescendants lists the descendants whose bandwidth must change with
// the big box going to box: when shrinking, every descendant above it
// (found by walking the subtree); always, the descendants lowered earlier,
// which go back to min(original, box).
func (e *Executor) quotaDescendants(box quota, shrinking bool) ([]node[quota], error) {
	targetOf := func(orig quota) quota {
		if orig.cores() <= box.cores() {
			return orig
		}
		return box
	}
	seen := map[string]bool{}
	var nodes []node[quota]
	if shrinking {
		err := e.walk(e.group, func(g string, lim cgroup.Limits) {
			seen[g] = true
			cur := quota{lim.CPUQuotaMicros, lim.CPUPeriodMicros}
			orig, ok := e.origQuota[g]
			if !ok {
				orig = cur
			}
			if cur.quotaMicros < 0 && !ok {
				return // unlimited: bounded by its parent, never refused
			}
			if t := targetOf(orig); t != cur {
				nodes = append(nodes, node[quota]{g, cur, t})
			}
		})
		if err != nil {
			return nil, err
		}
	}
	for g, orig := range e.origQuota {
		if seen[g] {
			continue
		}
		lim, err := e.cg.Limits(g)
		if gone(err) {
			delete(e.origQuota, g)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read cpu quota of %s: %w", g, err)
		}
		cur := quota{lim.CPUQuotaMicros, lim.CPUPeriodMicros}
		if t := targetOf(orig); t != cur {
			nodes = append(nodes, node[quota]{g, cur, t})
		}
	}
	slices.SortFunc(nodes, func(a, b node[quota]) int { return byDepth(a.group, b.group) })
	return nodes, nil
}

// walk calls fn for every descendant of group (not group itself), parents
// before children. Groups that vanish during the walk are skipped.
func (e *Executor) walk(group string, fn func(g string, lim cgroup.Limits)) error {
	children, err := e.cg.Children(group)
	if err != nil {
		if group != e.group && gone(err) {
			return nil
		}
		return fmt.Errorf("list children of %s: %w", group, err)
	}
	for _, c := range children {
		g := path.Join(group, c)
		lim, err := e.cg.Limits(g)
		if gone(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read limits of %s: %w", g, err)
		}
		fn(g, lim)
		if err := e.walk(g, fn); err != nil {
			return err
		}
	}
	return nil
}

func curOf[T any](nodes []node[T], group string) T {
	for _, n := range nodes {
		if n.group == group {
			return n.cur
		}
	}
	var zero T
	return zero
}

// applyWeight writes cpu.weight (v2) or the equivalent cpu.shares (v1) of
// the big box only: weights are relative among siblings, so descendants
// need no change.
func (e *Executor) applyWeight(weight uint64) (bool, error) {
	e.current.CPUWeight = weight
	if weight == e.cpu.weight {
		return false, nil
	}
	if err := e.cg.SetCPUWeight(e.group, weight); err != nil {
		e.countWriteError(fileWeight)
		return false, fmt.Errorf("set cpu weight %d of %s: %w", weight, e.group, err)
	}
	e.cpu.weight, e.cpu.wroteWeight = weight, true
	e.log.Debug("wrote cpu weight", "group", e.group, "cpu_weight", weight)
	return true, nil
}

// applyCPUs writes the cpuset.
//
// v1 rules (validate_change_legacy in kernel/cgroup/cpuset.c): a cpuset
// must not drop a CPU one of its children uses (EBUSY), and a child must
// stay inside its parent (EACCES). Offline pod cgroups normally carry the
// full set of their parent, so every descendant gets the big box's new set,
// growing or shrinking: the big box widens first (to the union when CPUs
// move), descendants follow top-down, then everything is narrowed deepest
// first. Descendants' originals are recorded for Restore. v2 cpusets are
// intersected with the parent's effective set, never refused, so only the
// big box is written.
func (e *Executor) applyCPUs(cpus []int) (bool, error) {
	if slices.Equal(cpus, e.cpu.cpus) {
		e.current.CPUs = cpus
		return false, nil
	}
	nodes := []node[[]int]{{group: e.group, cur: e.cpu.cpus, final: cpus}}
	if e.version == cgroup.V1 {
		err := e.walk(e.group, func(g string, lim cgroup.Limits) {
			nodes = append(nodes, node[[]int]{g, normalizeCPUs(lim.CPUs), cpus})
		})
		if err != nil {
			return false, err
		}
		slices.SortStableFunc(nodes[1:], func(a, b node[[]int]) int { return byDepth(a.group, b.group) })
	}
	changed := false
	for _, s := range plan(nodes, unionCPUs, slices.Equal[[]int]) {
		if s.group != e.group {
			if _, ok := e.origCPUs[s.group]; !ok {
				e.origCPUs[s.group] = curOf(nodes, s.group)
			}
		}
		if err := e.cg.SetCPUs(s.group, s.value); err != nil {
			if s.group != e.group && gone(err) {
				continue
			}
			e.countWriteError(fileCPUs)
			return changed, fmt.Errorf("set cpus %v of %s: %w", s.value, s.group, err)
		}
		changed = true
		e.log.Debug("wrote cpuset", "group", s.group, "cpus", s.value)
		if s.group == e.group {
			e.cpu.cpus, e.cpu.wroteCPUs = s.value, true
		}
	}
	e.current.CPUs = cpus
	return changed, nil
}

// ApplyMemory brings the big box's hard memory limit to b.MemoryLimitBytes.
//
// Lowering the limit below usage makes the kernel reclaim first; on v1 it
// gives up with EBUSY when it cannot reclaim enough
// (mem_cgroup_resize_max in mm/memcontrol-v1.c), leaving the old limit in
// place. The executor then keeps the previous limit, counts the error and
// returns it wrapped (errors.Is(err, syscall.EBUSY)): the agent evicts. On
// v2 memory.max below usage reclaims and then OOM-kills inside the group.
func (e *Executor) ApplyMemory(b qos.BigBox) (changed bool, err error) {
	if b.MemoryLimitBytes != cgroup.Unlimited && b.MemoryLimitBytes <= 0 {
		return false, fmt.Errorf("memory limit %d is neither unlimited (-1) nor positive", b.MemoryLimitBytes)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clk.Now()
	if err := e.recordOriginals(now); err != nil {
		return false, err
	}
	if !e.mem.valid || now.Sub(e.mem.lastCheck) >= e.forceInterval {
		lim, err := e.cg.Limits(e.group)
		if err != nil {
			return false, fmt.Errorf("read limits of %s: %w", e.group, err)
		}
		if e.mem.valid && e.mem.wrote && lim.MemoryLimitBytes != e.mem.limitBytes {
			e.countDrift(fileMemory, e.mem.limitBytes, lim.MemoryLimitBytes)
		}
		e.mem.valid, e.mem.limitBytes, e.mem.lastCheck = true, lim.MemoryLimitBytes, now
	}
	target := b.MemoryLimitBytes
	if target != cgroup.Unlimited {
		// The kernel keeps a memory limit in whole pages and reads back the
		// rounded-down value; rounding here keeps the next drift check from
		// taking its own rounding for someone else's change.
		target = max(target-target%e.pageBytes, e.pageBytes)
	}
	if target == e.mem.limitBytes {
		e.current.MemoryLimitBytes = target
		return false, nil
	}
	if err := e.cg.SetMemoryLimit(e.group, target); err != nil {
		e.countWriteError(fileMemory)
		if !errors.Is(err, syscall.EBUSY) {
			e.mem.valid = false
		}
		return false, fmt.Errorf("set memory limit %d of %s: %w", target, e.group, err)
	}
	e.mem.limitBytes, e.mem.wrote = target, true
	e.current.MemoryLimitBytes = target
	e.log.Debug("wrote memory limit", "group", e.group, "memory_limit_bytes", target)
	return true, nil
}

// SetOOMScoreAdj gives every process in the big box (recursively) the
// score, once per process: pids already set are remembered, pids no longer
// listed are forgotten, and processes that exit before the write are
// skipped. A new score starts over.
func (e *Executor) SetOOMScoreAdj(score int) error {
	if score < minOOMScoreAdj || score > maxOOMScoreAdj {
		return fmt.Errorf("oom_score_adj %d out of range [%d, %d]", score, minOOMScoreAdj, maxOOMScoreAdj)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if score != e.oomScore {
		clear(e.oomDone)
		e.oomScore = score
	}
	pids, err := e.cg.Procs(e.group, true)
	if err != nil {
		return fmt.Errorf("list processes of %s: %w", e.group, err)
	}
	e.oomGen++
	var errs []error
	for _, pid := range pids {
		if _, ok := e.oomDone[pid]; ok {
			e.oomDone[pid] = e.oomGen
			continue
		}
		err := e.oom.SetOOMScoreAdj(pid, score)
		switch {
		case err == nil, gone(err), errors.Is(err, syscall.ESRCH):
			// Set, or exited since the listing (a zombie may stay listed
			// for a moment; it needs no score).
			e.oomDone[pid] = e.oomGen
		default:
			e.countWriteError(fileOOM)
			errs = append(errs, fmt.Errorf("set oom_score_adj of pid %d: %w", pid, err))
		}
	}
	for pid, gen := range e.oomDone {
		if gen != e.oomGen {
			delete(e.oomDone, pid)
		}
	}
	e.current.OOMScoreAdj = score
	return errors.Join(errs...)
}

// Restore puts back every original value the executor changed: cpusets
// (widening parents first), CFS quotas, the weight and the memory limit. It
// stops at ctx's end, joins the errors, and is idempotent; after a complete
// Restore the next Apply records the originals anew. Processes keep their
// oom_score_adj.
func (e *Executor) Restore(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.orig == nil {
		return nil
	}
	orig := *e.orig
	lim, err := e.cg.Limits(e.group)
	if gone(err) {
		e.log.Info("big box is gone, nothing to restore", "group", e.group)
		e.reset()
		return nil
	}
	if err != nil {
		return fmt.Errorf("read limits of %s before restore: %w", e.group, err)
	}
	var errs []error
	fail := func(k fileKind, err error) {
		if k >= 0 {
			e.countWriteError(k)
		}
		errs = append(errs, err)
	}
	stopped := func() bool {
		if err := ctx.Err(); err != nil {
			fail(-1, fmt.Errorf("restore %s: %w", e.group, err))
			return true
		}
		return false
	}

	// cpusets
	cpuNodes := []node[[]int]{{e.group, normalizeCPUs(lim.CPUs), orig.CPUs}}
	if e.version == cgroup.V1 && len(orig.CPUs) == 0 {
		cpuNodes = cpuNodes[:0] // nothing sensible to put back
	}
	for g, o := range e.origCPUs {
		l, err := e.cg.Limits(g)
		if gone(err) {
			delete(e.origCPUs, g)
			continue
		}
		if err != nil {
			fail(-1, fmt.Errorf("read cpuset of %s: %w", g, err))
			continue
		}
		cpuNodes = append(cpuNodes, node[[]int]{g, normalizeCPUs(l.CPUs), o})
	}
	slices.SortStableFunc(cpuNodes, func(a, b node[[]int]) int { return byDepth(a.group, b.group) })
	for _, s := range plan(cpuNodes, unionCPUs, slices.Equal[[]int]) {
		if stopped() {
			return errors.Join(errs...)
		}
		if err := e.cg.SetCPUs(s.group, s.value); err != nil && !(s.group != e.group && gone(err)) {
			fail(fileCPUs, fmt.Errorf("restore cpus %v of %s: %w", s.value, s.group, err))
			break // later steps rely on this one
		}
		if s.group != e.group && slices.Equal(s.value, e.origCPUs[s.group]) {
			delete(e.origCPUs, s.group)
		}
	}

	// CFS quotas
	qNodes := []node[quota]{{e.group, quota{lim.CPUQuotaMicros, lim.CPUPeriodMicros}, quota{orig.CPUQuotaMicros, orig.CPUPeriodMicros}}}
	for g, o := range e.origQuota {
		l, err := e.cg.Limits(g)
		if gone(err) {
			delete(e.origQuota, g)
			continue
		}
		if err != nil {
			fail(-1, fmt.Errorf("read cpu quota of %s: %w", g, err))
			continue
		}
		qNodes = append(qNodes, node[quota]{g, quota{l.CPUQuotaMicros, l.CPUPeriodMicros}, o})
	}
	slices.SortStableFunc(qNodes, func(a, b node[quota]) int { return byDepth(a.group, b.group) })
	for _, s := range plan(qNodes, widenQuota, equalQuota) {
		if stopped() {
			return errors.Join(errs...)
		}
		if err := e.cg.SetCPUQuota(s.group, s.value.quotaMicros, s.value.periodMicros); err != nil && !(s.group != e.group && gone(err)) {
			fail(fileQuota, fmt.Errorf("restore cpu quota %dus per %dus of %s: %w", s.value.quotaMicros, s.value.periodMicros, s.group, err))
			break
		}
		if s.group != e.group && s.value == e.origQuota[s.group] {
			delete(e.origQuota, s.group)
		}
	}

	if write, err := e.weightRestore(orig.CPUWeight, lim.CPUWeight); err != nil {
		fail(-1, err)
	} else if write != nil {
		if stopped() {
			return errors.Join(errs...)
		}
		if err := write(); err != nil {
			fail(fileWeight, err)
		}
	}
	if lim.MemoryLimitBytes != orig.MemoryLimitBytes {
		if stopped() {
			return errors.Join(errs...)
		}
		if err := e.cg.SetMemoryLimit(e.group, orig.MemoryLimitBytes); err != nil {
			fail(fileMemory, fmt.Errorf("restore memory limit %d of %s: %w", orig.MemoryLimitBytes, e.group, err))
		}
	}
	if len(errs) > 0 {
		// Keep the originals so a retry can finish; re-read before writing.
		e.cpu.valid, e.mem.valid = false, false
		return errors.Join(errs...)
	}
	e.log.Info("restored big box", "group", e.group)
	e.reset()
	return nil
}

// weightRestore returns the write that puts back the exact v1 cpu.shares
// when known, else the weight; nil when nothing needs writing.
func (e *Executor) weightRestore(origWeight, curWeight uint64) (func() error, error) {
	if e.shares != nil && e.origShares != 0 {
		cur, err := e.shares.CPUShares(e.group)
		if err != nil {
			return nil, fmt.Errorf("read cpu.shares of %s: %w", e.group, err)
		}
		if cur == e.origShares {
			return nil, nil
		}
		return func() error {
			if err := e.shares.SetCPUShares(e.group, e.origShares); err != nil {
				return fmt.Errorf("restore cpu.shares %d of %s: %w", e.origShares, e.group, err)
			}
			return nil
		}, nil
	}
	if origWeight == 0 || curWeight == origWeight {
		return nil, nil
	}
	return func() error {
		if err := e.cg.SetCPUWeight(e.group, origWeight); err != nil {
			return fmt.Errorf("restore cpu weight %d of %s: %w", origWeight, e.group, err)
		}
		return nil
	}, nil
}

// reset forgets everything but the oom bookkeeping: the next Apply records
// originals anew.
func (e *Executor) reset() {
	e.orig = nil
	e.origShares = 0
	clear(e.origCPUs)
	clear(e.origQuota)
	e.cpu = cpuKnown{}
	e.mem = memKnown{}
	e.current = qos.BigBox{OOMScoreAdj: e.current.OOMScoreAdj}
}
