package cgroup

import "fmt"

// CPU weight (v2) and shares (v1) ranges: cpu.weight is 1–10000 (default
// 100), cpu.shares 2–262144 (default 1024).
const (
	MinCPUWeight uint64 = 1
	MaxCPUWeight uint64 = 10000
	MinCPUShares uint64 = 2
	MaxCPUShares uint64 = 262144
)

// WeightToShares maps a v2 cpu.weight to v1 cpu.shares with the linear
// mapping runc and the kubelet use
// (https://github.com/kubernetes/enhancements/tree/master/keps/sig-node/2254-cgroup-v2#phase-1-convert-from-cgroups-v1-settings-to-v2):
//
//	shares = 2 + ((weight − 1) × 262142) / 9999
//
// so weight 1 is shares 2 and weight 10000 is shares 262144.
func WeightToShares(weight uint64) (uint64, error) {
	if weight < MinCPUWeight || weight > MaxCPUWeight {
		return 0, fmt.Errorf("cpu weight %d out of range [%d, %d]", weight, MinCPUWeight, MaxCPUWeight)
	}
	return MinCPUShares + ((weight-1)*(MaxCPUShares-MinCPUShares))/(MaxCPUWeight-1), nil
}

// SharesToWeight is the inverse of WeightToShares used when reading v1:
//
//	weight = 1 + ⌈((shares − 2) × 9999) / 262142⌉
//
// It rounds up where the kubelet's CpuSharesToCpuWeight rounds down,
// because only the rounded-up inverse gives back every weight written
// (WeightToShares rounds down); the kubelet's default 1024 shares reads as
// weight 40 and writes back as 1024. Shares outside 2–262144 are clamped,
// as the kernel clamps them.
func SharesToWeight(shares uint64) uint64 {
	shares = min(max(shares, MinCPUShares), MaxCPUShares)
	num := (shares - MinCPUShares) * (MaxCPUWeight - 1)
	den := MaxCPUShares - MinCPUShares
	return 1 + (num+den-1)/den
}
