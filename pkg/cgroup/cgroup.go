// Package cgroup reads usage from and writes limits to Linux control groups,
// v1 and v2, under a hierarchy root the caller passes in (only main names
// /sys/fs/cgroup). Groups are named by their path relative to the root of
// each hierarchy, e.g. "kubepods/besteffort" or
// "kubepods.slice/kubepods-besteffort.slice".
package cgroup

import (
	"errors"
	"time"
)

// Version is the cgroup version of a hierarchy.
type Version int

// Cgroup versions.
const (
	V1 Version = 1
	V2 Version = 2
)

// ErrNotSupported is returned for a file the kernel or cgroup version does
// not provide (e.g. per-cgroup pressure on v1).
var ErrNotSupported = errors.New("not supported by this cgroup hierarchy")

// Unlimited stands for "no limit" in quotas and memory limits.
const Unlimited int64 = -1

// CPUStat is the CPU accounting of one group.
type CPUStat struct {
	UsageNanos     uint64
	Periods        uint64
	Throttled      uint64
	ThrottledNanos uint64
}

// MemoryStat is the memory accounting of one group, in bytes.
type MemoryStat struct {
	UsageBytes        uint64
	InactiveFileBytes uint64
	// WorkingSetBytes = UsageBytes − InactiveFileBytes (floored at 0), as
	// the kubelet counts it.
	WorkingSetBytes uint64
	// LimitBytes is the hard limit; Unlimited when none.
	LimitBytes int64
}

// PSI is one pressure stall information file (cpu, memory or io).
type PSI struct {
	Some PSILine
	Full PSILine
}

// PSILine is one line of a PSI file: averages in percent, total stalled time.
type PSILine struct {
	Avg10, Avg60, Avg300 float64
	Total                time.Duration
}

// Limits are the values bigbox writes to the big box.
type Limits struct {
	// CPUQuotaMicros per CPUPeriodMicros; Unlimited for none.
	CPUQuotaMicros  int64
	CPUPeriodMicros int64
	// CPUWeight in cgroup v2 units (1–10000); on v1 it maps to cpu.shares.
	CPUWeight uint64
	// CPUs is the cpuset; empty means "all CPUs of the parent".
	CPUs []int
	// MemoryLimitBytes; Unlimited for none.
	MemoryLimitBytes int64
}
