package qos_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/pkg/qos"
)

const gib = 1 << 30

// decideInput: 8 CPUs (4 cores × 2 threads), 16 GiB. Raw CPU = 8 × 0.65 −
// 2 − 0.4 = 2.8 cores; raw memory = 16 × 0.7 − 6 − 1 = 4.2 GiB.
func decideInput() qos.Input {
	return qos.Input{
		Now:      t0,
		CPU:      qos.Usage{Capacity: 8, Online: 2, System: 0.4, Offline: 1},
		Memory:   qos.Usage{Capacity: 16 * gib, Online: 6 * gib, System: 1 * gib, Offline: 2 * gib},
		Topology: ht4,
		Pods: []qos.Pod{
			{ID: "p1", Priority: 0, CPU: 0.5, MemoryBytes: 1 * gib},
			{ID: "p2", Priority: 0, CPU: 0.5, MemoryBytes: 1 * gib},
		},
	}
}

// lentState is the state after raw held long enough: both resources lend
// their raw amount.
func lentState() qos.State {
	return qos.State{
		CPU:        qos.Lend{Amount: 2.8},
		Memory:     qos.Lend{Amount: 4.2 * gib},
		LentCPU:    2.8,
		LentMemory: 4.2 * gib,
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	minBox := qos.BigBox{
		CPUQuotaMicros: 10000, CPUPeriodMicros: 100000, CPUWeight: 1,
		CPUs: []int{3, 7}, MemoryLimitBytes: 64 << 20, OOMScoreAdj: 1000,
	}
	lentBox := qos.BigBox{
		CPUQuotaMicros: 280000, CPUPeriodMicros: 100000, CPUWeight: 1,
		CPUs: []int{2, 3, 6, 7}, MemoryLimitBytes: 4509715660 /* ⌊4.2 GiB⌋ */, OOMScoreAdj: 1000,
	}
	restored := qos.BigBox{
		CPUQuotaMicros: -1, CPUPeriodMicros: 100000, CPUWeight: 100,
		CPUs: nil, MemoryLimitBytes: -1, OOMScoreAdj: 1000,
	}
	tests := []struct {
		name    string
		policy  func(*qos.Policy)
		input   func(*qos.Input)
		st      qos.State
		wantCPU float64 // decided lent cores
		wantMem float64 // decided lent bytes
		wantBox qos.BigBox
		restore bool
		advCPU  float64
		advMem  float64
		phase   qos.WindowPhase
		cool    bool
		victims []victimID
		why     string // a CPU reason substring
		check   func(t *testing.T, st qos.State)
	}{
		{
			name: "first call lends nothing new yet and keeps offline's memory",
			// The memory limit stays at offline usage (2 GiB): raw leaves
			// room for it, and squeezing it would OOM-kill offline work.
			wantBox: func() qos.BigBox { b := minBox; b.MemoryLimitBytes = 2 * gib; return b }(),
			why:     "rise pending 0s of 10s",
			check: func(t *testing.T, st qos.State) {
				if !st.CPU.RiseSince.Equal(t0) || !st.Memory.RiseSince.Equal(t0) {
					t.Errorf("rise not pending from now: %+v", st)
				}
				if !slices.Equal(st.CPUs, []int{3, 7}) {
					t.Errorf("State.CPUs = %v, want the chosen set", st.CPUs)
				}
			},
		},
		{
			name:    "lent raw sizes the big box",
			st:      lentState(),
			wantCPU: 2.8, wantMem: 4.2 * gib,
			wantBox: lentBox,
			advCPU:  2.8, advMem: 4.2 * gib,
		},
		{
			name:    "advertise never below what is held",
			input:   func(in *qos.Input) { in.HeldCPU, in.HeldMemory = 5, 8*gib },
			st:      lentState(),
			wantCPU: 2.8, wantMem: 4.2 * gib,
			wantBox: lentBox,
			advCPU:  5, advMem: 8 * gib,
		},
		{
			name:    "NaN held counts as nothing held",
			input:   func(in *qos.Input) { in.HeldCPU = math.NaN() },
			st:      lentState(),
			wantCPU: 2.8, wantMem: 4.2 * gib,
			wantBox: lentBox,
			advCPU:  2.8, advMem: 4.2 * gib,
		},
		{
			name:    "disabled lends nothing, restores and evicts every pod",
			policy:  func(p *qos.Policy) { p.Enabled = false },
			input:   func(in *qos.Input) { in.HeldCPU, in.HeldMemory = 1, gib },
			st:      func() qos.State { s := lentState(); s.CPUs = []int{2, 6}; return s }(),
			wantBox: restored,
			restore: true,
			advCPU:  1, advMem: gib,
			victims: []victimID{{"p1", "disabled"}, {"p2", "disabled"}},
			why:     "colocation disabled",
			check: func(t *testing.T, st qos.State) {
				if st.CPUs != nil {
					t.Errorf("State.CPUs = %v after restore, want nil", st.CPUs)
				}
				if st.CPU.Amount != 2.8 {
					t.Errorf("hysteresis stopped tracking: %+v", st.CPU)
				}
				if !st.CooldownUntil.IsZero() {
					t.Errorf("disabling started a cooldown")
				}
			},
		},
		{
			name:    "closed window lends nothing and shrinks to the floor",
			policy:  func(p *qos.Policy) { p.Windows = []qos.TimeWindow{{Start: hm(0, 30), End: hm(8, 0)}} },
			input:   func(in *qos.Input) { in.HeldCPU = 1 },
			st:      lentState(),
			wantBox: minBox,
			advCPU:  1,
			phase:   qos.WindowClosed,
			victims: []victimID{{"p1", "window"}, {"p2", "window"}},
			why:     "time window closed",
		},
		{
			name: "grace lends nothing new",
			policy: func(p *qos.Policy) {
				p.Windows = []qos.TimeWindow{{Start: hm(6, 0), End: hm(12, 30), Grace: time.Hour}}
			},
			st: func() qos.State {
				s := lentState()
				s.LentCPU, s.LentMemory = 1, gib
				return s
			}(),
			wantCPU: 1, wantMem: gib,
			// memory limit: offline usage (2 GiB), above the 1 GiB lent
			wantBox: qos.BigBox{
				CPUQuotaMicros: 100000, CPUPeriodMicros: 100000, CPUWeight: 1,
				CPUs: []int{3, 7}, MemoryLimitBytes: 2 * gib, OOMScoreAdj: 1000,
			},
			phase: qos.WindowGrace,
			why:   "time window grace",
		},
		{
			name: "grace lets lending fall",
			policy: func(p *qos.Policy) {
				p.Windows = []qos.TimeWindow{{Start: hm(6, 0), End: hm(12, 30), Grace: time.Hour}}
			},
			input: func(in *qos.Input) { in.CPU.Online = 3.3 },
			st:    lentState(),
			// raw CPU 8 × 0.65 − 3.3 − 0.4 = 1.5
			wantCPU: 1.5, wantMem: 4.2 * gib,
			wantBox: qos.BigBox{
				CPUQuotaMicros: 150000, CPUPeriodMicros: 100000, CPUWeight: 1,
				CPUs: []int{3, 7}, MemoryLimitBytes: 4509715660 /* ⌊4.2 GiB⌋ */, OOMScoreAdj: 1000,
			},
			phase: qos.WindowGrace,
		},
		{
			name: "cooldown lends nothing new",
			st: func() qos.State {
				s := lentState()
				s.LentCPU, s.LentMemory = 1, gib
				s.CooldownUntil = t0.Add(5 * time.Minute)
				return s
			}(),
			wantCPU: 1, wantMem: gib,
			// memory limit: offline usage (2 GiB), above the 1 GiB lent
			wantBox: qos.BigBox{
				CPUQuotaMicros: 100000, CPUPeriodMicros: 100000, CPUWeight: 1,
				CPUs: []int{3, 7}, MemoryLimitBytes: 2 * gib, OOMScoreAdj: 1000,
			},
			cool: true,
			why:  "eviction cooldown until 12:05:00",
		},
		{
			name: "ended cooldown lends again",
			st: func() qos.State {
				s := lentState()
				s.LentCPU, s.LentMemory = 1, gib
				s.CooldownUntil = t0.Add(-time.Second)
				return s
			}(),
			wantCPU: 2.8, wantMem: 4.2 * gib,
			wantBox: lentBox,
			advCPU:  2.8, advMem: 4.2 * gib,
		},
		{
			name: "memory eviction starts the cooldown at once",
			input: func(in *qos.Input) {
				in.Memory.Online = 12.5 * gib // node 15.5 GiB > 14.4 GiB
			},
			st: func() qos.State {
				s := lentState()
				s.LentCPU = 1
				return s
			}(),
			// raw memory 0 falls at once; CPU may not rise above 1.
			wantCPU: 1, wantMem: 0,
			wantBox: qos.BigBox{
				CPUQuotaMicros: 100000, CPUPeriodMicros: 100000, CPUWeight: 1,
				CPUs: []int{3, 7}, MemoryLimitBytes: 64 << 20, OOMScoreAdj: 1000,
			},
			cool:    true,
			victims: []victimID{{"p1", "memory"}, {"p2", "memory"}},
			check: func(t *testing.T, st qos.State) {
				if want := t0.Add(10 * time.Minute); !st.CooldownUntil.Equal(want) {
					t.Errorf("CooldownUntil = %v, want %v", st.CooldownUntil, want)
				}
			},
		},
		{
			name:    "custom CFS period",
			policy:  func(p *qos.Policy) { p.CFSPeriod = 50 * time.Millisecond },
			st:      lentState(),
			wantCPU: 2.8, wantMem: 4.2 * gib,
			wantBox: func() qos.BigBox { b := lentBox; b.CPUQuotaMicros, b.CPUPeriodMicros = 140000, 50000; return b }(),
			advCPU:  2.8, advMem: 4.2 * gib,
		},
		{
			name:    "out-of-range CFS period falls back to 100ms",
			policy:  func(p *qos.Policy) { p.CFSPeriod = 5 * time.Second },
			st:      lentState(),
			wantCPU: 2.8, wantMem: 4.2 * gib,
			wantBox: lentBox,
			advCPU:  2.8, advMem: 4.2 * gib,
		},
		{
			name: "online needing the memory squeezes offline",
			// raw memory 16 × 0.7 − 10 − 1 = 0.2 GiB < offline 2 GiB: the
			// limit falls with raw, not held at offline usage.
			input:   func(in *qos.Input) { in.Memory.Online = 10 * gib },
			st:      lentState(),
			wantCPU: 2.8, wantMem: 0.2 * gib,
			wantBox: func() qos.BigBox { b := lentBox; b.MemoryLimitBytes = 214748364; /* ⌊0.2 GiB⌋ */ return b }(),
			advCPU:  2.8, advMem: 0.2 * gib,
		},
		{
			name:    "tiny floor still gives the kernel's least quota",
			policy:  func(p *qos.Policy) { p.CPU.MinLimit = 0 },
			wantBox: func() qos.BigBox { b := minBox; b.CPUQuotaMicros, b.MemoryLimitBytes = 1000, 2*gib; return b }(),
		},
		{
			name:    "NaN online usage lends nothing at once",
			input:   func(in *qos.Input) { in.CPU.Online = math.NaN() },
			st:      lentState(),
			wantCPU: 0, wantMem: 4.2 * gib,
			wantBox: func() qos.BigBox { b := lentBox; b.CPUQuotaMicros, b.CPUs = 10000, []int{3, 7}; return b }(),
			advCPU:  0, advMem: 4.2 * gib,
			why: "online usage not finite",
		},
		{
			name:    "cpuset sticks to the previous cores",
			input:   func(in *qos.Input) { in.CPUBusy = []float64{0.9, 0, 0, 0, 0.9, 0, 0, 0} },
			st:      func() qos.State { s := lentState(); s.CPUs = []int{0, 4}; return s }(),
			wantCPU: 2.8, wantMem: 4.2 * gib,
			wantBox: func() qos.BigBox { b := lentBox; b.CPUs = []int{0, 3, 4, 7}; return b }(),
			advCPU:  2.8, advMem: 4.2 * gib,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := qos.DefaultPolicy()
			if tc.policy != nil {
				tc.policy(&p)
			}
			in := decideInput()
			if tc.input != nil {
				tc.input(&in)
			}
			d, st := qos.Decide(p, in, tc.st)
			if !near(d.CPU.Lent, tc.wantCPU) || !near(st.LentCPU, tc.wantCPU) {
				t.Errorf("lent CPU = %v (state %v), want %v; reasons %q", d.CPU.Lent, st.LentCPU, tc.wantCPU, d.CPU.Reasons)
			}
			if !near(d.Memory.Lent, tc.wantMem) || !near(st.LentMemory, tc.wantMem) {
				t.Errorf("lent memory = %v (state %v), want %v; reasons %q", d.Memory.Lent, st.LentMemory, tc.wantMem, d.Memory.Reasons)
			}
			if fmt.Sprint(d.BigBox) != fmt.Sprint(tc.wantBox) {
				t.Errorf("BigBox = %+v, want %+v", d.BigBox, tc.wantBox)
			}
			if d.Restore != tc.restore {
				t.Errorf("Restore = %v, want %v", d.Restore, tc.restore)
			}
			if !near(d.AdvertiseCPU, tc.advCPU) || !near(d.AdvertiseMemory, tc.advMem) {
				t.Errorf("advertise = %v cores, %v bytes; want %v, %v", d.AdvertiseCPU, d.AdvertiseMemory, tc.advCPU, tc.advMem)
			}
			if d.Phase != tc.phase || d.Cooldown != tc.cool {
				t.Errorf("phase %s cooldown %v, want %s %v", d.Phase, d.Cooldown, tc.phase, tc.cool)
			}
			if ids := victimIDs(d.Victims); !slices.Equal(ids, tc.victims) {
				t.Errorf("victims = %v, want %v", ids, tc.victims)
			}
			if tc.why != "" && !hasReason(d.CPU.Reasons, tc.why) {
				t.Errorf("CPU reasons = %q, want one containing %q", d.CPU.Reasons, tc.why)
			}
			if tc.check != nil {
				tc.check(t, st)
			}
		})
	}
}

// TestDecideSequence: a restarted agent, an online spike, an eviction and
// its cooldown, step by step with the state carried over.
func TestDecideSequence(t *testing.T) {
	t.Parallel()
	p := qos.DefaultPolicy()
	p.Memory.GrowAfter = 10 * time.Second
	var st qos.State
	steps := []struct {
		at      time.Duration
		online  float64 // CPU cores
		memory  float64 // online GiB
		wantCPU float64
		cool    bool
	}{
		{0, 2, 6, 0, false},
		{5 * time.Second, 2, 6, 0, false},
		{10 * time.Second, 2, 6, 2.8, false},
		{11 * time.Second, 4, 6, 0.8, false}, // online rise: falls at once
		{12 * time.Second, 2, 6, 0.8, false}, // recovery waits
		{22 * time.Second, 2, 6, 2.8, false},
		{23 * time.Second, 2, 13, 2.8, true}, // memory eviction: cooldown
		{40 * time.Second, 1, 6, 2.8, true},  // raw CPU 3.8 but nothing new
		{23*time.Second + 10*time.Minute, 1, 6, 3.8, false},
	}
	for i, s := range steps {
		in := decideInput()
		in.Now = t0.Add(s.at)
		in.CPU.Online = s.online
		in.Memory.Online = s.memory * gib
		var d qos.Decision
		d, st = qos.Decide(p, in, st)
		if !near(d.CPU.Lent, s.wantCPU) || d.Cooldown != s.cool {
			t.Fatalf("step %d at %s: lent %v cooldown %v, want %v %v; reasons %q",
				i, s.at, d.CPU.Lent, d.Cooldown, s.wantCPU, s.cool, d.CPU.Reasons)
		}
	}
}

func TestStartCooldown(t *testing.T) {
	t.Parallel()
	p := qos.DefaultPolicy()
	tests := []struct {
		name  string
		cool  time.Duration
		until time.Time
		want  time.Time
	}{
		{name: "starts", cool: 10 * time.Minute, want: t0.Add(10 * time.Minute)},
		{name: "extends", cool: 10 * time.Minute, until: t0.Add(time.Minute), want: t0.Add(10 * time.Minute)},
		{name: "never shortens", cool: 10 * time.Minute, until: t0.Add(time.Hour), want: t0.Add(time.Hour)},
		{name: "negative cooldown is none", cool: -time.Minute, want: t0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := p
			p.EvictionCooldown = tc.cool
			st := qos.StartCooldown(p, qos.State{CooldownUntil: tc.until}, t0)
			if !st.CooldownUntil.Equal(tc.want) {
				t.Errorf("CooldownUntil = %v, want %v", st.CooldownUntil, tc.want)
			}
		})
	}
}

// TestDecideProperties drives Decide with random, partly hostile input and
// checks the invariants that keep online work safe.
func TestDecideProperties(t *testing.T) {
	t.Parallel()
	topos := []qos.Topology{ht4, {Cores: [][]int{{0}, {1}}}, {Cores: [][]int{{0, 1}, {2}, {3}}}, {}}
	for seed := range uint64(40) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 99))
			p := qos.DefaultPolicy()
			p.CPU.GrowAfter = time.Duration(rng.IntN(20)) * time.Second
			p.Memory.GrowAfter = time.Duration(rng.IntN(60)) * time.Second
			p.CPU.DeadbandPercent = rng.Float64() * 5
			p.EvictionCooldown = time.Duration(rng.IntN(120)) * time.Second
			if rng.IntN(3) == 0 {
				p.Windows = []qos.TimeWindow{{Start: hm(rng.IntN(24), 0), End: hm(rng.IntN(24), 0), Grace: 10 * time.Minute}}
			}
			topo := topos[rng.IntN(len(topos))]
			capCPU := float64(rng.IntN(64) + 1)
			capMem := float64(rng.IntN(256)+1) * gib
			hostile := func(v float64) float64 {
				switch rng.IntN(200) {
				case 0:
					return math.NaN()
				case 1:
					return math.Inf(1)
				case 2:
					return -v
				}
				return v
			}
			var st qos.State
			type sample struct {
				at  time.Time
				raw float64
			}
			var history []sample
			now := t0
			for tick := range 500 {
				now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
				p.Enabled = rng.IntN(100) != 0
				in := qos.Input{
					Now:        now,
					CPU:        qos.Usage{Capacity: capCPU, Online: hostile(rng.Float64() * capCPU), System: rng.Float64() * capCPU * 0.1, Offline: rng.Float64() * capCPU * 0.3},
					Memory:     qos.Usage{Capacity: capMem, Online: hostile(rng.Float64() * capMem * 0.8), System: rng.Float64() * capMem * 0.1},
					Topology:   topo,
					HeldCPU:    hostile(rng.Float64() * capCPU * 0.2),
					HeldMemory: rng.Float64() * capMem * 0.2,
				}
				for i := range rng.IntN(5) {
					in.Pods = append(in.Pods, qos.Pod{ID: fmt.Sprint(i), Priority: int32(rng.IntN(2)), CPU: rng.Float64(), MemoryBytes: rng.Float64() * gib})
				}
				prevCooldown, prevLent := st.CooldownUntil, st.LentCPU
				d, next := qos.Decide(p, in, st)
				fail := func(format string, args ...any) {
					t.Helper()
					t.Fatalf("tick %d: %s\ninput %+v\nstate %+v\ndecision %+v", tick, fmt.Sprintf(format, args...), in, st, d)
				}
				for _, v := range []float64{d.CPU.Lent, d.Memory.Lent, next.LentCPU, next.LentMemory, next.CPU.Amount, next.Memory.Amount} {
					if !(v >= 0) || math.IsInf(v, 0) {
						fail("lent %v negative or not finite", v)
					}
				}
				if d.CPU.Lent > d.CPU.Raw+d.CPU.Deadband+1e-9 || d.Memory.Lent > d.Memory.Raw+d.Memory.Deadband+1e-3 {
					fail("lent above raw + deadband")
				}
				if d.Restore {
					if d.BigBox.CPUQuotaMicros != -1 || d.BigBox.MemoryLimitBytes != -1 || d.BigBox.CPUs != nil {
						fail("restore is not the default big box")
					}
				} else {
					period := float64(d.BigBox.CPUPeriodMicros)
					if minQuota := int64(math.Floor(p.CPU.MinLimit*period + 1e-6)); d.BigBox.CPUQuotaMicros < max(minQuota, 1000) {
						fail("quota %d below the floor %d", d.BigBox.CPUQuotaMicros, minQuota)
					}
					if float64(d.BigBox.MemoryLimitBytes) < p.Memory.MinLimit {
						fail("memory limit %d below the floor", d.BigBox.MemoryLimitBytes)
					}
					if d.BigBox.CPUWeight != 1 || d.BigBox.OOMScoreAdj != 1000 {
						fail("weight or oom_score_adj not the big box values")
					}
					if len(topo.Cores) > 0 && (len(d.BigBox.CPUs) == 0 || !slices.IsSorted(d.BigBox.CPUs)) {
						fail("cpuset %v empty or unsorted", d.BigBox.CPUs)
					}
				}
				held := in.HeldCPU
				if !(held >= 0) || math.IsInf(held, 0) {
					held = 0
				}
				if d.AdvertiseCPU < held || d.AdvertiseMemory < in.HeldMemory {
					fail("advertise below held")
				}
				if (d.Phase != qos.WindowOpen || d.Cooldown || !p.Enabled) && d.AdvertiseCPU != held {
					fail("advertised %v, want only the held %v when nothing new may be lent", d.AdvertiseCPU, held)
				}
				if (d.Phase == qos.WindowGrace || d.Cooldown) && d.CPU.Lent > prevLent+1e-12 {
					fail("lent rose from %v to %v during grace or cooldown", prevLent, d.CPU.Lent)
				}
				if next.CooldownUntil.Before(prevCooldown) {
					fail("cooldown shortened")
				}
				seen := map[string]bool{}
				for _, v := range d.Victims {
					if seen[v.Pod.ID] {
						fail("pod %s listed twice", v.Pod.ID)
					}
					seen[v.Pod.ID] = true
				}
				// A rise lends no more than any raw seen in the GrowAfter
				// before it.
				history = append(history, sample{now, d.CPU.Raw})
				if next.CPU.Amount > st.CPU.Amount && next.CPU.Amount > 0 {
					for _, h := range history {
						if !h.at.Before(now.Add(-p.CPU.GrowAfter)) && next.CPU.Amount > h.raw+1e-9 {
							fail("rose to %v above raw %v seen at %v", next.CPU.Amount, h.raw, h.at)
						}
					}
				}
				st = next
			}
		})
	}
}

func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{10, 200, 1000} {
		b.Run(fmt.Sprint("pods=", n), func(b *testing.B) {
			p := qos.DefaultPolicy()
			p.CPUEvictAfter = 0
			in := decideInput()
			in.Topology = qos.Topology{}
			for c := range 32 {
				in.Topology.Cores = append(in.Topology.Cores, []int{c, c + 32})
			}
			in.CPUBusy = make([]float64, 64)
			in.Pods = make([]qos.Pod, n)
			for i := range in.Pods {
				in.Pods[i] = qos.Pod{ID: fmt.Sprint("pod-", i), Priority: int32(i % 3), CPU: float64(i%7) / 10, MemoryBytes: float64(i % 11 << 20)}
			}
			// Under memory and CPU pressure so the ranking runs.
			in.Memory.Online = 13 * gib
			in.CPU.Online = 7.5
			st := lentState()
			b.ReportAllocs()
			for b.Loop() {
				in.Now = in.Now.Add(50 * time.Millisecond)
				_, st = qos.Decide(p, in, st)
			}
		})
	}
}
