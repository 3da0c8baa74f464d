package cgroup

import (
	"slices"
	"testing"
)

// TestCpusetPlan replays the plan against v1's rule: after every write each
// group's CPUs are a subset of its parent's.
func TestCpusetPlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		nodes     []cpusetNode
		cpus      []int
		wantCount int
	}{
		{
			name:  "move to disjoint CPUs",
			nodes: []cpusetNode{{"box", []int{0, 1}}, {"box/pod", []int{0, 1}}, {"box/pod/c", []int{1}}},
			cpus:  []int{2, 3}, wantCount: 6,
		},
		{
			name:  "shrink",
			nodes: []cpusetNode{{"box", []int{0, 1, 2, 3}}, {"box/pod", []int{0, 1, 2, 3}}},
			cpus:  []int{3}, wantCount: 2,
		},
		{
			name:  "grow",
			nodes: []cpusetNode{{"box", []int{3}}, {"box/pod", []int{3}}},
			cpus:  []int{0, 1, 2, 3}, wantCount: 2,
		},
		{
			name:  "unchanged",
			nodes: []cpusetNode{{"box", []int{1}}, {"box/pod", []int{1}}},
			cpus:  []int{1}, wantCount: 0,
		},
	}
	parentOf := func(g string) string { return parent(g) }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			state := map[string][]int{"": {0, 1, 2, 3}}
			for _, n := range tt.nodes {
				state[n.group] = n.cpus
			}
			subset := func(a, b []int) bool {
				for _, c := range a {
					if !slices.Contains(b, c) {
						return false
					}
				}
				return true
			}
			plan := cpusetPlan(tt.nodes, tt.cpus)
			if len(plan) != tt.wantCount {
				t.Errorf("plan has %d writes, want %d: %v", len(plan), tt.wantCount, plan)
			}
			for _, w := range plan {
				if !subset(w.cpus, state[parentOf(w.group)]) {
					t.Fatalf("write %s=%v: not within parent's %v", w.group, w.cpus, state[parentOf(w.group)])
				}
				for g, c := range state {
					if g != w.group && parentOf(g) == w.group && !subset(c, w.cpus) {
						t.Fatalf("write %s=%v: child %s has %v outside it", w.group, w.cpus, g, c)
					}
				}
				state[w.group] = w.cpus
			}
			for _, n := range tt.nodes {
				if !slices.Equal(state[n.group], tt.cpus) {
					t.Errorf("%s ends at %v, want %v", n.group, state[n.group], tt.cpus)
				}
			}
		})
	}
}

func TestSetCPUsTreeFake(t *testing.T) {
	t.Parallel()
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			ft := sh.new(t)
			for _, g := range []string{"kubepods", "kubepods/besteffort", "kubepods/besteffort/pod1", "kubepods/besteffort/pod1/c1"} {
				ft.addGroup(g)
				if ft.version == V1 {
					ft.set(CPUSet, g, "cpuset.cpus", "0-3\n")
					ft.set(CPUSet, g, "cpuset.mems", "0\n")
				}
			}
			f := ft.open()
			if err := f.SetCPUsTree("kubepods/besteffort", []int{2, 3}); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"kubepods/besteffort": "2-3", "kubepods/besteffort/pod1": "2-3", "kubepods/besteffort/pod1/c1": "2-3"}
			if ft.version == V2 {
				want["kubepods/besteffort/pod1"], want["kubepods/besteffort/pod1/c1"] = "\n", "\n"
			}
			for g, w := range want {
				if got := ft.get(CPUSet, g, "cpuset.cpus"); got != w {
					t.Errorf("%s cpuset.cpus = %q, want %q", g, got, w)
				}
			}
			if err := f.SetCPUsTree("kubepods/besteffort", []int{-1}); err == nil {
				t.Errorf("negative CPU accepted")
			}
		})
	}
}
