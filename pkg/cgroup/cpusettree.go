package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
)

// SetCPUsTree sets the cpuset of group and, on v1, of all its descendants
// (e.g. the big box and the pod and container groups the kubelet made in
// it) to cpus.
//
// v1 requires every cpuset to be a subset of its parent's at all times
// (kernel/cgroup/cpuset-v1.c, validate_change: EBUSY/EINVAL otherwise), so
// one write cannot move a subtree to CPUs it does not already have. The
// writes go in two passes: widen top-down (each group to its current CPUs ∪
// cpus), then shrink bottom-up (deepest first) to cpus. An empty cpus means
// the parent's effective CPUs, as in SetCPUs.
//
// A group the kubelet creates between the passes copies the widened set
// and makes the shrink fail (EBUSY); the next call finishes the move.
//
// v2 restricts descendants by itself (effective = own ∩ parent's), so only
// group is written.
func (f *FS) SetCPUsTree(group string, cpus []int) error {
	if f.version == V2 {
		return f.SetCPUs(group, cpus)
	}
	if err := checkCPUs(cpus); err != nil {
		return err
	}
	if err := checkGroup(group); err != nil {
		return err
	}
	if len(cpus) == 0 {
		if group == "" {
			return errors.New("set cpus: the root cpuset has no parent to take CPUs from")
		}
		list, err := f.parentEffectiveCPUs(group)
		if err != nil {
			return err
		}
		if cpus, err = ParseCPUList(list); err != nil {
			return err
		}
	}
	var nodes []cpusetNode
	if err := f.collectCpusets(group, &nodes); err != nil {
		return err
	}
	for _, w := range cpusetPlan(nodes, cpus) {
		if err := f.SetCPUs(w.group, w.cpus); err != nil {
			return err
		}
	}
	return nil
}

// cpusetNode is one group of a subtree with its current CPUs; nodes are in
// pre-order (parents before children).
type cpusetNode struct {
	group string
	cpus  []int
}

type cpusetWrite struct {
	group string
	cpus  []int
}

func (f *FS) collectCpusets(group string, nodes *[]cpusetNode) error {
	cur, err := f.readCPUList(CPUSet, group, "cpuset.cpus")
	if err != nil {
		return err
	}
	*nodes = append(*nodes, cpusetNode{group: group, cpus: cur})
	dir := f.Path(CPUSet, group)
	children, err := readDirNames(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, c := range children {
		err := f.collectCpusets(join(group, c), nodes)
		if errors.Is(err, fs.ErrNotExist) { // removed meanwhile
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// cpusetPlan orders the writes that move every node to cpus while each
// node stays a subset of its parent: widen in pre-order, then shrink in
// reverse pre-order (children before parents). Writes that change nothing
// are left out.
func cpusetPlan(nodes []cpusetNode, cpus []int) []cpusetWrite {
	var plan []cpusetWrite
	for _, n := range nodes {
		wide := unionCPUs(n.cpus, cpus)
		if !slices.Equal(wide, n.cpus) {
			plan = append(plan, cpusetWrite{n.group, wide})
		}
	}
	target := unionCPUs(cpus, nil)
	for i := len(nodes) - 1; i >= 0; i-- {
		if !slices.Equal(unionCPUs(nodes[i].cpus, cpus), target) { // its value after the widening
			plan = append(plan, cpusetWrite{nodes[i].group, target})
		}
	}
	return plan
}

// unionCPUs returns the sorted, distinct union of a and b.
func unionCPUs(a, b []int) []int {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
