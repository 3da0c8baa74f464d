package qos_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/pkg/qos"
)

var t0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC) // a Monday

// cpuPolicy: capacity 10 cores → watermark 6.5 cores, deadband 0.2 cores.
func cpuPolicy() qos.ResourcePolicy {
	return qos.ResourcePolicy{
		ReclaimWatermarkPercent: 65,
		EvictWatermarkPercent:   90,
		EvictReleasePercent:     10,
		MinLimit:                0.1,
		DeadbandPercent:         2,
		GrowAfter:               10 * time.Second,
	}
}

func lendEqual(a, b qos.Lend) bool {
	return near(a.Amount, b.Amount) && near(a.RiseFloor, b.RiseFloor) && a.RiseSince.Equal(b.RiseSince)
}

// near compares amounts to a relative 1e-12 (bytes are large floats);
// NaN is near NaN.
func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) <= 1e-12*max(1, math.Abs(a), math.Abs(b))
}

func hasReason(reasons []string, sub string) bool {
	for _, r := range reasons {
		if strings.Contains(r, sub) {
			return true
		}
	}
	return false
}

func TestReclaim(t *testing.T) {
	t.Parallel()
	nan := math.NaN
	usage := func(online, system float64) qos.Usage {
		return qos.Usage{Capacity: 10, Online: online, System: system}
	}
	tests := []struct {
		name     string
		policy   func(*qos.ResourcePolicy)
		usage    qos.Usage
		prev     qos.Lend
		now      time.Time
		want     qos.Lend
		wantRaw  float64
		wantWhy  string // a substring of one of the reasons; "" checks none
		noReason bool
	}{
		{
			name:    "first call starts a pending rise from zero",
			usage:   usage(2, 0.5),
			want:    qos.Lend{RiseSince: t0, RiseFloor: 4},
			wantRaw: 4,
			wantWhy: "rise pending 0s of 10s (floor 4.00)",
		},
		{
			name:    "pending rise waits",
			usage:   usage(2, 0.5),
			prev:    qos.Lend{RiseSince: t0.Add(-3 * time.Second), RiseFloor: 3.5},
			want:    qos.Lend{RiseSince: t0.Add(-3 * time.Second), RiseFloor: 3.5},
			wantRaw: 4,
			wantWhy: "rise pending 3s of 10s (floor 3.50)",
		},
		{
			name:    "pending rise lowers its floor",
			usage:   usage(2, 0.5),
			prev:    qos.Lend{RiseSince: t0.Add(-3 * time.Second), RiseFloor: 5},
			want:    qos.Lend{RiseSince: t0.Add(-3 * time.Second), RiseFloor: 4},
			wantRaw: 4,
		},
		{
			name:    "rise completes at GrowAfter to the least raw seen",
			usage:   usage(2, 0.5),
			prev:    qos.Lend{RiseSince: t0.Add(-10 * time.Second), RiseFloor: 3},
			want:    qos.Lend{Amount: 3},
			wantRaw: 4,
			wantWhy: "rose to least raw seen in 10s: 3.00",
		},
		{
			name:    "GrowAfter zero rises at once",
			policy:  func(p *qos.ResourcePolicy) { p.GrowAfter = 0 },
			usage:   usage(2, 0.5),
			prev:    qos.Lend{Amount: 1},
			want:    qos.Lend{Amount: 4},
			wantRaw: 4,
		},
		{
			name:    "negative GrowAfter rises at once",
			policy:  func(p *qos.ResourcePolicy) { p.GrowAfter = -time.Second },
			usage:   usage(2, 0.5),
			want:    qos.Lend{Amount: 4},
			wantRaw: 4,
		},
		{
			name:    "fall beyond the deadband is immediate",
			usage:   usage(3, 0.5),
			prev:    qos.Lend{Amount: 4},
			want:    qos.Lend{Amount: 3},
			wantRaw: 3,
			wantWhy: "fell at once from 4.00",
		},
		{
			name:    "fall drops a pending rise",
			usage:   usage(5, 0.5),
			prev:    qos.Lend{Amount: 2, RiseSince: t0.Add(-5 * time.Second), RiseFloor: 5},
			want:    qos.Lend{Amount: 1},
			wantRaw: 1,
		},
		{
			name:    "fall within the deadband is skipped",
			usage:   usage(2.1, 0.5),
			prev:    qos.Lend{Amount: 4},
			want:    qos.Lend{Amount: 4},
			wantRaw: 3.9,
			wantWhy: "within deadband 0.20",
		},
		{
			name:    "rise within the deadband is skipped and drops a pending rise",
			usage:   usage(1.9, 0.5),
			prev:    qos.Lend{Amount: 4, RiseSince: t0.Add(-5 * time.Second), RiseFloor: 4.5},
			want:    qos.Lend{Amount: 4},
			wantRaw: 4.1,
		},
		{
			name:     "unchanged raw gives no reason",
			usage:    usage(2, 0.5),
			prev:     qos.Lend{Amount: 4},
			want:     qos.Lend{Amount: 4},
			wantRaw:  4,
			noReason: true,
		},
		{
			name:    "raw zero falls at once even within the deadband",
			usage:   usage(6.5, 0),
			prev:    qos.Lend{Amount: 0.1},
			want:    qos.Lend{},
			wantRaw: 0,
		},
		{
			name:    "online above the watermark gives raw zero",
			usage:   usage(9, 0.5),
			prev:    qos.Lend{Amount: 3},
			want:    qos.Lend{},
			wantRaw: 0,
		},
		{
			name:    "predicted online peak counts",
			policy:  func(p *qos.ResourcePolicy) { p.GrowAfter = 0 },
			usage:   qos.Usage{Capacity: 10, Online: 1, PredictedOnline: 3, System: 0.5},
			want:    qos.Lend{Amount: 3},
			wantRaw: 3,
		},
		{
			name:    "system reserved counts when above system usage",
			policy:  func(p *qos.ResourcePolicy) { p.GrowAfter, p.SystemReserved = 0, 1 },
			usage:   usage(2, 0.2),
			want:    qos.Lend{Amount: 3.5},
			wantRaw: 3.5,
		},
		{
			name:    "offline usage is not subtracted",
			policy:  func(p *qos.ResourcePolicy) { p.GrowAfter = 0 },
			usage:   qos.Usage{Capacity: 10, Online: 2, System: 0.5, Offline: 3},
			want:    qos.Lend{Amount: 4},
			wantRaw: 4,
		},
		{
			name:    "zero capacity lends nothing",
			usage:   qos.Usage{},
			prev:    qos.Lend{Amount: 4},
			want:    qos.Lend{},
			wantWhy: "capacity 0.00 not positive",
		},
		{
			name:    "negative capacity lends nothing",
			usage:   qos.Usage{Capacity: -4},
			prev:    qos.Lend{Amount: 4},
			want:    qos.Lend{},
			wantWhy: "not positive",
		},
		{
			name:    "NaN online lends nothing at once",
			usage:   usage(nan(), 0.5),
			prev:    qos.Lend{Amount: 4, RiseSince: t0, RiseFloor: 5},
			want:    qos.Lend{},
			wantWhy: "online usage not finite: lend nothing",
		},
		{
			name:    "infinite system lends nothing",
			usage:   usage(1, math.Inf(1)),
			prev:    qos.Lend{Amount: 4},
			want:    qos.Lend{},
			wantWhy: "system usage not finite",
		},
		{
			name:    "NaN prediction lends nothing",
			usage:   qos.Usage{Capacity: 10, PredictedOnline: nan()},
			prev:    qos.Lend{Amount: 4},
			want:    qos.Lend{},
			wantWhy: "predicted online usage not finite",
		},
		{
			name:    "NaN watermark lends nothing",
			policy:  func(p *qos.ResourcePolicy) { p.ReclaimWatermarkPercent = nan() },
			usage:   usage(1, 1),
			prev:    qos.Lend{Amount: 4},
			want:    qos.Lend{},
			wantWhy: "policy value not finite",
		},
		{
			name:    "negative system is clamped to zero",
			usage:   usage(2, -0.01),
			prev:    qos.Lend{Amount: 4.5},
			want:    qos.Lend{Amount: 4.5},
			wantRaw: 4.5,
			wantWhy: "system -0.01 clamped to 0",
		},
		{
			name:    "watermark above 100 is clamped",
			policy:  func(p *qos.ResourcePolicy) { p.ReclaimWatermarkPercent, p.GrowAfter = 150, 0 },
			usage:   usage(2, 0),
			want:    qos.Lend{Amount: 8},
			wantRaw: 8,
		},
		{
			name:    "overflowing raw lends nothing",
			usage:   qos.Usage{Capacity: math.MaxFloat64},
			prev:    qos.Lend{Amount: 4},
			want:    qos.Lend{},
			wantWhy: "overflows",
		},
		{
			name:    "a clock that went back restarts the wait",
			usage:   usage(2, 0.5),
			prev:    qos.Lend{RiseSince: t0.Add(5 * time.Second), RiseFloor: 3},
			want:    qos.Lend{RiseSince: t0, RiseFloor: 4},
			wantRaw: 4,
		},
		{
			name:    "NaN previous amount restarts from zero",
			usage:   usage(2, 0.5),
			prev:    qos.Lend{Amount: nan()},
			want:    qos.Lend{RiseSince: t0, RiseFloor: 4},
			wantRaw: 4,
			wantWhy: "previous lent amount invalid",
		},
		{
			name:    "memory bytes",
			policy:  func(p *qos.ResourcePolicy) { p.ReclaimWatermarkPercent, p.DeadbandPercent = 70, 1 },
			usage:   qos.Usage{Capacity: 64 << 30, Online: 16 << 30, System: 4 << 30},
			prev:    qos.Lend{Amount: 30 << 30},
			want:    qos.Lend{Amount: 64<<30*0.7 - 20<<30},
			wantRaw: 64<<30*0.7 - 20<<30,
			wantWhy: "fell at once from 30.00Gi",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := cpuPolicy()
			if tc.policy != nil {
				tc.policy(&p)
			}
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			got, b := qos.Reclaim(p, tc.usage, tc.prev, now)
			if !lendEqual(got, tc.want) {
				t.Errorf("Lend = %+v, want %+v", got, tc.want)
			}
			if !near(b.Raw, tc.wantRaw) {
				t.Errorf("Raw = %v, want %v", b.Raw, tc.wantRaw)
			}
			if b.Lent != got.Amount {
				t.Errorf("Breakdown.Lent = %v, want the lent amount %v", b.Lent, got.Amount)
			}
			if !near(b.Capacity, tc.usage.Capacity) || !near(b.WatermarkPct, p.ReclaimWatermarkPercent) ||
				!near(b.Online, tc.usage.Online) || !near(b.System, tc.usage.System) ||
				!near(b.PredictedOnline, tc.usage.PredictedOnline) || !near(b.SystemReserved, p.SystemReserved) {
				t.Errorf("Breakdown terms %+v do not echo the input", b)
			}
			if tc.wantWhy != "" && !hasReason(b.Reasons, tc.wantWhy) {
				t.Errorf("Reasons = %q, want one containing %q", b.Reasons, tc.wantWhy)
			}
			if tc.noReason && len(b.Reasons) != 0 {
				t.Errorf("Reasons = %q, want none", b.Reasons)
			}
		})
	}
}

// TestReclaimSequence plays named steps through the hysteresis.
func TestReclaimSequence(t *testing.T) {
	t.Parallel()
	type step struct {
		at     time.Duration // since t0
		online float64
		want   float64 // lent after the step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "restarted agent lends after GrowAfter, at the least raw",
			steps: []step{
				{0, 2.5, 0}, {5 * time.Second, 2, 0}, {9 * time.Second, 2.5, 0},
				{10 * time.Second, 1, 3.5}, {11 * time.Second, 1, 3.5},
			},
		},
		{
			name: "a break in the rise restarts the wait",
			steps: []step{
				{0, 2.5, 0}, {5 * time.Second, 6.4, 0}, // raw 0.1: within deadband of 0
				{6 * time.Second, 2.5, 0}, {15 * time.Second, 2.5, 0}, {16 * time.Second, 2.5, 3.5},
			},
		},
		{
			name: "spike falls at once, recovery waits",
			steps: []step{
				{0, 2, 0}, {10 * time.Second, 2, 4}, {11 * time.Second, 5, 1},
				{12 * time.Second, 2, 1}, {21 * time.Second, 2, 1}, {22 * time.Second, 2, 4},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := cpuPolicy()
			var st qos.Lend
			for i, s := range tc.steps {
				st, _ = qos.Reclaim(p, qos.Usage{Capacity: 10, Online: s.online, System: 0.5}, st, t0.Add(s.at))
				if math.Abs(st.Amount-s.want) > 1e-9 {
					t.Fatalf("step %d at %s: lent %v, want %v", i, s.at, st.Amount, s.want)
				}
			}
		})
	}
}

// TestReclaimNoFlap: noise around a level must not move what is lent.
func TestReclaimNoFlap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		noise      float64 // online = 2 ± noise
		maxChanges int
	}{
		{name: "noise within the deadband", noise: 0.09, maxChanges: 1},
		{name: "noise beyond the deadband", noise: 0.5, maxChanges: 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const ticks = 3600
			p := cpuPolicy()
			rng := rand.New(rand.NewPCG(1, 2))
			var st qos.Lend
			changes, rawChanges := 0, 0
			prevRaw := -1.0
			for i := range ticks {
				online := 2 + (rng.Float64()*2-1)*tc.noise
				before := st.Amount
				var b qos.Breakdown
				st, b = qos.Reclaim(p, qos.Usage{Capacity: 10, Online: online, System: 0.5}, st, t0.Add(time.Duration(i)*time.Second))
				if st.Amount != before {
					changes++
				}
				if b.Raw != prevRaw {
					rawChanges++
				}
				prevRaw = b.Raw
				if st.Amount > b.Raw+b.Deadband+1e-9 {
					t.Fatalf("tick %d: lent %v above raw %v + deadband %v", i, st.Amount, b.Raw, b.Deadband)
				}
			}
			if changes > tc.maxChanges {
				t.Errorf("lent changed %d times in %d ticks (raw changed %d times), want at most %d",
					changes, ticks, rawChanges, tc.maxChanges)
			}
			if changes == 0 {
				t.Errorf("lent never changed: nothing was lent")
			}
		})
	}
}

// FuzzReclaim: whatever the numbers, the lent amount is finite, never
// negative and never above raw + deadband.
func FuzzReclaim(f *testing.F) {
	f.Add(10.0, 2.0, 0.5, 0.0, 65.0, 2.0, 0.0, int64(0), int64(10))
	f.Add(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, int64(0), int64(0))
	f.Add(8.0, math.NaN(), 0.5, 1.0, 65.0, 2.0, 3.0, int64(-5), int64(10))
	f.Add(64.0*(1<<30), 1e10, -1.0, math.Inf(1), 150.0, -3.0, 1e12, int64(1e9), int64(-1))
	f.Add(math.MaxFloat64, 0.0, 0.0, 0.0, 65.0, 2.0, 0.0, int64(0), int64(0))
	f.Fuzz(func(t *testing.T, capacity, online, system, predicted, watermark, deadband, prevAmount float64, riseAgoSec, growAfterSec int64) {
		p := qos.ResourcePolicy{
			ReclaimWatermarkPercent: watermark,
			DeadbandPercent:         deadband,
			GrowAfter:               time.Duration(growAfterSec) * time.Second,
		}
		prev := qos.Lend{Amount: prevAmount}
		if riseAgoSec != 0 {
			prev.RiseSince, prev.RiseFloor = t0.Add(-time.Duration(riseAgoSec)*time.Second), prevAmount+1
		}
		u := qos.Usage{Capacity: capacity, Online: online, System: system, PredictedOnline: predicted}
		got, b := qos.Reclaim(p, u, prev, t0)
		if math.IsNaN(got.Amount) || math.IsInf(got.Amount, 0) || got.Amount < 0 {
			t.Fatalf("lent %v not a finite non-negative amount", got.Amount)
		}
		if got.Amount > b.Raw+b.Deadband+1e-9*max(1, b.Raw) && !(math.IsInf(b.Deadband, 0)) {
			t.Fatalf("lent %v above raw %v + deadband %v", got.Amount, b.Raw, b.Deadband)
		}
		if b.Lent != got.Amount {
			t.Fatalf("breakdown lent %v, state %v", b.Lent, got.Amount)
		}
	})
}
