package executor

import (
	"slices"
	"strings"
)

// node is one cgroup in a write plan: its current value and the value it
// must end with.
type node[T any] struct {
	group string
	cur   T
	final T
}

// step is one write of a plan.
type step[T any] struct {
	group string
	value T
}

// plan orders the writes that take every node from cur to final when the
// kernel insists that a child never exceeds its parent (v1 cpuset: a child's
// CPUs are a subset of its parent's; v1 CFS: a child's quota/period ratio is
// at most its parent's).
//
// nodes must be sorted parents before children (by depth). The plan has two
// passes, as koordinator's LeveledUpdateBatch:
//
//  1. top-down, every node whose final value is wider than (or not inside)
//     its current one is widened to widen(cur, final). A parent is widened
//     before its children, so a child never exceeds its parent.
//  2. deepest-first, every node not yet at its final value is narrowed to it.
//     Children reach their final value before their parent, so a parent never
//     drops below a child.
//
// Both passes keep the invariant as long as the final configuration keeps it
// too; nodes already at their final value are not written.
func plan[T any](nodes []node[T], widen func(cur, final T) T, equal func(a, b T) bool) []step[T] {
	var steps []step[T]
	after := make([]T, len(nodes))
	for i, n := range nodes {
		after[i] = n.cur
		if w := widen(n.cur, n.final); !equal(w, n.cur) {
			steps = append(steps, step[T]{n.group, w})
			after[i] = w
		}
	}
	for i := len(nodes) - 1; i >= 0; i-- {
		if !equal(after[i], nodes[i].final) {
			steps = append(steps, step[T]{nodes[i].group, nodes[i].final})
		}
	}
	return steps
}

// byDepth sorts group paths parents first; equal depths keep a stable,
// name-sorted order so plans are deterministic.
func byDepth(a, b string) int {
	if da, db := strings.Count(a, "/"), strings.Count(b, "/"); da != db {
		return da - db
	}
	return strings.Compare(a, b)
}

// unionCPUs is the widening of cpusets: everything either set holds.
func unionCPUs(cur, final []int) []int {
	u := slices.Concat(cur, final)
	slices.Sort(u)
	return slices.Compact(u)
}

// subsetCPUs reports whether every CPU of a is in b (both sorted).
func subsetCPUs(a, b []int) bool {
	for _, c := range a {
		if _, ok := slices.BinarySearch(b, c); !ok {
			return false
		}
	}
	return true
}

// quota is a CFS bandwidth setting; quotaMicros < 0 means unlimited.
type quota struct {
	quotaMicros, periodMicros int64
}

// cores is the bandwidth in CPUs; +Inf when unlimited. The kernel compares
// these ratios, not raw quotas (normalize_cfs_quota in kernel/sched/core.c).
func (q quota) cores() float64 {
	if q.quotaMicros < 0 || q.periodMicros <= 0 {
		return inf
	}
	return float64(q.quotaMicros) / float64(q.periodMicros)
}

// widenQuota: the final value goes in the top-down pass when it grants at
// least as much bandwidth as the current one.
func widenQuota(cur, final quota) quota {
	if final.cores() >= cur.cores() {
		return final
	}
	return cur
}

func equalQuota(a, b quota) bool { return a == b }
