// Package qos is bigbox's policy: pure functions from what the node uses, the
// node SLO and the time to what the big box may have and which offline pods
// must go. It does no I/O and reads no clock; the caller passes `now` (already
// in the node's time zone) and the state returned by the previous call.
//
// A tick is observe → decide → apply → report. This package is "decide":
// the agent and `bigboxctl simulate` both call it, so a decision can be
// replayed and compared in tests.
//
// Safety rules that hold for every function: input the policy cannot trust
// (NaN or infinite usage, a capacity that is not positive) lends nothing at
// once and evicts nothing for that resource; negative usage is clamped to
// zero; an invalid time window only ever closes; lent amounts are never
// negative and never above raw + deadband. The formulas are in
// docs/architecture.md, "The policy", and on each function.
package qos

import "time"

// Resource names a resource bigbox lends.
type Resource string

// The resources bigbox lends.
const (
	CPU    Resource = "cpu"    // amounts in cores
	Memory Resource = "memory" // amounts in bytes
)

// Usage is one observation of one resource on the node, in base units
// (cores for CPU, bytes for memory). Node usage is System + Online + Offline.
type Usage struct {
	// Capacity is what the node has (all CPUs, MemTotal).
	Capacity float64
	// System is what runs outside the kubepods cgroup (daemons, the kubelet,
	// the kernel's share).
	System float64
	// Online is what pods outside the big box use.
	Online float64
	// Offline is what the big box uses.
	Offline float64
	// PredictedOnline is the predicted online peak over the lending horizon;
	// zero when no predictor runs. Reclaim uses max(Online, PredictedOnline).
	PredictedOnline float64
}

// Node returns the usage of the whole node.
func (u Usage) Node() float64 { return u.System + u.Online + u.Offline }

// ResourcePolicy is the node SLO of one resource.
type ResourcePolicy struct {
	// ReclaimWatermarkPercent: online + system + lent may reach this share of
	// capacity (0–100).
	ReclaimWatermarkPercent float64
	// EvictWatermarkPercent: node usage above this share evicts offline pods
	// (0–100, at least ReclaimWatermarkPercent).
	EvictWatermarkPercent float64
	// EvictReleasePercent: eviction frees usage down to
	// EvictWatermarkPercent − EvictReleasePercent, so one eviction does not
	// leave the node on the edge (kubelet's MinReclaim, koordlet's lower
	// watermark).
	EvictReleasePercent float64
	// SystemReserved is the least system usage assumed, in base units:
	// reclaim subtracts max(System, SystemReserved).
	SystemReserved float64
	// MinLimit is the floor of the big box limit in base units (a CFS quota
	// of zero would freeze offline pods; a memory limit of zero OOM-kills
	// them at once).
	MinLimit float64
	// DeadbandPercent: changes of the lent amount smaller than this share of
	// capacity are not made (no write for noise).
	DeadbandPercent float64
	// GrowAfter: the lent amount rises only after the higher value held this
	// long, and then to the least value seen in that time. Falls are
	// immediate. This is the hysteresis that keeps lent capacity from
	// flapping.
	GrowAfter time.Duration
}

// TimeWindow is a span of the day in which colocation is allowed.
type TimeWindow struct {
	// Days the window starts on; empty means every day.
	Days []time.Weekday
	// Start and End are offsets from local midnight. End <= Start means the
	// window ends on the next day.
	Start, End time.Duration
	// Grace: lending stops this long before End so running work can finish.
	Grace time.Duration
}

// Policy is the whole node SLO in the form the policy functions take.
type Policy struct {
	// Enabled is the one-click switch. When false nothing is lent, every
	// offline pod is a victim and the big box is restored.
	Enabled bool
	CPU     ResourcePolicy
	Memory  ResourcePolicy
	// EvictionCooldown: after an eviction nothing new is lent for this long.
	EvictionCooldown time.Duration
	// CPUEvictAfter: node CPU must stay above its evict watermark this long
	// before a pod is evicted for CPU (a quota shrink usually suffices).
	CPUEvictAfter time.Duration
	// Windows in which colocation is allowed; empty means always.
	Windows []TimeWindow
	// CFSPeriod is the CFS period the quota is computed for (default 100ms).
	CFSPeriod time.Duration
}

// Lend is the hysteresis state of one resource: what is lent now and the
// pending rise, if any.
type Lend struct {
	// Amount lent now, in base units.
	Amount float64 `json:"amount"`
	// RiseSince is when the raw reclaimable amount first stood above
	// Amount + deadband without a break; zero when no rise is pending.
	RiseSince time.Time `json:"rise_since,omitzero"`
	// RiseFloor is the least raw amount seen since RiseSince.
	RiseFloor float64 `json:"rise_floor,omitempty"`
}

// State is what the policy carries from one decision to the next. The agent
// keeps it in memory and persists the cooldown across restarts.
type State struct {
	CPU    Lend `json:"cpu"`
	Memory Lend `json:"memory"`
	// CooldownUntil: no new lending before this time (zero: none).
	CooldownUntil time.Time `json:"cooldown_until,omitzero"`
	// CPUOverSince: when node CPU went above its evict watermark and stayed
	// there (zero: it is below).
	CPUOverSince time.Time `json:"cpu_over_since,omitzero"`
	// LentCPU (cores) and LentMemory (bytes) are what the previous Decide
	// lent after the switch, the time windows and the cooldown. CPU and
	// Memory above are the hysteresis, which keeps tracking the raw amount
	// during grace and cooldown; these are the ceiling lending may not rise
	// above while nothing new may be lent.
	LentCPU    float64 `json:"lent_cpu"`
	LentMemory float64 `json:"lent_memory"`
	// CPUs is the cpuset the previous Decide chose (nil: none yet, or the
	// big box was restored); CPUSet prefers these cores so the set does not
	// churn.
	CPUs []int `json:"cpus,omitempty"`
}

// Breakdown says how one resource's lent amount came about, term by term,
// for `bigboxctl explain` and the status API.
type Breakdown struct {
	Capacity        float64 `json:"capacity"`
	WatermarkPct    float64 `json:"reclaim_watermark_percent"`
	Online          float64 `json:"online"`
	PredictedOnline float64 `json:"predicted_online"`
	System          float64 `json:"system"`
	SystemReserved  float64 `json:"system_reserved"`
	// Deadband = DeadbandPercent/100 × Capacity: raw changes smaller than
	// this leave Lent alone.
	Deadband float64 `json:"deadband"`
	// Raw = Capacity × WatermarkPct/100 − max(Online, PredictedOnline) −
	// max(System, SystemReserved), never negative.
	Raw float64 `json:"raw"`
	// Lent is what hysteresis, cooldown, time windows and the switch leave of
	// Raw.
	Lent float64 `json:"lent"`
	// Reasons lists, in order, every rule that made Lent differ from Raw
	// (e.g. "rise pending 3s of 10s (floor 1.20)", "within deadband 0.05",
	// "eviction cooldown until 12:10:00"), plus notable events that did not
	// ("fell at once from 4.00", "system -0.01 clamped to 0").
	Reasons []string `json:"reasons,omitempty"`
}

// WindowPhase says where `now` is relative to the time windows.
type WindowPhase int

// Window phases.
const (
	// WindowOpen: lending allowed.
	WindowOpen WindowPhase = iota
	// WindowGrace: inside the grace before a window's end; lend nothing new,
	// let running work finish.
	WindowGrace
	// WindowClosed: outside every window; nothing is lent and remaining
	// offline pods are evicted.
	WindowClosed
)

// String returns "open", "grace" or "closed" (the status API's phase).
func (w WindowPhase) String() string {
	switch w {
	case WindowOpen:
		return "open"
	case WindowGrace:
		return "grace"
	case WindowClosed:
		return "closed"
	default:
		return "unknown"
	}
}

// BigBox is what the besteffort cgroup should be set to.
type BigBox struct {
	// CPUQuotaMicros per CPUPeriodMicros; -1 means unlimited.
	CPUQuotaMicros  int64 `json:"cpu_quota_us"`
	CPUPeriodMicros int64 `json:"cpu_period_us"`
	// CPUWeight is the cgroup v2 cpu.weight (1–10000); v1 cpu.shares is
	// derived from it by the executor. bigbox sets the minimum.
	CPUWeight uint64 `json:"cpu_weight"`
	// CPUs is the cpuset, whole physical cores; nil means all CPUs.
	CPUs []int `json:"cpus"`
	// MemoryLimitBytes; -1 means unlimited.
	MemoryLimitBytes int64 `json:"memory_limit_bytes"`
	// OOMScoreAdj for every process in the big box.
	OOMScoreAdj int `json:"oom_score_adj"`
}

// Pod is an offline pod as the eviction ranking sees it.
type Pod struct {
	// ID is the pod's UID (or, standalone, its cgroup name).
	ID        string
	Namespace string
	Name      string
	// Priority is the pod's priority; lower goes first.
	Priority int32
	// CPU in cores and MemoryBytes: current usage.
	CPU         float64
	MemoryBytes float64
}

// Victim is an offline pod chosen for eviction and why.
type Victim struct {
	Pod Pod
	// Reason is one of the Reason* constants.
	Reason string
}

// Eviction reasons; they label bigbox_evictions_total.
const (
	ReasonMemory   = "memory"
	ReasonCPU      = "cpu"
	ReasonDisk     = "disk"
	ReasonDisabled = "disabled"
	ReasonWindow   = "window"
)
