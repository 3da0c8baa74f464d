package demo

import (
	"math"
	"time"
)

// Phase names one part of the run. The same compressed day is replayed in
// each, so their latencies compare fairly.
type Phase string

// The phases, in the order they run.
const (
	// PhaseAlone: the online service alone.
	PhaseAlone Phase = "alone"
	// PhaseBurners: online service and offline burners, no agent; the big
	// box has the kubelet's defaults (no quota, all CPUs, no memory limit).
	PhaseBurners Phase = "burners"
	// PhaseAgent: online service, offline burners and the agent.
	PhaseAgent Phase = "agent"
)

// AllPhases returns the phases of a full run, in order.
func AllPhases() []Phase { return []Phase{PhaseAlone, PhaseBurners, PhaseAgent} }

// Sample is one second of the run: what the live view prints, the plot
// draws and the summary averages. Amounts are cores and bytes; -1 stands
// for "unlimited" in limits.
type Sample struct {
	// Seconds since the run started, at the end of the second.
	Seconds float64 `json:"t_s"`
	Phase   Phase   `json:"phase"`
	// LoadRPS is the target request rate at the sample; Requests and Errors
	// count outcomes in the second; P50Millis and P99Millis are the
	// latencies of the requests answered in it (0 when none).
	LoadRPS   float64 `json:"load_rps"`
	Requests  uint64  `json:"requests"`
	Errors    uint64  `json:"errors"`
	P50Millis float64 `json:"p50_ms"`
	P99Millis float64 `json:"p99_ms"`
	// OnlineCores is the burstable pods' CPU, OfflineCores the big box's,
	// NodeCores the whole machine's (all three over the last second).
	OnlineCores  float64 `json:"online_cores"`
	OfflineCores float64 `json:"offline_cores"`
	NodeCores    float64 `json:"node_cores"`
	// Working sets, as the kubelet counts them.
	OnlineMemoryBytes  float64 `json:"online_memory_bytes"`
	OfflineMemoryBytes float64 `json:"offline_memory_bytes"`
	// The big box as read from its cgroup.
	QuotaCores       float64 `json:"quota_cores"`
	CPUs             []int   `json:"cpus"`
	MemoryLimitBytes float64 `json:"memory_limit_bytes"`
	// Agent is true when the agent's status was read this second; then
	// ReclaimableCores and ReclaimableBytes are its lent amounts.
	Agent            bool    `json:"agent"`
	ReclaimableCores float64 `json:"reclaimable_cores"`
	ReclaimableBytes float64 `json:"reclaimable_bytes"`
}

// PhaseResult is what one phase measured: its samples and the latencies of
// all its requests (per-second quantiles cannot be averaged into phase
// quantiles, histograms can be merged).
type PhaseResult struct {
	Phase     Phase
	Samples   []Sample
	Latencies Histogram
	Requests  uint64
	Errors    uint64
	// AgentError is why the agent did not run or answer, if so.
	AgentError string
}

// Summary is demo-out/summary.json.
type Summary struct {
	// Interrupted is set when the run was stopped before its end.
	Interrupted bool `json:"interrupted,omitempty"`
	// CgroupParent is the demo's own tree (removed at the end), relative
	// to each hierarchy root.
	CgroupParent  string  `json:"cgroup_parent"`
	CapacityCores float64 `json:"capacity_cores"`
	Trace         string  `json:"trace"`
	TraceDay      int     `json:"trace_day"`
	// PeakRPS is the request rate at the curve's peak; WorkMillis the CPU
	// time of one request measured at start.
	PeakRPS    float64        `json:"peak_rps"`
	WorkMillis float64        `json:"work_ms"`
	Phases     []PhaseSummary `json:"phases"`
	// Agent is the agent phase's view of the big box; nil without one.
	Agent   *AgentSummary `json:"agent,omitempty"`
	Compare Comparison    `json:"compare"`
}

// PhaseSummary sums up one phase.
type PhaseSummary struct {
	Phase      Phase   `json:"phase"`
	Seconds    float64 `json:"seconds"`
	Requests   uint64  `json:"requests"`
	Errors     uint64  `json:"errors"`
	P50Millis  float64 `json:"p50_ms"`
	P99Millis  float64 `json:"p99_ms"`
	P999Millis float64 `json:"p999_ms"`
	// NodeUtilization is the mean share of all CPUs busy (0–1).
	NodeUtilization    float64 `json:"node_utilization"`
	OnlineCores        float64 `json:"online_cores"`
	OfflineCores       float64 `json:"offline_cores"`
	OfflineCoreSeconds float64 `json:"offline_core_seconds"`
	OfflineByteSeconds float64 `json:"offline_byte_seconds"`
}

// AgentSummary averages what the agent reported and set in its phase.
type AgentSummary struct {
	// Error is why the agent did not run or answer; the means are over the
	// seconds it did answer.
	Error            string  `json:"error,omitempty"`
	AnsweredSeconds  int     `json:"answered_seconds"`
	ReclaimableCores float64 `json:"mean_reclaimable_cores"`
	ReclaimableBytes float64 `json:"mean_reclaimable_bytes"`
	// QuotaCores and MemoryLimitBytes are means over the seconds the limit
	// was set (an unlimited second is left out); LimitedSeconds counts
	// them.
	QuotaCores       float64 `json:"mean_quota_cores"`
	MemoryLimitBytes float64 `json:"mean_memory_limit_bytes"`
	LimitedSeconds   int     `json:"limited_seconds"`
}

// Comparison holds the deltas between phases; a field is absent when a
// phase it needs did not run. Ratios are "phase / alone"; differences are
// "phase − alone".
type Comparison struct {
	P99BurnersVsAloneRatio    *float64 `json:"p99_burners_vs_alone_ratio,omitempty"`
	P99AgentVsAloneRatio      *float64 `json:"p99_agent_vs_alone_ratio,omitempty"`
	P99AgentVsBurnersRatio    *float64 `json:"p99_agent_vs_burners_ratio,omitempty"`
	P99BurnersMinusAloneMs    *float64 `json:"p99_burners_minus_alone_ms,omitempty"`
	P99AgentMinusAloneMs      *float64 `json:"p99_agent_minus_alone_ms,omitempty"`
	P50AgentMinusAloneMs      *float64 `json:"p50_agent_minus_alone_ms,omitempty"`
	UtilizationGainAgent      *float64 `json:"node_utilization_gain_agent_vs_alone,omitempty"`
	UtilizationGainBurners    *float64 `json:"node_utilization_gain_burners_vs_alone,omitempty"`
	OfflineCoreSecondsGained  *float64 `json:"offline_core_seconds_gained_with_agent,omitempty"`
	OfflineCoreSecondsBurners *float64 `json:"offline_core_seconds_without_agent,omitempty"`
}

// Summarize computes the summary of the phases run. Capacity is in cores.
func Summarize(results []PhaseResult, capacityCores float64) Summary {
	s := Summary{CapacityCores: capacityCores, Phases: []PhaseSummary{}}
	byPhase := map[Phase]PhaseSummary{}
	for _, r := range results {
		ps := summarizePhase(r, capacityCores)
		s.Phases = append(s.Phases, ps)
		byPhase[r.Phase] = ps
		if r.Phase == PhaseAgent {
			s.Agent = summarizeAgent(r)
		}
	}
	alone, okAlone := byPhase[PhaseAlone]
	burners, okBurners := byPhase[PhaseBurners]
	agent, okAgent := byPhase[PhaseAgent]
	c := &s.Compare
	if okAlone && okBurners {
		c.P99BurnersVsAloneRatio = ratio(burners.P99Millis, alone.P99Millis)
		c.P99BurnersMinusAloneMs = ptr(burners.P99Millis - alone.P99Millis)
		c.UtilizationGainBurners = ptr(burners.NodeUtilization - alone.NodeUtilization)
	}
	if okBurners {
		c.OfflineCoreSecondsBurners = ptr(burners.OfflineCoreSeconds)
	}
	if okAlone && okAgent {
		c.P99AgentVsAloneRatio = ratio(agent.P99Millis, alone.P99Millis)
		c.P99AgentMinusAloneMs = ptr(agent.P99Millis - alone.P99Millis)
		c.P50AgentMinusAloneMs = ptr(agent.P50Millis - alone.P50Millis)
		c.UtilizationGainAgent = ptr(agent.NodeUtilization - alone.NodeUtilization)
	}
	if okBurners && okAgent {
		c.P99AgentVsBurnersRatio = ratio(agent.P99Millis, burners.P99Millis)
	}
	if okAgent {
		c.OfflineCoreSecondsGained = ptr(agent.OfflineCoreSeconds)
	}
	return s
}

// summarizePhase sums up one phase; every sample stands for one second.
func summarizePhase(r PhaseResult, capacityCores float64) PhaseSummary {
	ps := PhaseSummary{
		Phase:      r.Phase,
		Seconds:    float64(len(r.Samples)),
		Requests:   r.Requests,
		Errors:     r.Errors,
		P50Millis:  millis(r.Latencies.Quantile(0.5)),
		P99Millis:  millis(r.Latencies.Quantile(0.99)),
		P999Millis: millis(r.Latencies.Quantile(0.999)),
	}
	if len(r.Samples) == 0 {
		return ps
	}
	var node, online, offline, offlineBytes float64
	for _, x := range r.Samples {
		node += x.NodeCores
		online += x.OnlineCores
		offline += x.OfflineCores
		offlineBytes += x.OfflineMemoryBytes
	}
	n := float64(len(r.Samples))
	if capacityCores > 0 {
		ps.NodeUtilization = node / n / capacityCores
	}
	ps.OnlineCores = online / n
	ps.OfflineCores = offline / n
	ps.OfflineCoreSeconds = offline
	ps.OfflineByteSeconds = offlineBytes
	return ps
}

// summarizeAgent averages the agent's numbers over the seconds it answered
// and the big box limits over the seconds they were set.
func summarizeAgent(r PhaseResult) *AgentSummary {
	a := &AgentSummary{Error: r.AgentError}
	var quotaN, memN int
	for _, x := range r.Samples {
		if x.Agent {
			a.AnsweredSeconds++
			a.ReclaimableCores += x.ReclaimableCores
			a.ReclaimableBytes += x.ReclaimableBytes
		}
		if x.QuotaCores >= 0 {
			quotaN++
			a.QuotaCores += x.QuotaCores
		}
		if x.MemoryLimitBytes >= 0 {
			memN++
			a.MemoryLimitBytes += x.MemoryLimitBytes
		}
	}
	if a.AnsweredSeconds > 0 {
		a.ReclaimableCores /= float64(a.AnsweredSeconds)
		a.ReclaimableBytes /= float64(a.AnsweredSeconds)
	}
	if quotaN > 0 {
		a.QuotaCores /= float64(quotaN)
	}
	if memN > 0 {
		a.MemoryLimitBytes /= float64(memN)
	}
	a.LimitedSeconds = max(quotaN, memN)
	return a
}

// ratio returns a/b, or nil when b is not positive (no requests answered).
func ratio(a, b float64) *float64 {
	if b <= 0 || math.IsNaN(a) {
		return nil
	}
	return ptr(a / b)
}

func ptr(v float64) *float64 { return &v }

// phaseLength splits the run evenly between the phases, in whole seconds
// (at least one each), so each replays the day at the same speed.
func phaseLength(total time.Duration, phases int) time.Duration {
	if phases <= 0 {
		return 0
	}
	return max((total / time.Duration(phases)).Truncate(time.Second), time.Second)
}
