package qos_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/quick"

	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// ht4 is 4 cores with 2 hyper-threads each, siblings numbered n and n+4.
var ht4 = qos.Topology{Cores: [][]int{{0, 4}, {1, 5}, {2, 6}, {3, 7}}}

func TestCPUSet(t *testing.T) {
	t.Parallel()
	// hybrid: one 2-thread performance core and four 1-thread efficiency
	// cores.
	hybrid := qos.Topology{Cores: [][]int{{0, 1}, {2}, {3}, {4}, {5}}}
	busy8 := func(pairs ...float64) []float64 {
		b := make([]float64, 8)
		for i := 0; i+1 < len(pairs); i += 2 {
			b[int(pairs[i])] = pairs[i+1]
		}
		return b
	}
	tests := []struct {
		name string
		topo qos.Topology
		lent float64
		busy []float64
		prev []int
		want []int
	}{
		{name: "one core, the highest when all idle", topo: ht4, lent: 1, want: []int{3, 7}},
		{name: "a fraction of a core takes a whole core", topo: ht4, lent: 0.1, want: []int{3, 7}},
		{name: "zero lent still takes one core", topo: ht4, lent: 0, want: []int{3, 7}},
		{name: "negative lent takes one core", topo: ht4, lent: -3, want: []int{3, 7}},
		{name: "NaN lent takes one core", topo: ht4, lent: math.NaN(), want: []int{3, 7}},
		{name: "exactly two threads fit one core", topo: ht4, lent: 2, want: []int{3, 7}},
		{name: "float noise above two threads fits one core", topo: ht4, lent: 2 + 1e-12, want: []int{3, 7}},
		{name: "2.5 threads need two cores", topo: ht4, lent: 2.5, want: []int{2, 3, 6, 7}},
		{name: "more than the node takes all", topo: ht4, lent: 100, want: []int{0, 1, 2, 3, 4, 5, 6, 7}},
		{name: "infinite lent is unsafe and takes one core", topo: ht4, lent: math.Inf(1), want: []int{3, 7}},
		{
			name: "least busy core wins",
			topo: ht4, lent: 2, busy: busy8(3, 0.9, 7, 0.9, 2, 0.1),
			want: []int{1, 5},
		},
		{
			name: "busy summed over siblings",
			topo: ht4, lent: 2, busy: busy8(0, 0.6, 1, 0.35, 5, 0.35, 2, 0.7, 3, 0.7),
			want: []int{0, 4},
		},
		{
			name: "NaN busy counts as fully busy",
			topo: ht4, lent: 2, busy: []float64{0.5, 0.5, 0.5, math.NaN(), 0.5, 0.5, 0.5, 0.2},
			want: []int{2, 6},
		},
		{
			name: "short busy slice counts missing CPUs idle",
			topo: ht4, lent: 2, busy: []float64{0.1, 0.1, 0.1},
			want: []int{3, 7},
		},
		{
			name: "previous core sticks even when busier",
			topo: ht4, lent: 2, busy: busy8(0, 0.5), prev: []int{0, 4},
			want: []int{0, 4},
		},
		{
			name: "growing keeps the previous core and adds the least busy",
			topo: ht4, lent: 4, busy: busy8(3, 0.9, 7, 0.9), prev: []int{0, 4},
			want: []int{0, 2, 4, 6},
		},
		{
			name: "shrinking keeps the least busy previous core",
			topo: ht4, lent: 2, busy: busy8(0, 0.8, 1, 0.2), prev: []int{0, 1, 4, 5},
			want: []int{1, 5},
		},
		{
			name: "a previous set from another topology still counts by core",
			topo: ht4, lent: 1, prev: []int{5, 99},
			want: []int{1, 5},
		},
		{name: "no hyper-threading, half a core", topo: qos.Topology{Cores: [][]int{{0}, {1}}}, lent: 0.5, want: []int{1}},
		{name: "no hyper-threading, 1.5 cores", topo: qos.Topology{Cores: [][]int{{0}, {1}}}, lent: 1.5, want: []int{0, 1}},
		{name: "hybrid: single-thread cores count one", topo: hybrid, lent: 2, want: []int{4, 5}},
		{
			name: "hybrid: an idle two-thread core covers two",
			topo: hybrid, lent: 2, busy: []float64{0, 0, 0.5, 0.5, 0.5, 0.5},
			want: []int{0, 1},
		},
		{
			name: "hybrid: mixed sizes add up to cover the lent amount",
			topo: hybrid, lent: 3, busy: []float64{0, 0, 0.5, 0.5, 0.5, 0.1},
			want: []int{0, 1, 5},
		},
		{name: "empty topology means all CPUs", topo: qos.Topology{}, lent: 2, want: nil},
		{name: "empty cores are skipped", topo: qos.Topology{Cores: [][]int{{}, {0}, {}}}, lent: 2, want: []int{0}},
		{name: "only empty cores means all CPUs", topo: qos.Topology{Cores: [][]int{{}}}, lent: 2, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := qos.CPUSet(tc.topo, tc.lent, tc.busy, tc.prev)
			if !slices.Equal(got, tc.want) {
				t.Errorf("CPUSet(lent %v) = %v, want %v", tc.lent, got, tc.want)
			}
		})
	}
}

// TestCPUSetProperties: whatever the input, the set is whole cores, sorted,
// non-empty, and holds the lent amount unless it is every core.
func TestCPUSetProperties(t *testing.T) {
	t.Parallel()
	topos := []qos.Topology{
		ht4,
		{Cores: [][]int{{0}, {1}}},
		{Cores: [][]int{{0, 1}, {2}, {3}, {4}, {5}}},
		{Cores: [][]int{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}},
	}
	check := func(lentCenti uint16, seed uint64, topoIndex uint8, prevMask uint16) bool {
		topo := topos[int(topoIndex)%len(topos)]
		lent := float64(lentCenti%1200) / 100
		rng := rand.New(rand.NewPCG(seed, 0))
		busy := make([]float64, 10)
		for i := range busy {
			busy[i] = rng.Float64()
		}
		var prev []int
		for i := range 10 {
			if prevMask&(1<<i) != 0 {
				prev = append(prev, i)
			}
		}
		got := qos.CPUSet(topo, lent, busy, prev)
		if len(got) == 0 || !slices.IsSorted(got) {
			return false
		}
		total, coresTaken := 0, 0
		for _, core := range topo.Cores {
			total += len(core)
			in := 0
			for _, c := range core {
				if slices.Contains(got, c) {
					in++
				}
			}
			if in != 0 && in != len(core) {
				return false // siblings split
			}
			if in != 0 {
				coresTaken++
			}
		}
		// Enough CPUs for the lent amount, or every core.
		return coresTaken > 0 && (float64(len(got)) >= lent || len(got) == total)
	}
	if err := quick.Check(check, &quick.Config{MaxCount: 2000}); err != nil {
		t.Error(err)
	}
}

func TestCPUSetDoesNotAliasInput(t *testing.T) {
	t.Parallel()
	topo := qos.Topology{Cores: [][]int{{0, 4}, {1, 5}}}
	got := qos.CPUSet(topo, 4, nil, nil)
	got[0] = 99
	if topo.Cores[0][0] != 0 {
		t.Errorf("CPUSet result shares memory with the topology")
	}
}
