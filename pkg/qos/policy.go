package qos

import "time"

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

// Decide is one full policy step for both resources; the agent's loops call
// the parts below on their own cadences, and `bigboxctl simulate` calls this.
func Decide(p Policy, in Input, st State) (Decision, State) {
	panic("qos.Decide: not implemented yet")
}

// Reclaim computes one resource's raw reclaimable amount and passes it
// through the hysteresis of p: falls are immediate, rises wait p.GrowAfter
// and then take the least raw value seen while waiting; changes within the
// deadband are not made.
func Reclaim(p ResourcePolicy, u Usage, prev Lend, now time.Time) (Lend, Breakdown) {
	panic("qos.Reclaim: not implemented yet")
}

// Phase tells where now is relative to the windows (WindowOpen when there
// are none).
func Phase(windows []TimeWindow, now time.Time) WindowPhase {
	panic("qos.Phase: not implemented yet")
}

// CPUSet picks whole physical cores for the big box: enough cores to hold
// lentCores, taken from the cores where online work runs least (busy), and
// preferring the cores of prev so the set does not churn. At least one core,
// never more than the node has.
func CPUSet(topo Topology, lentCores float64, busy []float64, prev []int) []int {
	panic("qos.CPUSet: not implemented yet")
}

// Victims ranks offline pods for eviction: lowest priority first, then
// highest usage of the resource under pressure; it returns the fewest pods
// whose usage brings node usage down to the release level.
func Victims(p Policy, cpu, memory Usage, pods []Pod, st State, now time.Time) ([]Victim, State) {
	panic("qos.Victims: not implemented yet")
}
