package agent

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bigbox-dev/bigbox/internal/config"

	"github.com/bigbox-dev/bigbox/pkg/qos"
)

const gib = 1 << 30

type fakeConfig struct {
	mu  sync.Mutex
	cfg Config
	ch  chan struct{}
}

func (f *fakeConfig) Config() Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg
}
func (f *fakeConfig) Changes() <-chan struct{} { return f.ch }
func (f *fakeConfig) set(p qos.Policy) {
	f.mu.Lock()
	f.cfg.Policy = p
	f.mu.Unlock()
}

type fakeCPU struct {
	mu sync.Mutex
	u  qos.Usage
}

func (f *fakeCPU) SampleCPU() (qos.Usage, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.u, true, nil
}

type fakeFull struct {
	mu       sync.Mutex
	obs      Observation
	podScans int
}

func (f *fakeFull) Sample() (Observation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.podScans++
	return f.obs, nil
}

func (f *fakeFull) SampleNode() (Observation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := f.obs
	o.Offline = nil
	return o, nil
}

type fakeExec struct {
	mu       sync.Mutex
	cpu      []qos.BigBox
	memory   []qos.BigBox
	oom      []int
	restores int
}

func (f *fakeExec) ApplyCPU(b qos.BigBox) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	changed := len(f.cpu) == 0 || f.cpu[len(f.cpu)-1].CPUQuotaMicros != b.CPUQuotaMicros ||
		!slices.Equal(f.cpu[len(f.cpu)-1].CPUs, b.CPUs)
	f.cpu = append(f.cpu, b)
	return changed, nil
}
func (f *fakeExec) ApplyMemory(b qos.BigBox) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.memory = append(f.memory, b)
	return true, nil
}
func (f *fakeExec) SetOOMScoreAdj(score int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.oom = append(f.oom, score)
	return nil
}
func (f *fakeExec) Restore(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restores++
	return nil
}

type eviction struct{ group, reason string }

type fakeEvictor struct {
	mu  sync.Mutex
	got []eviction
}

func (f *fakeEvictor) Evict(_ context.Context, p OfflinePod, reason, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, eviction{p.Group, reason})
	return nil
}

type rig struct {
	a     *Agent
	cfg   *fakeConfig
	cpu   *fakeCPU
	full  *fakeFull
	exec  *fakeExec
	evict *fakeEvictor
	clock *clocktesting.FakeClock
	reg   *prometheus.Registry
}

func testPolicy() qos.Policy {
	p := qos.DefaultPolicy()
	p.CPU.GrowAfter = 0
	p.Memory.GrowAfter = 0
	return p
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{
		cfg:   &fakeConfig{cfg: Config{Policy: testPolicy(), Location: time.UTC, Version: "v1"}, ch: make(chan struct{}, 1)},
		cpu:   &fakeCPU{u: qos.Usage{Capacity: 8, System: 0.5, Online: 1}},
		full:  &fakeFull{},
		exec:  &fakeExec{},
		evict: &fakeEvictor{},
		clock: clocktesting.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)),
		reg:   prometheus.NewPedanticRegistry(),
	}
	r.full.obs = Observation{
		Time:     r.clock.Now(),
		CPU:      r.cpu.u,
		Memory:   qos.Usage{Capacity: 16 * gib, System: 1 * gib, Online: 2 * gib, Offline: 4 * gib},
		Topology: qos.Topology{Cores: [][]int{{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}}},
		Offline: []OfflinePod{
			{Pod: qos.Pod{ID: "a", MemoryBytes: 3 * gib}, Group: "kubepods/besteffort/poda"},
			{Pod: qos.Pod{ID: "b", MemoryBytes: 1 * gib, Priority: 10}, Group: "kubepods/besteffort/podb"},
		},
		CPUPressure: -1, MemoryPressure: -1,
	}
	a, err := New(Options{Node: "n1"}, Parts{
		Config: r.cfg, CPU: r.cpu, Full: r.full, Exec: r.exec, Evictor: r.evict,
		Clock: r.clock, Logger: slog.New(slog.DiscardHandler),
	}, r.reg)
	if err != nil {
		t.Fatal(err)
	}
	r.a = a
	return r
}

func (r *rig) lastCPU(t *testing.T) qos.BigBox {
	t.Helper()
	r.exec.mu.Lock()
	defer r.exec.mu.Unlock()
	if len(r.exec.cpu) == 0 {
		t.Fatal("no cpu limits applied")
	}
	return r.exec.cpu[len(r.exec.cpu)-1]
}

func TestCPUTickShrinksOnOnlineSpike(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := t.Context()
	r.a.cpuTick(ctx) // before the first scan: nothing to decide with
	if len(r.exec.cpu) != 0 {
		t.Fatalf("cpu applied before the first full scan: %v", r.exec.cpu)
	}
	r.a.memoryTick(ctx)
	r.a.cpuTick(ctx)
	// 8 × 65% − 1 − 0.5 = 3.7 cores.
	if got, want := r.lastCPU(t).CPUQuotaMicros, int64(370000); got != want {
		t.Fatalf("quota = %d, want %d", got, want)
	}
	r.clock.Step(50 * time.Millisecond)
	r.cpu.mu.Lock()
	r.cpu.u.Online = 4 // online spike: 8 × 65% − 4 − 0.5 = 0.7
	r.cpu.mu.Unlock()
	r.a.cpuTick(ctx)
	b := r.lastCPU(t)
	if got, want := b.CPUQuotaMicros, int64(70000); got != want {
		t.Fatalf("quota after spike = %d, want %d", got, want)
	}
	if len(b.CPUs) != 1 {
		t.Errorf("cpuset after spike = %v, want one core", b.CPUs)
	}
	if n := testutil.CollectAndCount(r.a.m.reaction); n != 1 {
		t.Fatalf("reaction histogram series = %d", n)
	}
	if got := histogramCount(t, r.reg, "bigbox_cpu_reaction_seconds"); got != 1 {
		t.Errorf("reaction observations = %d, want 1 (the spike, not the first write)", got)
	}
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("metric %s not gathered", name)
	return 0
}

func TestMemoryEvictionStartsCooldown(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := t.Context()
	r.a.memoryTick(ctx)
	if len(r.evict.got) != 0 {
		t.Fatalf("evicted below the watermark: %v", r.evict.got)
	}
	// Online grows to push the node to 15 GiB, above 90% of 16 GiB; freeing
	// down to 80% takes 2.2 GiB: pod a alone (lowest priority, 3 GiB).
	r.full.mu.Lock()
	r.full.obs.Memory.Online = 10 * gib
	r.full.obs.Time = r.full.obs.Time.Add(time.Second)
	r.full.mu.Unlock()
	r.clock.Step(time.Second)
	r.a.memoryTick(ctx)
	want := []eviction{{"kubepods/besteffort/poda", qos.ReasonMemory}}
	if !slices.Equal(r.evict.got, want) {
		t.Fatalf("evictions = %v, want %v (lowest priority first)", r.evict.got, want)
	}
	st, ok := r.a.Status()
	if !ok || !st.Cooldown || len(st.Evictions) != 1 {
		t.Fatalf("status after eviction: ok=%v cooldown=%v evictions=%v", ok, st.Cooldown, st.Evictions)
	}
	if got := testutil.ToFloat64(r.a.m.evictions.WithLabelValues(qos.ReasonMemory)); got != 1 {
		t.Errorf("bigbox_evictions_total{reason=memory} = %v, want 1", got)
	}
	// The same pod is not evicted again while it is still there.
	r.clock.Step(time.Second)
	r.a.memoryTick(ctx)
	if n := len(r.evict.got); n > 2 {
		t.Errorf("evictions after a second tick = %v", r.evict.got)
	}
	for _, e := range r.evict.got[1:] {
		if e.group == "kubepods/besteffort/poda" {
			t.Errorf("pod a evicted twice: %v", r.evict.got)
		}
	}
}

func TestDisableEvictsAllAndRestoresOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := t.Context()
	r.a.memoryTick(ctx)
	r.a.cpuTick(ctx)
	p := testPolicy()
	p.Enabled = false
	r.cfg.set(p)
	r.a.memoryTick(ctx)
	r.a.cpuTick(ctx)
	r.a.cpuTick(ctx)
	if r.exec.restores != 1 {
		t.Errorf("restores = %d, want 1", r.exec.restores)
	}
	if len(r.evict.got) != 2 {
		t.Fatalf("evictions = %v, want both pods", r.evict.got)
	}
	for _, e := range r.evict.got {
		if e.reason != qos.ReasonDisabled {
			t.Errorf("eviction %v: reason want %q", e, qos.ReasonDisabled)
		}
	}
	st, _ := r.a.Status()
	if st.Enabled || st.CPU.Limit != -1 || st.Memory.Limit != -1 {
		t.Errorf("status when disabled: enabled=%v cpu limit=%v memory limit=%v", st.Enabled, st.CPU.Limit, st.Memory.Limit)
	}
	// Enabling again applies limits again, and a later disable restores again.
	r.cfg.set(testPolicy())
	r.a.cpuTick(ctx)
	p.Enabled = false
	r.cfg.set(p)
	r.a.cpuTick(ctx)
	if r.exec.restores != 2 {
		t.Errorf("restores after re-enable and disable = %d, want 2", r.exec.restores)
	}
}

func TestRunRestoresOnStop(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.a.Run(ctx) }()
	// Wait until both loops have run their first tick and wait on tickers.
	for !r.clock.HasWaiters() {
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		default:
		}
	}
	r.clock.Step(50 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if r.exec.restores != 1 {
		t.Errorf("restores on stop = %d, want 1", r.exec.restores)
	}
	if _, ok := r.a.Status(); !ok {
		t.Error("no status after the first scan")
	}
}

func TestMetricsExposition(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.a.memoryTick(t.Context())
	r.a.cpuTick(t.Context())
	problems, err := testutil.GatherAndLint(r.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	for _, name := range []string{
		"bigbox_colocation_enabled", "bigbox_node_capacity", "bigbox_online_usage", "bigbox_reclaimable",
		"bigbox_advertised", "bigbox_besteffort_limit", "bigbox_besteffort_usage", "bigbox_besteffort_cpuset_cpus",
		"bigbox_evictions_total", "bigbox_cooldown_active", "bigbox_offline_cpu_seconds_total",
		"bigbox_online_cpu_throttled_periods_total",
	} {
		if n, err := testutil.GatherAndCount(r.reg, name); err != nil || n == 0 {
			t.Errorf("%s: %d series, err %v", name, n, err)
		}
	}
}

type fakeSaver struct{ saved []qos.State }

func (f *fakeSaver) Save(st qos.State) error {
	f.saved = append(f.saved, st)
	return nil
}

func TestCooldownIsSavedAndRestored(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	saver := &fakeSaver{}
	r.a.p.State = saver
	ctx := t.Context()
	r.a.memoryTick(ctx)
	if len(saver.saved) != 0 {
		t.Fatalf("saved without a cooldown: %+v", saver.saved)
	}
	r.full.mu.Lock()
	r.full.obs.Memory.Online = 10 * gib
	r.full.mu.Unlock()
	r.clock.Step(time.Second)
	r.a.memoryTick(ctx)
	// Pod a is gone: the node is back below the watermark.
	r.full.mu.Lock()
	r.full.obs.Offline = r.full.obs.Offline[1:]
	r.full.obs.Memory.Offline = 1 * gib
	r.full.mu.Unlock()
	r.clock.Step(time.Second)
	r.a.memoryTick(ctx)
	if len(saver.saved) != 1 {
		t.Fatalf("saves = %d, want 1 (once per new cooldown)", len(saver.saved))
	}
	until := saver.saved[0].CooldownUntil
	if want := r.clock.Now().Add(-time.Second).Add(testPolicy().EvictionCooldown); !until.Equal(want) {
		t.Errorf("saved cooldown until %v, want %v", until, want)
	}

	// A restarted agent with the saved cooldown lends nothing new.
	r2 := newRig(t)
	r2.a.RestoreCooldown(until)
	r2.a.memoryTick(ctx)
	st, _ := r2.a.Status()
	if !st.Cooldown {
		t.Errorf("restarted agent: cooldown not in force")
	}
}

func TestPodScanCadence(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := t.Context()
	scans := func() int {
		r.full.mu.Lock()
		defer r.full.mu.Unlock()
		return r.full.podScans
	}
	r.a.memoryTick(ctx)
	if scans() != 1 {
		t.Fatalf("first tick: pod scans = %d, want 1", scans())
	}
	for range 29 {
		r.clock.Step(time.Second)
		r.a.memoryTick(ctx)
	}
	if scans() != 1 {
		t.Fatalf("29 quiet ticks later: pod scans = %d, want 1", scans())
	}
	if st, _ := r.a.Status(); len(st.OfflinePods) != 2 {
		t.Errorf("offline pods between scans = %d, want the 2 of the last scan", len(st.OfflinePods))
	}
	r.clock.Step(time.Second)
	r.a.memoryTick(ctx)
	if scans() != 2 {
		t.Fatalf("after the pod scan interval: pod scans = %d, want 2", scans())
	}
	// Memory above the evict watermark needs the pods at once.
	r.full.mu.Lock()
	r.full.obs.Memory.Online = 10 * gib
	r.full.mu.Unlock()
	r.clock.Step(time.Second)
	r.a.memoryTick(ctx)
	if scans() != 3 {
		t.Fatalf("under memory pressure: pod scans = %d, want 3", scans())
	}
	if len(r.evict.got) != 1 {
		t.Errorf("evictions under pressure = %v, want one", r.evict.got)
	}
}

type fakeLender struct {
	mu               sync.Mutex
	heldCPU, heldMem float64
	advCPU, advMem   []float64
}

func (f *fakeLender) Held() (float64, float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.heldCPU, f.heldMem
}

func (f *fakeLender) Advertise(cpu, mem float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advCPU, f.advMem = append(f.advCPU, cpu), append(f.advMem, mem)
}

func TestAdvertiseNeverBelowHeld(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	l := &fakeLender{heldCPU: 6, heldMem: 2 * gib}
	r.a.p.Lender = l
	ctx := t.Context()
	r.a.memoryTick(ctx)
	r.a.cpuTick(ctx)
	r.clock.Step(time.Second)
	r.a.memoryTick(ctx)
	last := len(l.advCPU) - 1
	// Lent CPU is 3.7 cores, but 6 are held: advertise what is held.
	if l.advCPU[last] != 6 {
		t.Errorf("advertised cpu = %v, want the 6 cores held", l.advCPU[last])
	}
	// Lent memory 16 × 0.7 − 2 − 1 = 8.2 GiB is above what is held.
	if got, want := l.advMem[last], 8.2*gib; got < want-1 || got > want+1 {
		t.Errorf("advertised memory = %v, want %v", got, want)
	}
	st, _ := r.a.Status()
	if st.CPU.Held != 6 || st.Memory.Held != 2*gib {
		t.Errorf("status held = %v cores, %v bytes", st.CPU.Held, st.Memory.Held)
	}

	// In a cooldown nothing new is lent: advertise exactly what is held.
	r.full.mu.Lock()
	r.full.obs.Memory.Online = 10 * gib
	r.full.mu.Unlock()
	r.clock.Step(time.Second)
	r.a.memoryTick(ctx)
	r.a.cpuTick(ctx)
	r.clock.Step(time.Second)
	r.a.memoryTick(ctx)
	last = len(l.advCPU) - 1
	if l.advCPU[last] != 6 || l.advMem[last] != 2*gib {
		t.Errorf("advertised in cooldown = %v cores, %v bytes; want exactly what is held", l.advCPU[last], l.advMem[last])
	}
}

type fakeForecaster struct {
	mu        sync.Mutex
	observed  []float64
	predicted float64
}

func (f *fakeForecaster) Configure(config.PredictorSpec, float64) (bool, error) { return false, nil }
func (f *fakeForecaster) Observe(_ time.Time, online float64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.observed = append(f.observed, online)
	return false
}
func (f *fakeForecaster) Predict(time.Time) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.predicted
}

func TestForecastLowersWhatIsLent(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	fc := &fakeForecaster{predicted: 3}
	r.a.p.CPUForecast = fc
	ctx := t.Context()
	r.a.memoryTick(ctx)
	r.a.cpuTick(ctx)
	r.a.cpuTick(ctx)
	// 8 × 65% − max(online 1, predicted 3) − 0.5 = 1.7 cores.
	if got, want := r.lastCPU(t).CPUQuotaMicros, int64(170000); got != want {
		t.Errorf("quota with a predicted peak of 3 cores = %d, want %d", got, want)
	}
	if len(fc.observed) != 1 || fc.observed[0] != 1 {
		t.Errorf("observed = %v, want the one scan's online usage [1] (the CPU loop does not feed it)", fc.observed)
	}
	st, _ := r.a.Status()
	if st.CPU.PredictedOnline != 3 {
		t.Errorf("status predicted online = %v, want 3", st.CPU.PredictedOnline)
	}
}
