package executor

import (
	"fmt"
	"slices"
	"testing"
)

func TestPlanCPUs(t *testing.T) {
	t.Parallel()
	type n = node[[]int]
	cases := []struct {
		name  string
		nodes []n
		want  []string
	}{
		{"nothing to do", []n{{"a", []int{0}, []int{0}}}, nil},
		{"shrink", []n{{"a", []int{0, 1}, []int{0}}, {"a/b", []int{0, 1}, []int{0}}}, []string{"a/b [0]", "a [0]"}},
		{"grow", []n{{"a", []int{0}, []int{0, 1}}, {"a/b", []int{0}, []int{0, 1}}}, []string{"a [0 1]", "a/b [0 1]"}},
		{"move", []n{{"a", []int{0}, []int{1}}, {"a/b", []int{0}, []int{1}}}, []string{"a [0 1]", "a/b [0 1]", "a/b [1]", "a [1]"}},
		{"child already narrow", []n{{"a", []int{0, 1}, []int{1}}, {"a/b", []int{1}, []int{1}}}, []string{"a [1]"}},
		{"child grows into a growing parent", []n{{"a", []int{0}, []int{0, 1}}, {"a/b", []int{}, []int{0, 1}}}, []string{"a [0 1]", "a/b [0 1]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, s := range plan(tc.nodes, unionCPUs, slices.Equal[[]int]) {
				got = append(got, fmt.Sprint(s.group, " ", s.value))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("plan = %q, want %q", got, tc.want)
			}
			checkCPUInvariant(t, tc.nodes)
		})
	}
}

// checkCPUInvariant replays the plan and checks that after every step each
// child is inside its parent (nodes form a chain a, a/b, ...).
func checkCPUInvariant(t *testing.T, nodes []node[[]int]) {
	t.Helper()
	state := map[string][]int{}
	for _, n := range nodes {
		state[n.group] = n.cur
	}
	for _, s := range plan(nodes, unionCPUs, slices.Equal[[]int]) {
		state[s.group] = s.value
		for i := 1; i < len(nodes); i++ {
			if !subsetCPUs(state[nodes[i].group], state[nodes[i-1].group]) {
				t.Errorf("after writing %s=%v: %s=%v not inside %s=%v", s.group, s.value,
					nodes[i].group, state[nodes[i].group], nodes[i-1].group, state[nodes[i-1].group])
			}
		}
	}
	for _, n := range nodes {
		if !slices.Equal(state[n.group], n.final) {
			t.Errorf("%s ends at %v, want %v", n.group, state[n.group], n.final)
		}
	}
}

func TestPlanQuota(t *testing.T) {
	t.Parallel()
	type n = node[quota]
	unl := quota{-1, 100_000}
	cases := []struct {
		name  string
		nodes []n
		want  []string
	}{
		{"unlimited to limited, child limited above", []n{{"a", unl, quota{50_000, 100_000}}, {"a/b", quota{200_000, 100_000}, quota{50_000, 100_000}}}, []string{"a/b {50000 100000}", "a {50000 100000}"}},
		{"grow parent, restore child", []n{{"a", quota{50_000, 100_000}, unl}, {"a/b", quota{50_000, 100_000}, quota{200_000, 100_000}}}, []string{"a {-1 100000}", "a/b {200000 100000}"}},
		{"same ratio, other period", []n{{"a", quota{50_000, 100_000}, quota{5_000, 10_000}}}, []string{"a {5000 10000}"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			state := map[string]quota{}
			for _, n := range tc.nodes {
				state[n.group] = n.cur
			}
			for _, s := range plan(tc.nodes, widenQuota, equalQuota) {
				got = append(got, fmt.Sprint(s.group, " ", s.value))
				state[s.group] = s.value
				for i := 1; i < len(tc.nodes); i++ {
					if c, p := state[tc.nodes[i].group].cores(), state[tc.nodes[i-1].group].cores(); c != inf && c > p {
						t.Errorf("after %s: child %v cores above parent %v", s.group, c, p)
					}
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("plan = %q, want %q", got, tc.want)
			}
		})
	}
}
