// Package agent runs bigbox's control loops on one node: a fast CPU loop
// that keeps the big box's CFS quota and cpuset in step with online load, and
// a slower loop that scans pods, sets the memory limit and oom_score_adj and
// evicts offline pods past the eviction watermarks. Both follow
// observe → decide (pkg/qos) → apply → report and share one qos.State.
//
// When the loops stop (SIGTERM) or the switch turns off, the agent restores
// every value it changed in the big box cgroup.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/internal/api"
	"github.com/bigbox-dev/bigbox/internal/config"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// Config is the node SLO in force, as the agent consumes it.
type Config struct {
	Policy   qos.Policy
	Location *time.Location
	// Version identifies the config in force; Err is the last rejected
	// version's error ("" when the last load succeeded).
	Version string
	Err     string
	// CPUPredictor and MemoryPredictor choose the online peak forecasts.
	CPUPredictor, MemoryPredictor config.PredictorSpec
}

// forecaster forecasts one resource's online peak over the lending horizon
// (internal/forecast.Forecaster).
type forecaster interface {
	Configure(spec config.PredictorSpec, capacity float64) (dropped bool, err error)
	Observe(t time.Time, online float64) (dropped bool)
	Predict(now time.Time) float64
}

// configSource yields the config in force and signals changes.
type configSource interface {
	Config() Config
	Changes() <-chan struct{}
}

// cpuSampler measures CPU usage over the interval since its previous call;
// ok is false when there is no previous call to take a delta from.
type cpuSampler interface {
	SampleCPU() (u qos.Usage, ok bool, err error)
}

// Observation is what the slow loop's full scan yields.
type Observation struct {
	Time     time.Time
	CPU      qos.Usage
	Memory   qos.Usage
	Topology qos.Topology
	CPUBusy  []float64
	// Offline lists the pods in the big box (nil from SampleNode).
	Offline []OfflinePod
	// Online throttling since the previous pod scan, summed over online
	// pods.
	OnlinePeriods, OnlineThrottled uint64
	OnlineThrottledSeconds         float64
	// CPUPressure and MemoryPressure: "some" avg10 (0–100) of online work,
	// -1 when unknown.
	CPUPressure, MemoryPressure float64
}

// OfflinePod is one pod in the big box.
type OfflinePod struct {
	Pod   qos.Pod
	Group string
}

// fullSampler scans the node: memory, topology, pressure, and with Sample
// also every pod.
type fullSampler interface {
	Sample() (Observation, error)
	SampleNode() (Observation, error)
}

// cpuApplier writes the CPU part of the big box target; changed is true
// when a file was written.
type cpuApplier interface {
	ApplyCPU(b qos.BigBox) (changed bool, err error)
}

// memoryApplier writes the memory part and the oom_score_adj of the big box.
type memoryApplier interface {
	ApplyMemory(b qos.BigBox) (changed bool, err error)
	SetOOMScoreAdj(score int) error
}

// restorer puts back what the agent changed.
type restorer interface {
	Restore(ctx context.Context) error
}

// Evictor removes one offline pod (standalone: kills its processes;
// Kubernetes: the Eviction API).
type Evictor interface {
	Evict(ctx context.Context, pod OfflinePod, reason, detail string) error
}

// Options tune the loops.
type Options struct {
	Node string
	// CPUInterval is the fast loop's period (default 50ms); MemoryInterval
	// the node scan's (default 1s); PodScanInterval the pod scan's (default
	// 30s, and at once whenever victims may be needed).
	CPUInterval, MemoryInterval, PodScanInterval time.Duration
	// RestoreTimeout bounds the restore on stop (default 1s).
	RestoreTimeout time.Duration
	// Static facts shown in the status.
	CgroupVersion int
	CgroupDriver  string
	BigBoxGroup   string
}

// lender advertises what is lent (device plugins) and says what running
// offline pods hold; nil when no device plugin runs.
type lender interface {
	Held() (cores, bytes float64)
	Advertise(cores, bytes float64)
}

// stateSaver persists the policy state (the eviction cooldown must survive
// a restart).
type stateSaver interface {
	Save(st qos.State) error
}

// Parts are the agent's collaborators; app wires the real ones.
type Parts struct {
	Config configSource
	CPU    cpuSampler
	Full   fullSampler
	Exec   interface {
		cpuApplier
		memoryApplier
		restorer
	}
	Evictor Evictor
	// CPUForecast and MemoryForecast are optional; nil predicts nothing.
	CPUForecast, MemoryForecast forecaster
	// Lender is optional; nil when no device plugin runs.
	Lender lender
	// State is optional; nil keeps the state in memory only.
	State  stateSaver
	Clock  clock.WithTicker
	Logger *slog.Logger
}

// Agent is the node agent's control loops.
type Agent struct {
	opts Options
	p    Parts
	m    *metrics

	mu sync.Mutex
	// st is the policy state shared by both loops: the CPU loop owns CPU,
	// LentCPU and CPUs; the memory loop owns the rest.
	st       qos.State
	lastObs  Observation
	haveObs  bool
	lastCPU  qos.Usage
	cpuDec   qos.Decision
	memDec   qos.Decision
	restored bool
	// evicting holds the groups of pods being evicted, so a pod is not
	// evicted twice while its processes die.
	evicting  map[string]bool
	evictions []api.Eviction
	prevSum   Observation
	// savedCooldown is the cooldown last written to the state file.
	savedCooldown time.Time
	// lastPodScan is when the pods were last read.
	lastPodScan time.Time
	// heldCPU and heldMemory: what running offline pods hold (cores,
	// bytes), from the lender.
	heldCPU, heldMemory float64
	// cpuErr and memErr are the last apply errors, so a failure that
	// repeats every tick is logged once (the metric counts every one).
	cpuErr, memErr string

	status atomic.Pointer[api.Status]
}

// New builds an agent and registers its metrics on reg.
func New(opts Options, p Parts, reg prometheus.Registerer) (*Agent, error) {
	if opts.CPUInterval <= 0 {
		opts.CPUInterval = 50 * time.Millisecond
	}
	if opts.MemoryInterval <= 0 {
		opts.MemoryInterval = time.Second
	}
	if opts.PodScanInterval <= 0 {
		opts.PodScanInterval = 30 * time.Second
	}
	if opts.RestoreTimeout <= 0 {
		opts.RestoreTimeout = time.Second
	}
	a := &Agent{opts: opts, p: p, evicting: map[string]bool{}}
	m, err := newMetrics(reg, a.Status)
	if err != nil {
		return nil, fmt.Errorf("register agent metrics: %w", err)
	}
	a.m = m
	return a, nil
}

// RestoreCooldown seeds the eviction cooldown persisted before a restart.
// Call before Run. Only the cooldown is taken: lent amounts start from
// zero and rise by the hysteresis, so a restarted agent lends cautiously.
func (a *Agent) RestoreCooldown(until time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st.CooldownUntil, a.savedCooldown = until, until
}

// State returns a copy of the policy state (for persisting it).
func (a *Agent) State() qos.State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st
}

// Status returns the latest status snapshot; ok is false before the first
// full scan.
func (a *Agent) Status() (api.Status, bool) {
	p := a.status.Load()
	if p == nil {
		return api.Status{}, false
	}
	return *p, true
}

// Run runs both loops until ctx is done, then restores the big box within
// RestoreTimeout. The restore error, if any, is returned.
func (a *Agent) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.loop(gctx, a.opts.MemoryInterval, a.p.Config.Changes(), a.memoryTick) })
	g.Go(func() error { return a.loop(gctx, a.opts.CPUInterval, nil, a.cpuTick) })
	err := g.Wait()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.RestoreTimeout)
	defer cancel()
	if rerr := a.restore(rctx); rerr != nil {
		err = errors.Join(err, fmt.Errorf("restore big box on stop: %w", rerr))
	}
	return err
}

// loop runs tick at once, then every interval and on every signal of
// extra (config changes, so the switch acts at once) until ctx is done.
func (a *Agent) loop(ctx context.Context, interval time.Duration, extra <-chan struct{}, tick func(context.Context)) error {
	t := a.p.Clock.NewTicker(interval)
	defer t.Stop()
	tick(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		case <-extra:
		}
		tick(ctx)
	}
}

// input assembles the policy input from the latest observations, with the
// offline pods (not being evicted) when withPods. Caller holds a.mu.
func (a *Agent) input(now time.Time, cfg Config, withPods bool) qos.Input {
	loc := cfg.Location
	if loc == nil {
		loc = time.Local
	}
	in := qos.Input{
		Now:        now.In(loc),
		CPU:        a.lastCPU,
		Memory:     a.lastObs.Memory,
		Topology:   a.lastObs.Topology,
		CPUBusy:    a.lastObs.CPUBusy,
		HeldCPU:    a.heldCPU,
		HeldMemory: a.heldMemory,
	}
	if !withPods {
		return in
	}
	for _, p := range a.lastObs.Offline {
		if !a.evicting[p.Group] {
			in.Pods = append(in.Pods, p.Pod)
		}
	}
	return in
}

// cpuTick is the fast loop: three counters, one decision, at most three
// writes.
func (a *Agent) cpuTick(ctx context.Context) {
	start := a.p.Clock.Now()
	u, ok, err := a.p.CPU.SampleCPU()
	if err != nil {
		a.m.tickErrors.WithLabelValues("cpu").Inc()
		a.p.Logger.Debug("sample cpu", "err", err)
		return
	}
	if !ok {
		return
	}
	if a.p.CPUForecast != nil {
		u.PredictedOnline = a.p.CPUForecast.Predict(start)
	}
	cfg := a.p.Config.Config()

	a.mu.Lock()
	a.lastCPU = u
	if !a.haveObs {
		a.mu.Unlock()
		return // no topology or memory yet: the memory loop goes first
	}
	// Victims are the memory loop's: listing and ranking 1000 pods 20 times
	// a second would cost more than the rest of the tick.
	in := a.input(start, cfg, false)
	dec, st := qos.Decide(cfg.Policy, in, a.st)
	a.st.CPU, a.st.LentCPU, a.st.CPUs = st.CPU, st.LentCPU, st.CPUs
	prevQuota := a.cpuDec.BigBox.CPUQuotaMicros
	a.cpuDec = dec
	restoreNow := dec.Restore && !a.restored
	if restoreNow {
		a.restored = true // claimed here so the other loop does not restore too
	}
	a.mu.Unlock()

	if dec.Restore {
		if restoreNow {
			a.restoreLogged(ctx, "colocation disabled")
		}
		return
	}
	a.markApplied()
	changed, err := a.p.Exec.ApplyCPU(dec.BigBox)
	a.logChange(&a.cpuErr, "apply cpu limits", err)
	if err != nil {
		a.m.tickErrors.WithLabelValues("cpu").Inc()
		return
	}
	if changed && dec.BigBox.CPUQuotaMicros >= 0 && (prevQuota < 0 || dec.BigBox.CPUQuotaMicros < prevQuota) {
		// The rise happened somewhere in the interval that ended at start;
		// count from the interval's beginning, the worst case.
		a.m.reaction.Observe(a.p.Clock.Since(start).Seconds() + a.opts.CPUInterval.Seconds())
	}
}

// memoryTick is the slow loop: full scan, memory limit, oom_score_adj,
// eviction, status.
func (a *Agent) memoryTick(ctx context.Context) {
	obs, err := a.p.Full.SampleNode()
	if err != nil {
		a.m.tickErrors.WithLabelValues("memory").Inc()
		a.p.Logger.Warn("sample node", "err", err)
		return
	}
	cfg := a.p.Config.Config()
	now := a.p.Clock.Now()
	a.forecast(a.p.CPUForecast, "cpu", cfg.CPUPredictor, &obs.CPU, obs.Time, now)
	a.forecast(a.p.MemoryForecast, "memory", cfg.MemoryPredictor, &obs.Memory, obs.Time, now)
	scanned := a.needPods(obs, cfg, now)
	if scanned {
		full, err := a.p.Full.Sample()
		if err != nil {
			a.m.tickErrors.WithLabelValues("memory").Inc()
			a.p.Logger.Warn("scan pods", "err", err)
			return
		}
		// The node numbers stay those of the first read: the second comes
		// too soon after it for a CPU delta.
		obs.Offline = full.Offline
		obs.OnlinePeriods, obs.OnlineThrottled, obs.OnlineThrottledSeconds =
			full.OnlinePeriods, full.OnlineThrottled, full.OnlineThrottledSeconds
		a.mu.Lock()
		a.lastPodScan = now
		a.mu.Unlock()
	} else {
		a.mu.Lock()
		obs.Offline = a.lastObs.Offline
		a.mu.Unlock()
	}

	var heldCPU, heldMem float64
	if a.p.Lender != nil {
		heldCPU, heldMem = a.p.Lender.Held()
	}
	a.mu.Lock()
	a.heldCPU, a.heldMemory = heldCPU, heldMem
	a.account(obs)
	a.lastObs, a.haveObs = obs, true
	if a.lastCPU == (qos.Usage{}) {
		a.lastCPU = obs.CPU
	}
	// Forget evictions whose pods are gone.
	present := map[string]bool{}
	for _, p := range obs.Offline {
		present[p.Group] = true
	}
	for g := range a.evicting {
		if !present[g] {
			delete(a.evicting, g)
		}
	}
	in := a.input(now, cfg, true)
	in.CPU = obs.CPU // eviction judges CPU over the scan interval, not 50ms noise
	dec, st := qos.Decide(cfg.Policy, in, a.st)
	a.st.Memory, a.st.LentMemory, a.st.CooldownUntil, a.st.CPUOverSince = st.Memory, st.LentMemory, st.CooldownUntil, st.CPUOverSince
	a.memDec = dec
	advCPU := a.cpuDec.AdvertiseCPU
	if a.cpuDec.BigBox.CPUPeriodMicros == 0 {
		advCPU = dec.AdvertiseCPU // the CPU loop has not decided yet
	}
	restoreNow := dec.Restore && !a.restored
	if restoreNow {
		a.restored = true // claimed here so the other loop does not restore too
	}
	save := a.p.State != nil && !a.st.CooldownUntil.Equal(a.savedCooldown)
	saved := a.st
	a.mu.Unlock()

	if a.p.Lender != nil {
		// The CPU loop's decision carries the CPU lent; the kubelet takes
		// a new device list every second or two anyway.
		a.p.Lender.Advertise(advCPU, dec.AdvertiseMemory)
	}
	if save {
		if err := a.p.State.Save(saved); err != nil {
			a.p.Logger.Warn("save state", "err", err)
		} else {
			a.mu.Lock()
			a.savedCooldown = saved.CooldownUntil
			a.mu.Unlock()
		}
	}
	if restoreNow {
		a.restoreLogged(ctx, "colocation disabled")
	}
	if !dec.Restore {
		a.markApplied()
		_, err := a.p.Exec.ApplyMemory(dec.BigBox)
		if err != nil {
			a.m.tickErrors.WithLabelValues("memory").Inc()
		}
		a.logChange(&a.memErr, "apply memory limit", err)
	}
	if scanned {
		// The kubelet already gives BestEffort containers 1000; this
		// catches processes started some other way, on the pod cadence
		// since it walks every process of the big box.
		if err := a.p.Exec.SetOOMScoreAdj(dec.BigBox.OOMScoreAdj); err != nil {
			a.p.Logger.Warn("set oom_score_adj", "err", err)
		}
	}
	a.evict(ctx, dec.Victims, obs, cfg)
	a.publish(obs, cfg)
}

// forecast feeds one resource's online usage of this scan to its predictor
// (once a second: the CPU loop's 50ms samples would only add noise) and
// sets the predicted peak on u.
func (a *Agent) forecast(f forecaster, resource string, spec config.PredictorSpec, u *qos.Usage, at, now time.Time) {
	if f == nil || u.Capacity <= 0 {
		return
	}
	if dropped, err := f.Configure(spec, u.Capacity); err != nil {
		a.p.Logger.Warn("configure predictor", "resource", resource, "err", err)
	} else if dropped {
		a.p.Logger.Info("predictor changed, learnt state dropped", "resource", resource, "predictor", spec.Name, "horizon", spec.Horizon)
	}
	if f.Observe(at, u.Online) {
		a.p.Logger.Warn("clock stepped back, predictor state dropped", "resource", resource)
	}
	u.PredictedOnline = f.Predict(now) // after Observe, so never below this sample
}

// needPods tells whether this tick must read every pod: on the pod scan's
// cadence, and at once whenever victims may be chosen (a watermark passed,
// colocation off or outside its windows).
func (a *Agent) needPods(obs Observation, cfg Config, now time.Time) bool {
	a.mu.Lock()
	last := a.lastPodScan
	a.mu.Unlock()
	p := cfg.Policy
	loc := cfg.Location
	if loc == nil {
		loc = time.Local
	}
	return last.IsZero() || now.Sub(last) >= a.opts.PodScanInterval ||
		!p.Enabled || qos.Phase(p.Windows, now.In(loc)) == qos.WindowClosed ||
		over(obs.Memory, p.Memory) || over(obs.CPU, p.CPU)
}

func over(u qos.Usage, p qos.ResourcePolicy) bool {
	return u.Capacity > 0 && u.Node() > u.Capacity*p.EvictWatermarkPercent/100
}

// account adds the benefit and interference counters of one scan. Caller
// holds a.mu.
func (a *Agent) account(obs Observation) {
	prev := a.prevSum
	a.prevSum = obs
	a.m.onlinePeriods.Add(float64(obs.OnlinePeriods))
	a.m.throttled.Add(float64(obs.OnlineThrottled))
	a.m.throttledTime.Add(max(obs.OnlineThrottledSeconds, 0))
	if prev.Time.IsZero() {
		return
	}
	if dt := obs.Time.Sub(prev.Time).Seconds(); dt > 0 {
		a.m.offlineCPU.Add(obs.CPU.Offline * dt)
		a.m.offlineMemory.Add(obs.Memory.Offline * dt)
	}
}

// evict acts on the victims of one decision.
func (a *Agent) evict(ctx context.Context, victims []qos.Victim, obs Observation, cfg Config) {
	if len(victims) == 0 {
		return
	}
	groups := map[string]OfflinePod{}
	for _, p := range obs.Offline {
		groups[p.Pod.ID] = p
	}
	for _, v := range victims {
		p, ok := groups[v.Pod.ID]
		if !ok {
			continue
		}
		detail := evictDetail(v.Reason, obs, cfg.Policy)
		a.mu.Lock()
		already := a.evicting[p.Group]
		a.evicting[p.Group] = true
		a.mu.Unlock()
		if already {
			continue
		}
		a.p.Logger.Info("evict offline pod", "pod", p.Pod.ID, "group", p.Group, "reason", v.Reason, "detail", detail)
		if err := a.p.Evictor.Evict(ctx, p, v.Reason, detail); err != nil {
			a.p.Logger.Warn("evict offline pod", "pod", p.Pod.ID, "err", err)
			a.mu.Lock()
			delete(a.evicting, p.Group)
			a.mu.Unlock()
			continue
		}
		a.m.evictions.WithLabelValues(v.Reason).Inc()
		a.mu.Lock()
		a.evictions = append(a.evictions, api.Eviction{Time: obs.Time, Pod: podName(p), Reason: v.Reason, Detail: detail})
		if len(a.evictions) > 20 {
			a.evictions = slices.Delete(a.evictions, 0, len(a.evictions)-20)
		}
		a.mu.Unlock()
	}
}

func evictDetail(reason string, obs Observation, p qos.Policy) string {
	switch reason {
	case qos.ReasonMemory:
		return fmt.Sprintf("node memory %.1f%% above the evict watermark %.0f%%",
			pct(obs.Memory.Node(), obs.Memory.Capacity), p.Memory.EvictWatermarkPercent)
	case qos.ReasonCPU:
		return fmt.Sprintf("node cpu %.1f%% above the evict watermark %.0f%% for %s",
			pct(obs.CPU.Node(), obs.CPU.Capacity), p.CPU.EvictWatermarkPercent, p.CPUEvictAfter)
	case qos.ReasonDisabled:
		return "colocation disabled"
	case qos.ReasonWindow:
		return "outside the colocation time windows"
	}
	return ""
}

func pct(v, capacity float64) float64 {
	if capacity <= 0 {
		return 0
	}
	return 100 * v / capacity
}

func podName(p OfflinePod) string {
	if p.Pod.Name != "" {
		return p.Pod.Namespace + "/" + p.Pod.Name
	}
	return p.Group
}

// markApplied notes that the big box carries bigbox's values again, so the
// next disable restores it.
func (a *Agent) markApplied() {
	a.mu.Lock()
	a.restored = false
	a.mu.Unlock()
}

func (a *Agent) restoreLogged(ctx context.Context, why string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.RestoreTimeout)
	defer cancel()
	if err := a.restore(rctx); err != nil {
		a.p.Logger.Warn("restore big box", "why", why, "err", err)
		return
	}
	a.p.Logger.Info("restored big box", "why", why)
}

// restore puts the big box back and records it.
func (a *Agent) restore(ctx context.Context) error {
	start := a.p.Clock.Now()
	err := a.p.Exec.Restore(ctx)
	a.m.restoreSeconds.Observe(a.p.Clock.Since(start).Seconds())
	a.mu.Lock()
	a.restored = err == nil // a failed restore is tried again next tick
	a.mu.Unlock()
	return err
}

// publish builds the status snapshot served by /v1/status and /metrics.
func (a *Agent) publish(obs Observation, cfg Config) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cpuDec, memDec := a.cpuDec, a.memDec
	if cpuDec.BigBox.CPUPeriodMicros == 0 {
		cpuDec = memDec // the CPU loop has not decided yet
	}
	st := api.Status{
		Node:          a.opts.Node,
		Time:          obs.Time,
		Enabled:       cfg.Policy.Enabled && memDec.Phase != qos.WindowClosed,
		Phase:         memDec.Phase.String(),
		Cooldown:      memDec.Cooldown,
		CooldownUntil: a.st.CooldownUntil,
		ConfigVersion: cfg.Version,
		ConfigError:   cfg.Err,
		CgroupVersion: a.opts.CgroupVersion,
		CgroupDriver:  a.opts.CgroupDriver,
		BigBoxCgroup:  a.opts.BigBoxGroup,
		BigBox:        cpuDec.BigBox,
		CPU: api.Resource{
			Breakdown:  cpuDec.CPU,
			Offline:    a.lastCPU.Offline,
			Limit:      quotaCores(cpuDec),
			Advertised: cpuDec.AdvertiseCPU,
			Held:       a.heldCPU,
			Pressure:   obs.CPUPressure,
		},
		Memory: api.Resource{
			Breakdown:  memDec.Memory,
			Offline:    obs.Memory.Offline,
			Limit:      float64(memDec.BigBox.MemoryLimitBytes),
			Advertised: memDec.AdvertiseMemory,
			Held:       a.heldMemory,
			Pressure:   obs.MemoryPressure,
		},
		Evictions: slices.Clone(a.evictions),
	}
	st.BigBox.MemoryLimitBytes = memDec.BigBox.MemoryLimitBytes
	if memDec.Restore {
		st.BigBox = qos.RestoredBigBox(cfg.Policy.CFSPeriod)
		st.CPU.Limit, st.Memory.Limit = -1, -1
	}
	for _, p := range obs.Offline {
		st.OfflinePods = append(st.OfflinePods, api.Pod{
			ID: p.Pod.ID, Namespace: p.Pod.Namespace, Name: p.Pod.Name, Cgroup: p.Group,
			CPU: p.Pod.CPU, MemoryBytes: p.Pod.MemoryBytes,
		})
	}
	a.status.Store(&st)
}

func quotaCores(d qos.Decision) float64 {
	b := d.BigBox
	if d.Restore || b.CPUQuotaMicros < 0 || b.CPUPeriodMicros <= 0 {
		return -1
	}
	return float64(b.CPUQuotaMicros) / float64(b.CPUPeriodMicros)
}

// Tick runs one full scan tick and one CPU tick, in that order, outside the
// loops: for benchmarks and for tools that step the agent by hand.
func (a *Agent) Tick(ctx context.Context) {
	a.memoryTick(ctx)
	a.cpuTick(ctx)
}

// logChange logs err at Warn when it differs from the last one in *last,
// and its clearing at Info; repeats go to Debug.
func (a *Agent) logChange(last *string, msg string, err error) {
	a.mu.Lock()
	prev := *last
	cur := ""
	if err != nil {
		cur = err.Error()
	}
	*last = cur
	a.mu.Unlock()
	switch {
	case cur == prev && cur != "":
		a.p.Logger.Debug(msg, "err", err)
	case cur != "":
		a.p.Logger.Warn(msg, "err", err)
	case prev != "":
		a.p.Logger.Info(msg+" works again", "after", prev)
	}
}

// TickCPU runs one CPU tick outside the loops, for benchmarks.
func (a *Agent) TickCPU(ctx context.Context) { a.cpuTick(ctx) }
