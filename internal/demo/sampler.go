package demo

import (
	"fmt"
	"time"

	"github.com/bigbox-dev/bigbox/internal/api"
	"github.com/bigbox-dev/bigbox/internal/host"
	"github.com/bigbox-dev/bigbox/pkg/cgroup"
)

// usageReader reads a group's usage and limits.
type usageReader interface {
	CPUUsageNanos(group string) (uint64, error)
	MemoryStat(group string) (cgroup.MemoryStat, error)
	Limits(group string) (cgroup.Limits, error)
}

// nodeCPU reads the machine's cumulative CPU times.
type nodeCPU interface {
	CPUTimes() (host.CPUTimes, error)
}

// sampler measures, once a second, what the online pods, the big box and
// the node use, from the cgroups and /proc/stat itself, so the phases
// without the agent have the same numbers as the one with it.
type sampler struct {
	cg            usageReader
	node          nodeCPU
	online        string // the burstable QoS group
	offline       string // the besteffort QoS group (the big box)
	capacityCores float64
	prev          reading
}

// reading is one set of cumulative counters.
type reading struct {
	at      time.Time
	online  uint64
	offline uint64
	node    host.CPUTimes
}

// read takes the counters at now.
func (s *sampler) read(now time.Time) (reading, error) {
	r := reading{at: now}
	var err error
	if r.online, err = s.cg.CPUUsageNanos(s.online); err != nil {
		return reading{}, fmt.Errorf("online cpu: %w", err)
	}
	if r.offline, err = s.cg.CPUUsageNanos(s.offline); err != nil {
		return reading{}, fmt.Errorf("offline cpu: %w", err)
	}
	if r.node, err = s.node.CPUTimes(); err != nil {
		return reading{}, fmt.Errorf("node cpu: %w", err)
	}
	return r, nil
}

// start takes the counters the first sample is measured from.
func (s *sampler) start(now time.Time) error {
	r, err := s.read(now)
	if err != nil {
		return err
	}
	s.prev = r
	return nil
}

// sample measures the time since the previous sample (or start) and reads
// memory and the big box's limits. On error the previous counters stay, so
// the next sample covers the gap.
func (s *sampler) sample(now time.Time) (Sample, error) {
	r, err := s.read(now)
	if err != nil {
		return Sample{}, err
	}
	elapsed := r.at.Sub(s.prev.at).Seconds()
	if elapsed <= 0 {
		return Sample{}, fmt.Errorf("sample: no time passed since the last one")
	}
	var out Sample
	// Unsigned subtraction stays right across a counter wrap.
	out.OnlineCores = float64(r.online-s.prev.online) / 1e9 / elapsed
	out.OfflineCores = float64(r.offline-s.prev.offline) / 1e9 / elapsed
	if total := r.node.TotalNanos - s.prev.node.TotalNanos; total > 0 {
		out.NodeCores = float64(r.node.BusyNanos-s.prev.node.BusyNanos) / float64(total) * s.capacityCores
	}
	onlineMem, err := s.cg.MemoryStat(s.online)
	if err != nil {
		return Sample{}, fmt.Errorf("online memory: %w", err)
	}
	offlineMem, err := s.cg.MemoryStat(s.offline)
	if err != nil {
		return Sample{}, fmt.Errorf("offline memory: %w", err)
	}
	out.OnlineMemoryBytes = float64(onlineMem.WorkingSetBytes)
	out.OfflineMemoryBytes = float64(offlineMem.WorkingSetBytes)
	lim, err := s.cg.Limits(s.offline)
	if err != nil {
		return Sample{}, fmt.Errorf("big box limits: %w", err)
	}
	out.QuotaCores = -1
	if lim.CPUQuotaMicros >= 0 && lim.CPUPeriodMicros > 0 {
		out.QuotaCores = float64(lim.CPUQuotaMicros) / float64(lim.CPUPeriodMicros)
	}
	out.CPUs = lim.CPUs
	out.MemoryLimitBytes = -1
	// cgroup.Limits turns v1's huge page-rounded "no limit" into Unlimited.
	if lim.MemoryLimitBytes >= 0 {
		out.MemoryLimitBytes = float64(lim.MemoryLimitBytes)
	}
	s.prev = r
	return out, nil
}

// withStatus adds the agent's lent amounts to a sample.
func withStatus(s Sample, st api.Status) Sample {
	s.Agent = true
	s.ReclaimableCores = st.CPU.Lent
	s.ReclaimableBytes = st.Memory.Lent
	return s
}
