package qos

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// Topology lists the node's physical cores; each entry holds the logical CPU
// ids of one core (hyper-thread siblings together), sorted.
type Topology struct {
	Cores [][]int
}

// Input is everything one decision looks at.
type Input struct {
	// Now is the decision time, in the node's time zone (time windows are
	// local).
	Now    time.Time
	CPU    Usage
	Memory Usage
	// Topology and per-CPU online busy fraction (0–1, index = CPU id; may be
	// nil) choose the cpuset.
	Topology Topology
	CPUBusy  []float64
	// Pods are the offline pods, for eviction.
	Pods []Pod
	// HeldCPU (cores) and HeldMemory (bytes) are what running offline pods
	// were allocated through the device plugin (zero standalone). What is
	// advertised never drops below them.
	HeldCPU, HeldMemory float64
}

// Decision is the outcome of one policy step.
type Decision struct {
	Phase    WindowPhase
	Cooldown bool
	CPU      Breakdown
	Memory   Breakdown
	// BigBox is the target of the besteffort cgroup. When Restore is true the
	// executor puts back the defaults instead (unlimited quota, all CPUs,
	// unlimited memory, default weight).
	BigBox  BigBox
	Restore bool
	// AdvertiseCPU (cores) and AdvertiseMemory (bytes): what the device
	// plugin offers, never below what is held.
	AdvertiseCPU, AdvertiseMemory float64
	Victims                       []Victim
}

// Big box constants.
const (
	// DefaultCFSPeriod is the CFS period used when Policy.CFSPeriod is zero
	// (the kernel's default, cpu.cfs_period_us = 100000).
	DefaultCFSPeriod = 100 * time.Millisecond
	// MinCFSQuotaMicros is the least CFS quota the kernel accepts (1 ms,
	// kernel/sched/core.c min_cfs_quota_period).
	MinCFSQuotaMicros int64 = 1000
	// MinCPUWeight is the cgroup v2 cpu.weight of the big box (v1
	// cpu.shares = 2): online work always wins contention.
	MinCPUWeight uint64 = 1
	// DefaultCPUWeight is the cgroup v2 default cpu.weight (v1 cpu.shares =
	// 1024), put back on restore.
	DefaultCPUWeight uint64 = 100
	// BigBoxOOMScoreAdj makes offline processes the OOM killer's first
	// choice.
	BigBoxOOMScoreAdj = 1000
)

// RestoredBigBox is what Decide returns with Restore: the kernel defaults of
// the besteffort cgroup (unlimited quota, default weight, all CPUs,
// unlimited memory). OOMScoreAdj stays 1000: the pods are still offline.
func RestoredBigBox(cfsPeriod time.Duration) BigBox {
	return BigBox{
		CPUQuotaMicros:   -1,
		CPUPeriodMicros:  periodMicros(cfsPeriod),
		CPUWeight:        DefaultCPUWeight,
		CPUs:             nil,
		MemoryLimitBytes: -1,
		OOMScoreAdj:      BigBoxOOMScoreAdj,
	}
}

// Decide is one full policy step for both resources; the agent's loops call
// the parts below on their own cadences, and `bigboxctl simulate` calls this.
//
// Order of the rules (docs/architecture.md, "The policy"):
//  1. Reclaim runs for both resources on every call, so the hysteresis in
//     State keeps tracking raw even while nothing may be lent.
//  2. Victims runs next; victims for memory or CPU start the eviction
//     cooldown at once (StartCooldown), so the step that evicts already
//     lends nothing new.
//  3. Disabled: lent 0, Restore, advertise what is held. Closed window: lent
//     0, the big box shrinks to MinLimit, advertise what is held. Grace or
//     cooldown: lent may fall but not rise above State.LentCPU/LentMemory
//     (the previous decided amounts), advertise what is held.
//  4. The big box limit is the lent amount itself (floored at MinLimit):
//     offline usage is not subtracted, all offline pods share what is lent.
func Decide(p Policy, in Input, st State) (Decision, State) {
	now := in.Now
	var d Decision
	d.Phase = Phase(p.Windows, now)

	var cpuBD, memBD Breakdown
	st.CPU, cpuBD = Reclaim(p.CPU, in.CPU, st.CPU, now)
	st.Memory, memBD = Reclaim(p.Memory, in.Memory, st.Memory, now)

	d.Victims, st = Victims(p, in.CPU, in.Memory, in.Pods, st, now)
	for _, v := range d.Victims {
		if v.Reason == ReasonMemory || v.Reason == ReasonCPU {
			st = StartCooldown(p, st, now)
			break
		}
	}
	d.Cooldown = now.Before(st.CooldownUntil)

	lentCPU, lentMem := st.CPU.Amount, st.Memory.Amount
	prevCPU, prevMem := nonNegative(st.LentCPU), nonNegative(st.LentMemory)
	noNew := false
	switch {
	case !p.Enabled:
		lentCPU, lentMem = 0, 0
		d.Restore = true
		noNew = true
		cpuBD.Reasons = append(cpuBD.Reasons, "colocation disabled")
		memBD.Reasons = append(memBD.Reasons, "colocation disabled")
	case d.Phase == WindowClosed:
		lentCPU, lentMem = 0, 0
		noNew = true
		cpuBD.Reasons = append(cpuBD.Reasons, "time window closed")
		memBD.Reasons = append(memBD.Reasons, "time window closed")
	default:
		if d.Phase == WindowGrace {
			noNew = true
			cpuBD.Reasons = append(cpuBD.Reasons, "time window grace: nothing new")
			memBD.Reasons = append(memBD.Reasons, "time window grace: nothing new")
		}
		if d.Cooldown {
			noNew = true
			r := "eviction cooldown until " + st.CooldownUntil.In(now.Location()).Format(time.TimeOnly)
			cpuBD.Reasons = append(cpuBD.Reasons, r)
			memBD.Reasons = append(memBD.Reasons, r)
		}
		if noNew {
			lentCPU = min(lentCPU, prevCPU)
			lentMem = min(lentMem, prevMem)
		}
	}
	cpuBD.Lent, memBD.Lent = lentCPU, lentMem
	st.LentCPU, st.LentMemory = lentCPU, lentMem
	d.CPU, d.Memory = cpuBD, memBD

	heldCPU, heldMem := nonNegative(in.HeldCPU), nonNegative(in.HeldMemory)
	if noNew {
		d.AdvertiseCPU, d.AdvertiseMemory = heldCPU, heldMem
	} else {
		d.AdvertiseCPU, d.AdvertiseMemory = max(lentCPU, heldCPU), max(lentMem, heldMem)
	}

	if d.Restore {
		d.BigBox = RestoredBigBox(p.CFSPeriod)
		st.CPUs = nil
		return d, st
	}
	period := periodMicros(p.CFSPeriod)
	cpuLimit := max(lentCPU, nonNegative(p.CPU.MinLimit))
	memLimit := max(lentMem, nonNegative(p.Memory.MinLimit))
	if d.Phase != WindowClosed {
		// The memory limit never squeezes what offline work already uses
		// while online work leaves room for it: on v1 such a limit fails
		// with EBUSY, on v2 it reclaims and OOM-kills offline work for
		// nothing, e.g. after every agent restart (lent starts from zero).
		// Hysteresis governs lending new memory, not taking back memory in
		// use; when online work needs it, raw falls and so does the limit.
		memLimit = max(memLimit, min(memBD.Raw, nonNegative(in.Memory.Offline)))
	}
	cpus := CPUSet(in.Topology, cpuLimit, in.CPUBusy, st.CPUs)
	d.BigBox = BigBox{
		CPUQuotaMicros:   max(saturatingInt64(cpuLimit*float64(period)), MinCFSQuotaMicros),
		CPUPeriodMicros:  period,
		CPUWeight:        MinCPUWeight,
		CPUs:             cpus,
		MemoryLimitBytes: saturatingInt64(memLimit),
		OOMScoreAdj:      BigBoxOOMScoreAdj,
	}
	st.CPUs = slices.Clone(cpus)
	return d, st
}

// StartCooldown starts (or extends) the eviction cooldown at now, for
// callers that evict on their own loop. It never shortens a running one.
func StartCooldown(p Policy, st State, now time.Time) State {
	until := now.Add(max(p.EvictionCooldown, 0))
	if until.After(st.CooldownUntil) {
		st.CooldownUntil = until
	}
	return st
}

// Reclaim computes one resource's raw reclaimable amount and passes it
// through the hysteresis of p: falls are immediate, rises wait p.GrowAfter
// and then take the least raw value seen while waiting; changes within the
// deadband are not made.
//
//	raw = max(0, Capacity × ReclaimWatermarkPercent/100
//	             − max(Online, PredictedOnline) − max(System, SystemReserved))
//	deadband = DeadbandPercent/100 × Capacity
//
// Hysteresis, with a = prev.Amount:
//   - raw == 0 < a, or raw < a − deadband: fall to raw at once, drop any
//     pending rise. Safety first: a fall larger than the deadband is never
//     delayed, and raw 0 (online and system at the watermark) is never held
//     off by the deadband either.
//   - raw > a + deadband: a rise is pending since RiseSince (set now if none
//     was), RiseFloor is the least raw seen since; once now − RiseSince ≥
//     GrowAfter, a becomes RiseFloor. GrowAfter ≤ 0 rises at once.
//   - otherwise raw is within the deadband of a: a stays, any pending rise is
//     dropped (the rise must hold without a break).
//
// A zero prev (first call, restarted agent) starts from 0 and rises by the
// same rule, so a new agent lends only after GrowAfter. A clock that went
// back before RiseSince restarts the wait.
//
// Unsafe input lends nothing at once: a capacity that is not positive or
// not finite, a NaN or infinite usage or policy value, a raw amount or
// deadband that overflows. Negative usage is
// clamped to 0: System is a difference of counters read at slightly
// different times and may dip just below 0 (the clamp is named in Reasons).
// A prev with a negative or non-finite Amount is treated as zero.
func Reclaim(p ResourcePolicy, u Usage, prev Lend, now time.Time) (Lend, Breakdown) {
	b := Breakdown{
		Capacity:        u.Capacity,
		WatermarkPct:    p.ReclaimWatermarkPercent,
		Online:          u.Online,
		PredictedOnline: u.PredictedOnline,
		System:          u.System,
		SystemReserved:  p.SystemReserved,
	}
	if !finite(prev.Amount) || prev.Amount < 0 || !finite(prev.RiseFloor) {
		b.Reasons = append(b.Reasons, "previous lent amount invalid: start from 0")
		prev = Lend{}
	}
	if why := unsafeInput(p, u); why != "" {
		b.Reasons = append(b.Reasons, why+": lend nothing")
		return Lend{}, b
	}
	online, system := u.Online, u.System
	predicted := u.PredictedOnline
	for _, c := range []struct {
		name string
		v    *float64
	}{{"online", &online}, {"predicted online", &predicted}, {"system", &system}} {
		if *c.v < 0 {
			b.Reasons = append(b.Reasons, c.name+" "+amount(*c.v)+" clamped to 0")
			*c.v = 0
		}
	}
	watermark := min(max(p.ReclaimWatermarkPercent, 0), 100)
	reserved := max(p.SystemReserved, 0)
	raw := max(0, u.Capacity*watermark/100-max(online, predicted)-max(system, reserved))
	deadband := max(p.DeadbandPercent, 0) / 100 * u.Capacity
	if !finite(raw) || !finite(deadband) {
		b.Reasons = append(b.Reasons, "reclaimable amount overflows: lend nothing")
		return Lend{}, b
	}
	b.Raw, b.Deadband = raw, deadband

	next := prev
	switch a := prev.Amount; {
	case raw < a-deadband || (raw == 0 && a > 0):
		next = Lend{Amount: raw}
		b.Reasons = append(b.Reasons, "fell at once from "+amount(a))
	case raw > a+deadband:
		if prev.RiseSince.IsZero() || now.Before(prev.RiseSince) {
			next.RiseSince, next.RiseFloor = now, raw
		} else {
			next.RiseFloor = min(prev.RiseFloor, raw)
		}
		growAfter := max(p.GrowAfter, 0)
		waited := now.Sub(next.RiseSince)
		if waited >= growAfter {
			next = Lend{Amount: next.RiseFloor}
			if next.Amount < raw {
				b.Reasons = append(b.Reasons, "rose to least raw seen in "+growAfter.String()+": "+amount(next.Amount))
			}
		} else {
			b.Reasons = append(b.Reasons, fmt.Sprintf("rise pending %s of %s (floor %s)",
				waited.Round(100*time.Millisecond), growAfter, amount(next.RiseFloor)))
		}
	default:
		next = Lend{Amount: a}
		if a != raw {
			b.Reasons = append(b.Reasons, "within deadband "+amount(deadband))
		}
	}
	b.Lent = next.Amount
	return next, b
}

// unsafeInput names the first input Reclaim cannot lend on, or "".
func unsafeInput(p ResourcePolicy, u Usage) string {
	switch {
	case !finite(u.Capacity) || u.Capacity <= 0:
		return "capacity " + amount(u.Capacity) + " not positive"
	case !finite(u.Online):
		return "online usage not finite"
	case !finite(u.PredictedOnline):
		return "predicted online usage not finite"
	case !finite(u.System):
		return "system usage not finite"
	case !finite(p.ReclaimWatermarkPercent), !finite(p.SystemReserved), !finite(p.DeadbandPercent):
		return "policy value not finite"
	}
	return ""
}

// Phase tells where now is relative to the windows (WindowOpen when there
// are none).
//
// A window starts on each of its Days (all days when empty) at Start after
// local midnight of that day, in now's location, and ends at End, on the
// next day when End <= Start (22:00–06:00). Start and End are wall-clock
// times built with time.Date, so on a 23 h or 25 h DST day "06:00" is still
// 06:00. [start, end−grace) is WindowOpen, [end−grace, end) WindowGrace
// (grace is elapsed time); a window that started yesterday and wraps past
// midnight counts today. With several windows open beats grace beats closed.
// A window Validate would reject (offsets outside [0, 24h), negative grace,
// invalid day) never matches, so it can only close, never open.
func Phase(windows []TimeWindow, now time.Time) WindowPhase {
	if len(windows) == 0 {
		return WindowOpen
	}
	best := WindowClosed
	for _, w := range windows {
		best = min(best, windowPhase(w, now))
	}
	return best
}

func windowPhase(w TimeWindow, now time.Time) WindowPhase {
	if validateWindow(w, "") != nil {
		return WindowClosed
	}
	best := WindowClosed
	y, m, d := now.Date()
	loc := now.Location()
	for back := 0; back <= 1; back++ {
		day := time.Date(y, m, d-back, 0, 0, 0, 0, loc)
		if len(w.Days) > 0 && !slices.Contains(w.Days, day.Weekday()) {
			continue
		}
		dy, dm, dd := day.Date()
		start := wallClock(dy, dm, dd, w.Start, loc)
		end := wallClock(dy, dm, dd, w.End, loc)
		if w.End <= w.Start {
			end = wallClock(dy, dm, dd+1, w.End, loc)
		}
		switch {
		case now.Before(start) || !now.Before(end):
		case !now.Before(end.Add(-w.Grace)):
			best = min(best, WindowGrace)
		default:
			best = min(best, WindowOpen)
		}
	}
	return best
}

// wallClock is the local wall-clock time off after midnight of the given
// day (time.Date normalizes d+1 and handles DST).
func wallClock(y int, m time.Month, d int, off time.Duration, loc *time.Location) time.Time {
	h := off / time.Hour
	off -= h * time.Hour
	mi := off / time.Minute
	off -= mi * time.Minute
	s := off / time.Second
	off -= s * time.Second
	return time.Date(y, m, d, int(h), int(mi), int(s), int(off), loc)
}

// CPUSet picks whole physical cores for the big box: enough cores to hold
// lentCores, taken from the cores where online work runs least (busy), and
// preferring the cores of prev so the set does not churn. At least one core,
// never more than the node has.
//
// Cores are ranked: any CPU in prev first, then the least summed busy of
// the core's CPUs (a missing entry counts 0, NaN counts fully busy), then
// the highest core index (online work tends to start on low CPUs). Cores are
// taken in that order until their CPU count reaches lentCores, so cores with
// different sibling counts are counted by what they hold. The result is the
// sorted CPU ids, siblings together. An empty topology gives nil (all CPUs:
// the quota still limits). A negative, NaN or infinite lentCores is unsafe
// input and takes one core.
func CPUSet(topo Topology, lentCores float64, busy []float64, prev []int) []int {
	type core struct {
		index  int
		cpus   []int
		sticky bool
		busy   float64
	}
	cores := make([]core, 0, len(topo.Cores))
	for i, cpus := range topo.Cores {
		if len(cpus) == 0 {
			continue
		}
		c := core{index: i, cpus: cpus}
		for _, id := range cpus {
			if slices.Contains(prev, id) {
				c.sticky = true
			}
			if id >= 0 && id < len(busy) {
				switch b := busy[id]; {
				case math.IsNaN(b):
					c.busy++
				case b > 0:
					c.busy += min(b, 1)
				}
			}
		}
		cores = append(cores, c)
	}
	if len(cores) == 0 {
		return nil
	}
	slices.SortFunc(cores, func(a, b core) int {
		if a.sticky != b.sticky {
			if a.sticky {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(a.busy, b.busy); c != 0 {
			return c
		}
		return cmp.Compare(b.index, a.index)
	})
	if !finite(lentCores) || lentCores < 0 {
		lentCores = 0
	}
	// Tolerate float noise: 2.0000000001 cores of quota fits in 2 CPUs.
	const eps = 1e-9
	var out []int
	held := 0
	for i, c := range cores {
		if i > 0 && float64(held) >= lentCores-eps {
			break
		}
		out = append(out, c.cpus...)
		held += len(c.cpus)
	}
	slices.Sort(out)
	return out
}

// Victims ranks offline pods for eviction: lowest priority first, then
// highest usage of the resource under pressure; it returns the fewest pods
// whose usage brings node usage down to the release level.
//
// pods are the offline pods only: the caller never passes online pods, so
// nothing here can evict online work.
//
//   - Disabled: every pod, ReasonDisabled. Closed window: every pod,
//     ReasonWindow. Both drop CPUOverSince.
//   - Memory: node memory above Capacity × EvictWatermarkPercent/100 takes
//     pods ranked by priority ascending, memory descending, ID, until their
//     memory covers node − Capacity × (EvictWatermarkPercent −
//     EvictReleasePercent)/100. ReasonMemory.
//   - CPU: st.CPUOverSince is set when node CPU first stands above its
//     evict watermark and dropped when it is at or below. Once over for
//     p.CPUEvictAfter, pods ranked by priority ascending, CPU descending, ID
//     are taken until the CPU freed (memory victims' CPU included) covers
//     the excess over the release level. ReasonCPU. A pod chosen for memory
//     is not listed again. CPUOverSince restarts at now after a CPU
//     eviction, so the next one waits CPUEvictAfter again while the evicted
//     pods terminate.
//
// Non-finite usage or capacity decides nothing for that resource (Reclaim
// already lends nothing on it); a pod's non-finite or negative usage counts
// as 0.
//
// Victims are listed in ranking order, memory victims first. The caller
// should not evict again a pod it is already evicting.
func Victims(p Policy, cpu, memory Usage, pods []Pod, st State, now time.Time) ([]Victim, State) {
	if !p.Enabled || Phase(p.Windows, now) == WindowClosed {
		st.CPUOverSince = time.Time{}
		reason := ReasonDisabled
		if p.Enabled {
			reason = ReasonWindow
		}
		order := rank(pods, func(pod Pod) float64 { return pod.MemoryBytes })
		out := make([]Victim, 0, len(order))
		for _, i := range order {
			out = append(out, Victim{Pod: pods[i], Reason: reason})
		}
		return out, st
	}

	var out []Victim
	chosen := make(map[int]bool)
	if excess, over := overRelease(p.Memory, memory); over {
		freed := 0.0
		for _, i := range rank(pods, func(pod Pod) float64 { return pod.MemoryBytes }) {
			if freed >= excess {
				break
			}
			out = append(out, Victim{Pod: pods[i], Reason: ReasonMemory})
			chosen[i] = true
			freed += nonNegative(pods[i].MemoryBytes)
		}
	}

	excess, over := overRelease(p.CPU, cpu)
	if !over {
		st.CPUOverSince = time.Time{}
		return out, st
	}
	if st.CPUOverSince.IsZero() || now.Before(st.CPUOverSince) {
		st.CPUOverSince = now
	}
	if now.Sub(st.CPUOverSince) < max(p.CPUEvictAfter, 0) {
		return out, st
	}
	freed := 0.0
	for i := range chosen {
		freed += nonNegative(pods[i].CPU)
	}
	evicted := false
	for _, i := range rank(pods, func(pod Pod) float64 { return pod.CPU }) {
		if freed >= excess {
			break
		}
		if chosen[i] {
			continue
		}
		out = append(out, Victim{Pod: pods[i], Reason: ReasonCPU})
		freed += nonNegative(pods[i].CPU)
		evicted = true
	}
	if evicted {
		st.CPUOverSince = now
	}
	return out, st
}

// overRelease reports whether node usage is above the evict watermark and,
// if so, how much must be freed to reach the release level.
func overRelease(p ResourcePolicy, u Usage) (excess float64, over bool) {
	node := u.Node()
	if !finite(u.Capacity) || u.Capacity <= 0 || !finite(node) ||
		!finite(p.EvictWatermarkPercent) || !finite(p.EvictReleasePercent) {
		return 0, false
	}
	if node <= u.Capacity*p.EvictWatermarkPercent/100 {
		return 0, false
	}
	release := u.Capacity * (p.EvictWatermarkPercent - max(p.EvictReleasePercent, 0)) / 100
	return node - release, true
}

// rank returns the indexes of pods by priority ascending, usage descending,
// then ID, Namespace, Name and index, so the order is deterministic.
func rank(pods []Pod, usage func(Pod) float64) []int {
	type key struct {
		priority int32
		usage    float64
		index    int
	}
	keys := make([]key, len(pods))
	for i, p := range pods {
		keys[i] = key{p.Priority, nonNegative(usage(p)), i}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmp.Compare(a.priority, b.priority); c != 0 {
			return c
		}
		if c := cmp.Compare(b.usage, a.usage); c != 0 {
			return c
		}
		pa, pb := &pods[a.index], &pods[b.index]
		if c := cmp.Compare(pa.ID, pb.ID); c != 0 {
			return c
		}
		if c := cmp.Compare(pa.Namespace, pb.Namespace); c != 0 {
			return c
		}
		if c := cmp.Compare(pa.Name, pb.Name); c != 0 {
			return c
		}
		return cmp.Compare(a.index, b.index)
	})
	order := make([]int, len(keys))
	for i, k := range keys {
		order[i] = k.index
	}
	return order
}

// periodMicros is the CFS period in microseconds; DefaultCFSPeriod when
// the policy's is outside the kernel's range [1ms, 1s].
func periodMicros(period time.Duration) int64 {
	if period < time.Millisecond || period > time.Second {
		period = DefaultCFSPeriod
	}
	return int64(period / time.Microsecond)
}

// saturatingInt64 truncates v (rounding up values within 1e-6 of the next
// integer, so 0.1 core × 100000 µs is 10000, not 9999) and saturates at the
// int64 range; NaN gives 0.
func saturatingInt64(v float64) int64 {
	switch {
	case math.IsNaN(v) || v <= 0:
		return 0
	case v >= math.MaxInt64:
		return math.MaxInt64
	}
	return int64(math.Floor(v + 1e-6))
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// nonNegative maps NaN, ±Inf and negatives to 0.
func nonNegative(v float64) float64 {
	if !finite(v) || v < 0 {
		return 0
	}
	return v
}

// amount formats a base-unit amount for Reasons: two decimals for cores,
// binary units for large values (only byte amounts are that large).
func amount(v float64) string {
	switch a := math.Abs(v); {
	case a < 1e4:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case a < 1<<30:
		return strconv.FormatFloat(v/(1<<20), 'f', 1, 64) + "Mi"
	default:
		return strconv.FormatFloat(v/(1<<30), 'f', 2, 64) + "Gi"
	}
}
