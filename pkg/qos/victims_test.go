package qos_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/pkg/qos"
)

type victimID struct {
	id     string
	reason string
}

func victimIDs(vs []qos.Victim) []victimID {
	var out []victimID
	for _, v := range vs {
		out = append(out, victimID{v.Pod.ID, v.Reason})
	}
	return out
}

func TestVictims(t *testing.T) {
	t.Parallel()
	const gib = 1 << 30
	// Memory: capacity 100 GiB, evict above 90, release to 80.
	// CPU: capacity 10 cores, evict above 9, release to 8.
	memUsage := func(node float64) qos.Usage {
		return qos.Usage{Capacity: 100 * gib, System: 10 * gib, Online: node - 30*gib, Offline: 20 * gib}
	}
	cpuUsage := func(node float64) qos.Usage {
		return qos.Usage{Capacity: 10, System: 1, Online: node - 3, Offline: 2}
	}
	calmMem, calmCPU := memUsage(50*gib), cpuUsage(5)
	pods := []qos.Pod{
		{ID: "a", Priority: 0, MemoryBytes: 10 * gib, CPU: 0.5},
		{ID: "b", Priority: 0, MemoryBytes: 8 * gib, CPU: 1.5},
		{ID: "c", Priority: 1, MemoryBytes: 50 * gib, CPU: 3},
		{ID: "d", Priority: -5, MemoryBytes: 1 * gib, CPU: 0.1},
	}
	policy := func(mod func(*qos.Policy)) qos.Policy {
		p := qos.DefaultPolicy()
		if mod != nil {
			mod(&p)
		}
		return p
	}
	tests := []struct {
		name        string
		policy      qos.Policy
		cpu, memory qos.Usage
		pods        []qos.Pod
		st          qos.State
		want        []victimID
		wantOver    time.Time
	}{
		{
			name:   "calm node evicts nothing",
			policy: policy(nil), cpu: calmCPU, memory: calmMem, pods: pods,
		},
		{
			name:   "disabled evicts every pod",
			policy: policy(func(p *qos.Policy) { p.Enabled = false }), cpu: calmCPU, memory: calmMem, pods: pods,
			st:   qos.State{CPUOverSince: t0.Add(-time.Hour)},
			want: []victimID{{"d", "disabled"}, {"a", "disabled"}, {"b", "disabled"}, {"c", "disabled"}},
		},
		{
			name: "closed window evicts every pod",
			policy: policy(func(p *qos.Policy) {
				p.Windows = []qos.TimeWindow{{Start: hm(0, 30), End: hm(8, 0)}}
			}),
			cpu: calmCPU, memory: calmMem, pods: pods,
			want: []victimID{{"d", "window"}, {"a", "window"}, {"b", "window"}, {"c", "window"}},
		},
		{
			name: "grace evicts nothing",
			policy: policy(func(p *qos.Policy) {
				p.Windows = []qos.TimeWindow{{Start: hm(0, 30), End: hm(12, 30), Grace: time.Hour}}
			}),
			cpu: calmCPU, memory: calmMem, pods: pods,
		},
		{
			name:   "memory at the watermark evicts nothing",
			policy: policy(nil), cpu: calmCPU, memory: memUsage(90 * gib), pods: pods,
		},
		{
			name:   "memory over: lowest priority, then largest, until the release level",
			policy: policy(nil), cpu: calmCPU, memory: memUsage(95 * gib), pods: pods,
			// free 15 GiB: d (1) + a (10) + b (8) = 19 ≥ 15
			want: []victimID{{"d", "memory"}, {"a", "memory"}, {"b", "memory"}},
		},
		{
			name:   "memory just over: one pod suffices",
			policy: policy(nil), cpu: calmCPU, memory: memUsage(91 * gib),
			pods: []qos.Pod{{ID: "x", MemoryBytes: 20 * gib}, {ID: "y", MemoryBytes: 30 * gib}},
			want: []victimID{{"y", "memory"}},
		},
		{
			name:   "memory over with too little offline takes every pod",
			policy: policy(nil), cpu: calmCPU, memory: memUsage(99 * gib),
			pods: []qos.Pod{{ID: "x", MemoryBytes: gib}, {ID: "y", MemoryBytes: gib}},
			want: []victimID{{"x", "memory"}, {"y", "memory"}},
		},
		{
			name:   "ties break by ID",
			policy: policy(nil), cpu: calmCPU, memory: memUsage(91 * gib),
			pods: []qos.Pod{{ID: "q", MemoryBytes: 20 * gib}, {ID: "p", MemoryBytes: 20 * gib}},
			want: []victimID{{"p", "memory"}},
		},
		{
			name:   "NaN pod memory ranks as zero",
			policy: policy(nil), cpu: calmCPU, memory: memUsage(91 * gib),
			pods: []qos.Pod{{ID: "n", MemoryBytes: math.NaN()}, {ID: "m", MemoryBytes: 20 * gib}},
			want: []victimID{{"m", "memory"}},
		},
		{
			name:   "NaN node memory decides nothing",
			policy: policy(nil), cpu: calmCPU, memory: qos.Usage{Capacity: 100 * gib, Online: math.NaN()}, pods: pods,
		},
		{
			name:   "zero capacity decides nothing",
			policy: policy(nil), cpu: qos.Usage{Online: 5}, memory: qos.Usage{Online: 5}, pods: pods,
		},
		{
			name:   "CPU over starts the clock without evicting",
			policy: policy(nil), cpu: cpuUsage(9.5), memory: calmMem, pods: pods,
			wantOver: t0,
		},
		{
			name:   "CPU over not long enough",
			policy: policy(nil), cpu: cpuUsage(9.5), memory: calmMem, pods: pods,
			st:       qos.State{CPUOverSince: t0.Add(-9 * time.Second)},
			wantOver: t0.Add(-9 * time.Second),
		},
		{
			name:   "CPU over for CPUEvictAfter evicts by priority then CPU and restarts the clock",
			policy: policy(nil), cpu: cpuUsage(9.5), memory: calmMem, pods: pods,
			st: qos.State{CPUOverSince: t0.Add(-10 * time.Second)},
			// free 1.5 cores: d (0.1) + b (1.5)
			want:     []victimID{{"d", "cpu"}, {"b", "cpu"}},
			wantOver: t0,
		},
		{
			name:   "CPU back under drops the clock",
			policy: policy(nil), cpu: cpuUsage(9), memory: calmMem, pods: pods,
			st: qos.State{CPUOverSince: t0.Add(-time.Hour)},
		},
		{
			name:   "CPU evict after zero evicts at once",
			policy: policy(func(p *qos.Policy) { p.CPUEvictAfter = 0 }), cpu: cpuUsage(9.5), memory: calmMem, pods: pods,
			want:     []victimID{{"d", "cpu"}, {"b", "cpu"}},
			wantOver: t0,
		},
		{
			name:   "memory victims are not listed again and their CPU counts",
			policy: policy(nil), cpu: cpuUsage(10), memory: memUsage(91 * gib), pods: pods,
			st: qos.State{CPUOverSince: t0.Add(-time.Minute)},
			// memory frees 1 GiB: d (1) then a (10); CPU must free 2: d+a give
			// 0.6, then b (1.5) makes 2.1.
			want:     []victimID{{"d", "memory"}, {"a", "memory"}, {"b", "cpu"}},
			wantOver: t0,
		},
		{
			name:   "memory victims' CPU may suffice",
			policy: policy(nil), cpu: cpuUsage(9.2), memory: memUsage(95 * gib), pods: pods,
			st:       qos.State{CPUOverSince: t0.Add(-time.Minute)},
			want:     []victimID{{"d", "memory"}, {"a", "memory"}, {"b", "memory"}},
			wantOver: t0.Add(-time.Minute),
		},
		{
			name:   "a clock that went back restarts the CPU wait",
			policy: policy(nil), cpu: cpuUsage(9.5), memory: calmMem, pods: pods,
			st:       qos.State{CPUOverSince: t0.Add(time.Minute)},
			wantOver: t0,
		},
		{
			name:   "no pods, no victims",
			policy: policy(nil), cpu: cpuUsage(10), memory: memUsage(99 * gib),
			st:       qos.State{CPUOverSince: t0.Add(-time.Minute)},
			wantOver: t0.Add(-time.Minute),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := slices.Clone(tc.pods)
			got, st := qos.Victims(tc.policy, tc.cpu, tc.memory, tc.pods, tc.st, t0)
			if ids := victimIDs(got); !slices.Equal(ids, tc.want) {
				t.Errorf("victims = %v, want %v", ids, tc.want)
			}
			if !st.CPUOverSince.Equal(tc.wantOver) {
				t.Errorf("CPUOverSince = %v, want %v", st.CPUOverSince, tc.wantOver)
			}
			if !slices.EqualFunc(before, tc.pods, func(a, b qos.Pod) bool { return a.ID == b.ID }) {
				t.Errorf("Victims reordered its input")
			}
		})
	}
}

// TestVictimsDeterministic: the ranking does not depend on input order.
func TestVictimsDeterministic(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	pods := make([]qos.Pod, 50)
	for i := range pods {
		pods[i] = qos.Pod{
			ID:          string(rune('A' + i%26)),
			Namespace:   "ns",
			Name:        string(rune('a'+i%26)) + string(rune('a'+i/26)),
			Priority:    int32(rng.IntN(3)),
			MemoryBytes: float64(rng.IntN(4)) * (1 << 30),
			CPU:         float64(rng.IntN(4)) / 2,
		}
	}
	p := qos.DefaultPolicy()
	p.CPUEvictAfter = 0
	cpu := qos.Usage{Capacity: 8, Online: 7.9}
	mem := qos.Usage{Capacity: 64 << 30, Online: 60 << 30}
	want, _ := qos.Victims(p, cpu, mem, pods, qos.State{}, t0)
	if len(want) == 0 {
		t.Fatal("no victims: the test input is not under pressure")
	}
	for i := range 20 {
		shuffled := slices.Clone(pods)
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		got, _ := qos.Victims(p, cpu, mem, shuffled, qos.State{}, t0)
		if !slices.EqualFunc(got, want, func(a, b qos.Victim) bool { return a == b }) {
			t.Fatalf("shuffle %d: victims differ:\n got %v\nwant %v", i, victimIDs(got), victimIDs(want))
		}
	}
}
