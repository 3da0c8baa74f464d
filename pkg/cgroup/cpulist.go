package cgroup

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxCPU bounds CPU ids in a list; the kernel's NR_CPUS is at most 8192
// today, and the bound keeps a hostile "0-4000000000" from allocating.
const maxCPU = 1 << 16

// ParseCPUList parses a kernel CPU list ("0-3,5\n", the format of
// cpuset.cpus and /sys/devices/system/cpu/online) into sorted, distinct CPU
// ids. An empty list (e.g. an unset v2 cpuset.cpus) gives nil.
func ParseCPUList(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var cpus []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := parseCPU(lo)
		if err != nil {
			return nil, fmt.Errorf("cpu list %q: %w", s, err)
		}
		last := first
		if isRange {
			if last, err = parseCPU(hi); err != nil {
				return nil, fmt.Errorf("cpu list %q: %w", s, err)
			}
			if last < first {
				return nil, fmt.Errorf("cpu list %q: range %q runs backwards", s, part)
			}
		}
		for c := first; c <= last; c++ {
			cpus = append(cpus, c)
		}
	}
	slices.Sort(cpus)
	return slices.Compact(cpus), nil
}

func parseCPU(s string) (int, error) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, fmt.Errorf("%q is not a CPU id", s)
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || v >= maxCPU {
		return 0, fmt.Errorf("%q is not a CPU id below %d", s, maxCPU)
	}
	return int(v), nil
}

// FormatCPUList formats CPU ids as the kernel prints them: sorted, runs
// collapsed ("0-3,5"). Duplicates are dropped; nil gives "".
func FormatCPUList(cpus []int) string {
	sorted := slices.Clone(cpus)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	var b strings.Builder
	for i := 0; i < len(sorted); {
		j := i
		for j+1 < len(sorted) && sorted[j+1] == sorted[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(sorted[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(sorted[j]))
		}
		i = j + 1
	}
	return b.String()
}

// checkCPUs range-checks CPU ids before they are written.
func checkCPUs(cpus []int) error {
	for _, c := range cpus {
		if c < 0 || c >= maxCPU {
			return fmt.Errorf("cpu id %d out of range [0, %d)", c, maxCPU)
		}
	}
	return nil
}
