// Package sampler turns cgroup and /proc readings into what the policy
// looks at: qos.Usage per resource (cores for CPU, bytes for memory) and
// per-pod usage.
//
// CPU usage comes from cumulative counters, so it is a rate over the time
// between two calls: SampleCPU (the 50 ms fast path) and Sample (the 1 s
// full scan) each keep their own previous readings. Memory is the working
// set (usage − inactive file), as the kubelet counts it.
//
// The split of node usage (qos.Usage.Node = System + Online + Offline):
//
//	Offline = besteffort (the big box)
//	Online  = kubepods − besteffort                  (floored at 0)
//	System  = node busy (or used) − kubepods         (floored at 0)
//
// Node CPU busy comes from /proc/stat as busy/total × online CPUs; node
// memory used is MemTotal − MemAvailable.
package sampler

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sync"
	"syscall"
	"time"

	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/internal/host"
	"github.com/bigbox-dev/bigbox/pkg/cgroup"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// cpuCounter is the cgroup read of the fast path.
type cpuCounter interface {
	CPUUsageNanos(group string) (uint64, error)
}

// groupLister lists pod cgroups.
type groupLister interface {
	Children(group string) ([]string, error)
}

// groupStats are the per-group reads of the full scan.
type groupStats interface {
	CPUStat(group string) (cgroup.CPUStat, error)
	MemoryStat(group string) (cgroup.MemoryStat, error)
	Pressure(group, resource string) (cgroup.PSI, error)
}

// Cgroups is what the sampler reads from the cgroup hierarchy;
// *cgroup.FS satisfies it.
type Cgroups interface {
	cpuCounter
	groupLister
	groupStats
}

// nodeCPU reads /proc/stat.
type nodeCPU interface {
	CPUTimes() (host.CPUTimes, error)
	PerCPUTimes() ([]host.CPUTimes, error)
}

// nodeMemory reads /proc/meminfo.
type nodeMemory interface {
	MemInfo() (host.MemInfo, error)
}

// nodeFacts reads the topology and the node's pressure.
type nodeFacts interface {
	Topology() (qos.Topology, error)
	Pressure(resource string) (cgroup.PSI, error)
}

// Host is what the sampler reads about the node; *host.Reader satisfies it.
type Host interface {
	nodeCPU
	nodeMemory
	nodeFacts
}

// QOSClass is a pod's Kubernetes QoS class, spelled as
// cgroup.Layout.PodGroup takes it.
type QOSClass string

// QoS classes.
const (
	Guaranteed QOSClass = "guaranteed"
	Burstable  QOSClass = "burstable"
	BestEffort QOSClass = "besteffort"
)

// Online reports whether pods of the class are online work (everything but
// the big box).
func (c QOSClass) Online() bool { return c != BestEffort }

// psiResources are the resources pressure is read for.
var psiResources = [...]string{"cpu", "memory", "io"}

// CPUSample is one reading of the fast path.
type CPUSample struct {
	// Time of the reading (from the sampler's clock).
	Time time.Time
	// Interval is the time since the previous reading the usage spans.
	Interval time.Duration
	// Usage in cores over Interval. Valid only when OK.
	Usage qos.Usage
	// OK is false when there is no usable delta yet: the first call, a
	// counter that went backwards (a group was recreated), or no time
	// passed. The next call then has one.
	OK bool
}

// Throttling is CFS throttling over one interval (increments, not the
// cumulative counters, so a pod that vanishes does not make the sum go
// backwards).
type Throttling struct {
	// Periods is the number of CFS periods with runnable tasks.
	Periods uint64
	// Throttled is how many of them ran out of quota.
	Throttled uint64
	// ThrottledSeconds is the time tasks waited for the next period.
	ThrottledSeconds float64
}

func (t *Throttling) add(o Throttling) {
	t.Periods += o.Periods
	t.Throttled += o.Throttled
	t.ThrottledSeconds += o.ThrottledSeconds
}

// Pressure is the pressure stall information of one scope by resource
// ("cpu", "memory", "io"). A resource the kernel does not report there (v1
// groups, a kernel without PSI) is absent; an empty map means none is.
type Pressure map[string]cgroup.PSI

// PodSample is one pod's usage in one full scan.
type PodSample struct {
	// UID is the pod UID from the cgroup name (with dashes).
	UID string
	// Group is the pod's cgroup, relative to the hierarchy root.
	Group    string
	QOSClass QOSClass
	// CPU in cores over the scan interval; zero and CPUValid false on the
	// first scan that sees the pod (or after its counter went backwards).
	CPU      float64
	CPUValid bool
	// MemoryBytes is the working set.
	MemoryBytes float64
	// Throttling over the scan interval.
	Throttling Throttling
}

// Observation is one full scan: everything the agent's slow loop, the
// status API and the metrics look at.
type Observation struct {
	Time time.Time
	// Interval since the previous full scan; zero on the first.
	Interval time.Duration
	// CPU in cores over Interval; valid only when CPUValid (not on the
	// first scan).
	CPU      qos.Usage
	CPUValid bool
	// Memory in bytes at Time.
	Memory qos.Usage
	// Pods are all pod cgroups under kubepods (guaranteed), burstable and
	// besteffort, in that order, each sorted by cgroup name.
	Pods []PodSample
	// OnlineThrottling sums the throttling of online (guaranteed and
	// burstable) pods over Interval: the interference signal.
	OnlineThrottling Throttling
	// NodePressure is /proc/pressure; KubepodsPressure and
	// BesteffortPressure are the groups' PSI files (v2 only).
	NodePressure, KubepodsPressure, BesteffortPressure Pressure
	// CPUBusy is each CPU's busy fraction (0–1, index = CPU id) over
	// Interval, nil on the first scan. It counts all work on the CPU,
	// offline work included.
	CPUBusy []float64
	// Topology of the node, read once; shared, do not modify.
	Topology qos.Topology
}

// counters are the cumulative readings one CPU usage is computed from.
type counters struct {
	time                 time.Time
	node                 host.CPUTimes
	kubepods, besteffort uint64
	valid                bool
}

// podState is what the full scan keeps of a pod between scans.
type podState struct {
	uid, group string
	cpu        cgroup.CPUStat
	time       time.Time
	gen        uint64
}

// Sampler reads usage from one node. SampleCPU and Sample may run
// concurrently (each keeps its own state), but each must not be called
// concurrently with itself.
type Sampler struct {
	cg     Cgroups
	host   Host
	layout cgroup.Layout
	clk    clock.PassiveClock
	log    *slog.Logger

	topoMu   sync.Mutex
	topo     qos.Topology
	topoCPUs int

	fastMu   sync.Mutex
	fastPrev counters

	// ctrMu guards the usage files of kubepods and besteffort kept open
	// for the fast path (nil until opened, or when cg cannot keep them).
	ctrMu               sync.Mutex
	kubeCtr, besteffCtr *cgroup.UsageCounter

	fullMu  sync.Mutex
	full    counters
	perCPU  []host.CPUTimes
	pods    [3]map[string]*podState // by QoS parent, keyed by cgroup name
	gen     uint64
	prevObs time.Time
}

// New returns a sampler of the pods under layout. Nothing is read until the
// first call.
func New(cg Cgroups, h Host, layout cgroup.Layout, clk clock.PassiveClock, logger *slog.Logger) *Sampler {
	s := &Sampler{
		cg:     cg,
		host:   h,
		layout: layout,
		clk:    clk,
		log:    logger.With("component", "sampler"),
	}
	for i := range s.pods {
		s.pods[i] = map[string]*podState{}
	}
	return s
}

// topology returns the cached topology and its number of CPUs, reading it
// on first use.
func (s *Sampler) topology() (qos.Topology, int, error) {
	s.topoMu.Lock()
	defer s.topoMu.Unlock()
	if s.topoCPUs == 0 {
		t, err := s.host.Topology()
		if err != nil {
			return qos.Topology{}, 0, fmt.Errorf("read topology: %w", err)
		}
		n := 0
		for _, c := range t.Cores {
			n += len(c)
		}
		if n == 0 {
			return qos.Topology{}, 0, errors.New("read topology: no CPUs")
		}
		s.topo, s.topoCPUs = t, n
	}
	return s.topo, s.topoCPUs, nil
}

// usageCounterOpener is what can keep a group's usage file open
// (*cgroup.FS): one pread per read instead of open, read, close.
type usageCounterOpener interface {
	OpenUsageCounter(group string) (*cgroup.UsageCounter, error)
}

// readCounters reads node CPU time and the kubepods and besteffort usage.
func (s *Sampler) readCounters() (counters, error) {
	c := counters{time: s.clk.Now(), valid: true}
	var err error
	if c.node, err = s.host.CPUTimes(); err != nil {
		return counters{}, fmt.Errorf("read node cpu times: %w", err)
	}
	if c.kubepods, err = s.usage(&s.kubeCtr, s.layout.Kubepods); err != nil {
		return counters{}, fmt.Errorf("read cpu usage of %s: %w", s.layout.Kubepods, err)
	}
	if c.besteffort, err = s.usage(&s.besteffCtr, s.layout.Besteffort); err != nil {
		return counters{}, fmt.Errorf("read cpu usage of %s: %w", s.layout.Besteffort, err)
	}
	return c, nil
}

// usage reads group's CPU time through the kept-open file *ctr, opening it
// on first use; without one (cg cannot, or opening failed) it reads the
// file the plain way.
func (s *Sampler) usage(ctr **cgroup.UsageCounter, group string) (uint64, error) {
	s.ctrMu.Lock()
	c := *ctr
	if c == nil {
		if o, ok := s.cg.(usageCounterOpener); ok {
			if opened, err := o.OpenUsageCounter(group); err == nil {
				*ctr, c = opened, opened
			}
		}
	}
	s.ctrMu.Unlock()
	if c == nil {
		return s.cg.CPUUsageNanos(group)
	}
	return c.Read()
}

// Close closes the files the fast path keeps open.
func (s *Sampler) Close() error {
	s.ctrMu.Lock()
	defer s.ctrMu.Unlock()
	var errs []error
	for _, c := range []**cgroup.UsageCounter{&s.kubeCtr, &s.besteffCtr} {
		if *c != nil {
			errs = append(errs, (*c).Close())
			*c = nil
		}
	}
	return errors.Join(errs...)
}

// cpuUsage computes usage in cores between two readings. ok is false when
// there is no usable delta; then restart tells whether cur should replace
// prev (a counter went backwards) or prev be kept (no time passed).
func cpuUsage(prev, cur counters, capacityCores float64) (u qos.Usage, ok, restart bool) {
	if !prev.valid {
		return qos.Usage{}, false, true
	}
	if cur.node.TotalNanos < prev.node.TotalNanos || cur.node.BusyNanos < prev.node.BusyNanos ||
		cur.kubepods < prev.kubepods || cur.besteffort < prev.besteffort {
		return qos.Usage{}, false, true
	}
	elapsed := cur.time.Sub(prev.time)
	totalNanos := cur.node.TotalNanos - prev.node.TotalNanos
	if elapsed <= 0 || totalNanos == 0 {
		return qos.Usage{}, false, false
	}
	nodeBusy := float64(cur.node.BusyNanos-prev.node.BusyNanos) / float64(totalNanos) * capacityCores
	kubepods := float64(cur.kubepods-prev.kubepods) / float64(elapsed)
	offline := float64(cur.besteffort-prev.besteffort) / float64(elapsed)
	return qos.Usage{
		Capacity: capacityCores,
		System:   max(0, nodeBusy-kubepods),
		Online:   max(0, kubepods-offline),
		Offline:  offline,
	}, true, false
}

// SampleCPU is the fast path: three counter reads and a delta to the
// previous call. It does not allocate beyond what the reads do.
func (s *Sampler) SampleCPU() (CPUSample, error) {
	_, nCPUs, err := s.topology()
	if err != nil {
		return CPUSample{}, err
	}
	s.fastMu.Lock()
	defer s.fastMu.Unlock()
	cur, err := s.readCounters()
	if err != nil {
		return CPUSample{}, err
	}
	prev := s.fastPrev
	u, ok, restart := cpuUsage(prev, cur, float64(nCPUs))
	if ok || restart {
		s.fastPrev = cur
	}
	if !ok {
		return CPUSample{Time: cur.time}, nil
	}
	return CPUSample{Time: cur.time, Interval: cur.time.Sub(prev.time), Usage: u, OK: true}, nil
}

// gone reports whether err says a cgroup disappeared: its directory is
// missing, or it was removed while a file of it was open (ENODEV).
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENODEV)
}

// Sample is the full scan. A pod cgroup that disappears during the scan is
// left out; a failed read of kubepods or besteffort is an error.
func (s *Sampler) Sample() (Observation, error) { return s.sample(true) }

// SampleNode is the full scan without the pods: node and QoS-level CPU,
// memory, per-CPU busy and pressure. Reading every pod costs about 35 µs a
// pod, so the agent scans pods on a slower cadence, or at once when it must
// choose victims.
func (s *Sampler) SampleNode() (Observation, error) { return s.sample(false) }

func (s *Sampler) sample(pods bool) (Observation, error) {
	topo, nCPUs, err := s.topology()
	if err != nil {
		return Observation{}, err
	}
	s.fullMu.Lock()
	defer s.fullMu.Unlock()

	cur, err := s.readCounters()
	if err != nil {
		return Observation{}, err
	}
	obs := Observation{Time: cur.time, Topology: topo}
	if !s.prevObs.IsZero() {
		obs.Interval = cur.time.Sub(s.prevObs)
	}
	s.prevObs = cur.time
	u, ok, restart := cpuUsage(s.full, cur, float64(nCPUs))
	if ok || restart {
		s.full = cur
	}
	obs.CPU, obs.CPUValid = u, ok

	if obs.Memory, err = s.memory(); err != nil {
		return Observation{}, err
	}
	if pods {
		if err := s.scanPods(&obs); err != nil {
			return Observation{}, err
		}
	}
	if obs.CPUBusy, err = s.cpuBusy(); err != nil {
		return Observation{}, err
	}
	obs.NodePressure = s.pressure("node", s.host.Pressure)
	obs.KubepodsPressure = s.pressure(s.layout.Kubepods, func(r string) (cgroup.PSI, error) {
		return s.cg.Pressure(s.layout.Kubepods, r)
	})
	obs.BesteffortPressure = s.pressure(s.layout.Besteffort, func(r string) (cgroup.PSI, error) {
		return s.cg.Pressure(s.layout.Besteffort, r)
	})
	return obs, nil
}

// memory splits node memory: Capacity = MemTotal, node used = MemTotal −
// MemAvailable, Online = kubepods WS − besteffort WS, System = used −
// kubepods WS, Offline = besteffort WS (working sets; differences floored
// at 0).
func (s *Sampler) memory() (qos.Usage, error) {
	mi, err := s.host.MemInfo()
	if err != nil {
		return qos.Usage{}, fmt.Errorf("read node memory: %w", err)
	}
	kube, err := s.cg.MemoryStat(s.layout.Kubepods)
	if err != nil {
		return qos.Usage{}, fmt.Errorf("read memory of %s: %w", s.layout.Kubepods, err)
	}
	be, err := s.cg.MemoryStat(s.layout.Besteffort)
	if err != nil {
		return qos.Usage{}, fmt.Errorf("read memory of %s: %w", s.layout.Besteffort, err)
	}
	var used uint64
	if mi.TotalBytes > mi.AvailableBytes {
		used = mi.TotalBytes - mi.AvailableBytes
	}
	return qos.Usage{
		Capacity: float64(mi.TotalBytes),
		System:   subFloor(used, kube.WorkingSetBytes),
		Online:   subFloor(kube.WorkingSetBytes, be.WorkingSetBytes),
		Offline:  float64(be.WorkingSetBytes),
	}, nil
}

func subFloor(a, b uint64) float64 {
	if a <= b {
		return 0
	}
	return float64(a - b)
}

// scanPods reads every pod cgroup, computes per-pod CPU from the previous
// scan's counters, sums online throttling and forgets pods that are gone.
func (s *Sampler) scanPods(obs *Observation) error {
	s.gen++
	obs.Pods = make([]PodSample, 0, len(s.pods[0])+len(s.pods[1])+len(s.pods[2]))
	parents := [3]struct {
		group string
		class QOSClass
	}{
		{s.layout.Kubepods, Guaranteed},
		{s.layout.Burstable, Burstable},
		{s.layout.Besteffort, BestEffort},
	}
	for i, p := range parents {
		names, err := s.cg.Children(p.group)
		if err != nil {
			if p.class == Burstable && gone(err) {
				continue // no burstable pods ever ran here
			}
			return fmt.Errorf("list pods of %s: %w", p.group, err)
		}
		known := s.pods[i]
		for _, name := range names {
			st, ok := known[name]
			if !ok {
				uid, isPod := cgroup.PodUID(name)
				if !isPod {
					continue // a QoS group or something else
				}
				st = &podState{uid: uid, group: path.Join(p.group, name)}
			}
			sample, keep := s.samplePod(st, p.class, obs.Time)
			if !keep {
				continue
			}
			if !ok {
				known[name] = st
			}
			st.gen = s.gen
			obs.Pods = append(obs.Pods, sample)
			if p.class.Online() {
				obs.OnlineThrottling.add(sample.Throttling)
			}
		}
		for name, st := range known {
			if st.gen != s.gen {
				delete(known, name)
			}
		}
	}
	return nil
}

// samplePod reads one pod; keep is false when the pod is gone (or
// unreadable, which is logged).
func (s *Sampler) samplePod(st *podState, class QOSClass, now time.Time) (PodSample, bool) {
	cpu, err := s.cg.CPUStat(st.group)
	if err == nil {
		var mem cgroup.MemoryStat
		if mem, err = s.cg.MemoryStat(st.group); err == nil {
			ps := PodSample{UID: st.uid, Group: st.group, QOSClass: class, MemoryBytes: float64(mem.WorkingSetBytes)}
			prev, elapsed := st.cpu, now.Sub(st.time)
			if st.gen != 0 && elapsed > 0 && cpu.UsageNanos >= prev.UsageNanos &&
				cpu.Periods >= prev.Periods && cpu.Throttled >= prev.Throttled && cpu.ThrottledNanos >= prev.ThrottledNanos {
				ps.CPU = float64(cpu.UsageNanos-prev.UsageNanos) / float64(elapsed)
				ps.CPUValid = true
				ps.Throttling = Throttling{
					Periods:          cpu.Periods - prev.Periods,
					Throttled:        cpu.Throttled - prev.Throttled,
					ThrottledSeconds: float64(cpu.ThrottledNanos-prev.ThrottledNanos) / 1e9,
				}
			}
			st.cpu, st.time = cpu, now
			return ps, true
		}
	}
	if !gone(err) {
		s.log.Warn("skip unreadable pod cgroup", "group", st.group, "err", err)
	}
	return PodSample{}, false
}

// cpuBusy returns each CPU's busy fraction since the previous scan.
func (s *Sampler) cpuBusy() ([]float64, error) {
	cur, err := s.host.PerCPUTimes()
	if err != nil {
		return nil, fmt.Errorf("read per-cpu times: %w", err)
	}
	prev := s.perCPU
	s.perCPU = cur
	if len(prev) != len(cur) {
		return nil, nil // first scan, or CPUs came or went
	}
	busy := make([]float64, len(cur))
	for i := range cur {
		dTotal := cur[i].TotalNanos - prev[i].TotalNanos
		dBusy := cur[i].BusyNanos - prev[i].BusyNanos
		if cur[i].TotalNanos < prev[i].TotalNanos || cur[i].BusyNanos < prev[i].BusyNanos || dTotal == 0 {
			continue // offline, reset, or no tick: no fraction
		}
		busy[i] = min(1, float64(dBusy)/float64(dTotal))
	}
	return busy, nil
}

// pressure reads PSI of one scope for every resource; resources the kernel
// does not report there are left out, other failures are logged and left
// out (pressure is a signal, not worth failing the scan for).
func (s *Sampler) pressure(scope string, read func(resource string) (cgroup.PSI, error)) Pressure {
	p := Pressure{}
	for _, r := range psiResources {
		psi, err := read(r)
		switch {
		case err == nil:
			p[r] = psi
		case errors.Is(err, cgroup.ErrNotSupported), gone(err):
		default:
			s.log.Warn("read pressure", "scope", scope, "resource", r, "err", err)
		}
	}
	return p
}
