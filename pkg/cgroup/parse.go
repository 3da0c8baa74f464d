package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// unlimitedThreshold: v1 reports "no memory limit" as PAGE_COUNTER_MAX
// pages in bytes (0x7FFFFFFFFFFFF000 with 4 KiB pages, other values with
// other page sizes), so any value at or above 2^62 counts as unlimited. No
// machine has 4 EiB of memory.
const unlimitedThreshold = 1 << 62

// readAll reads an outside file through r with the same bound as readFile.
func readAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxFileBytes)
	}
	return b, nil
}

// parseUintBytes parses a non-empty decimal unsigned number without
// allocating.
func parseUintBytes(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// trimValue strips the trailing newline (and stray blanks) the kernel
// prints after a single value.
func trimValue(b []byte) []byte {
	return bytes.TrimRight(bytes.TrimLeft(b, " \t"), " \t\n")
}

// nextKeyed returns the first line of a flat keyed file ("key value" per
// line, as cpu.stat and memory.stat are) and the rest of data; ok is false
// once data holds no more lines. A line that is not a key followed by one
// unsigned decimal is an error. It is a plain function, not a callback or a
// method on a scanner, so that the caller's stack buffer does not escape.
func nextKeyed(data []byte) (key []byte, v uint64, rest []byte, ok bool, err error) {
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		key, val, found := bytes.Cut(line, []byte{' '})
		if !found || len(key) == 0 || !validKey(key) {
			return nil, 0, nil, false, fmt.Errorf("line %q: want \"key value\"", string(line))
		}
		v, isNum := parseUintBytes(bytes.TrimRight(val, " \t"))
		if !isNum {
			return nil, 0, nil, false, fmt.Errorf("line %q: value is not an unsigned number", string(line))
		}
		return key, v, data, true, nil
	}
	return nil, 0, nil, false, nil
}

var errEmptyFile = errors.New("empty file")

func validKey(key []byte) bool {
	for _, c := range key {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

// ParseKeyed parses a flat keyed file such as cpu.stat or memory.stat into
// a map. Use it for keys the typed readers do not cover.
func ParseKeyed(r io.Reader) (map[string]uint64, error) {
	b, err := readAll(r)
	if err != nil {
		return nil, fmt.Errorf("keyed file: %w", err)
	}
	m := make(map[string]uint64)
	for rest := b; ; {
		k, v, r, ok, err := nextKeyed(rest)
		if err != nil {
			return nil, fmt.Errorf("keyed file: %w", err)
		}
		if !ok {
			break
		}
		m[string(k)], rest = v, r
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("keyed file: %w", errEmptyFile)
	}
	return m, nil
}

// ParseCPUStat parses a cpu.stat file of either version. v1
// (Documentation/scheduler/sched-bwc.rst) has nr_periods, nr_throttled and
// throttled_time in ns and no usage (that is cpuacct.usage); v2
// (Documentation/admin-guide/cgroup-v2.rst) has usage_usec always and
// nr_periods, nr_throttled, throttled_usec only where the cpu controller is
// enabled, so their absence there means "never throttled". Microseconds are
// converted to nanoseconds. A file with neither usage_usec nor nr_periods is
// an error.
func ParseCPUStat(r io.Reader) (CPUStat, error) {
	b, err := readAll(r)
	if err != nil {
		return CPUStat{}, fmt.Errorf("cpu.stat: %w", err)
	}
	return parseCPUStat(b)
}

func parseCPUStat(b []byte) (CPUStat, error) {
	var st CPUStat
	var v1, v2 bool
	lines := 0
	for rest := b; ; lines++ {
		k, v, r, ok, err := nextKeyed(rest)
		if err != nil {
			return CPUStat{}, fmt.Errorf("cpu.stat: %w", err)
		}
		if !ok {
			break
		}
		rest = r
		switch string(k) {
		case "usage_usec":
			st.UsageNanos, v2 = saturatingMul(v, 1000), true
		case "nr_periods":
			st.Periods, v1 = v, true
		case "nr_throttled":
			st.Throttled = v
		case "throttled_time":
			st.ThrottledNanos = v
		case "throttled_usec":
			st.ThrottledNanos = saturatingMul(v, 1000)
		}
	}
	if lines == 0 {
		return CPUStat{}, fmt.Errorf("cpu.stat: %w", errEmptyFile)
	}
	if !v1 && !v2 {
		return CPUStat{}, errors.New("cpu.stat: neither usage_usec nor nr_periods")
	}
	return st, nil
}

// parseUsageUsec picks usage_usec out of a v2 cpu.stat, in ns.
func parseUsageUsec(b []byte) (uint64, error) {
	var usec uint64
	var found bool
	for rest := b; ; {
		k, v, r, ok, err := nextKeyed(rest)
		if err != nil {
			return 0, fmt.Errorf("cpu.stat: %w", err)
		}
		if !ok {
			break
		}
		rest = r
		if string(k) == "usage_usec" {
			usec, found = v, true
		}
	}
	if !found {
		return 0, errors.New("cpu.stat: no usage_usec")
	}
	return saturatingMul(usec, 1000), nil
}

func saturatingMul(v, m uint64) uint64 {
	if v > math.MaxUint64/m {
		return math.MaxUint64
	}
	return v * m
}

// ParseInactiveFile returns the inactive page cache from a memory.stat
// file: v1's total_inactive_file (the whole subtree) when present, else
// inactive_file (v1 without hierarchy totals, or v2 where it is already
// hierarchical). A file with neither is an error.
func ParseInactiveFile(r io.Reader) (uint64, error) {
	b, err := readAll(r)
	if err != nil {
		return 0, fmt.Errorf("memory.stat: %w", err)
	}
	return parseInactiveFile(b)
}

func parseInactiveFile(b []byte) (uint64, error) {
	var inactive, total uint64
	var haveInactive, haveTotal bool
	for rest := b; ; {
		k, v, r, ok, err := nextKeyed(rest)
		if err != nil {
			return 0, fmt.Errorf("memory.stat: %w", err)
		}
		if !ok {
			break
		}
		rest = r
		switch string(k) {
		case "total_inactive_file":
			total, haveTotal = v, true
		case "inactive_file":
			inactive, haveInactive = v, true
		}
	}
	switch {
	case haveTotal:
		return total, nil
	case haveInactive:
		return inactive, nil
	}
	return 0, errors.New("memory.stat: no inactive_file")
}

// ParseUint parses a single-value file holding one unsigned number
// (cpuacct.usage, memory.usage_in_bytes, memory.current, cpu.shares,
// cpu.weight, cpu.cfs_period_us).
func ParseUint(r io.Reader) (uint64, error) {
	b, err := readAll(r)
	if err != nil {
		return 0, err
	}
	return parseUint(b)
}

func parseUint(b []byte) (uint64, error) {
	v, ok := parseUintBytes(trimValue(b))
	if !ok {
		return 0, fmt.Errorf("%q is not an unsigned number", string(b))
	}
	return v, nil
}

// ParseLimit parses a single-value limit file: "max" (v2), -1 (v1
// cpu.cfs_quota_us) and values at or above 2^62 (v1's page-rounded
// "unlimited" memory.limit_in_bytes) are Unlimited; any other value must be
// a non-negative number.
func ParseLimit(r io.Reader) (int64, error) {
	b, err := readAll(r)
	if err != nil {
		return 0, err
	}
	return parseLimit(b)
}

func parseLimit(b []byte) (int64, error) {
	t := trimValue(b)
	switch string(t) {
	case "max", "-1":
		return Unlimited, nil
	}
	v, ok := parseUintBytes(t)
	if !ok {
		return 0, fmt.Errorf("%q is neither a limit nor max", string(b))
	}
	if v >= unlimitedThreshold {
		return Unlimited, nil
	}
	return int64(v), nil
}

// ParseCPUMax parses a v2 cpu.max file, "<quota|max> <period>", into the
// quota (Unlimited for max) and period, in microseconds.
func ParseCPUMax(r io.Reader) (quotaMicros, periodMicros int64, err error) {
	b, err := readAll(r)
	if err != nil {
		return 0, 0, fmt.Errorf("cpu.max: %w", err)
	}
	return parseCPUMax(b)
}

func parseCPUMax(b []byte) (quotaMicros, periodMicros int64, err error) {
	q, p, ok := bytes.Cut(trimValue(b), []byte{' '})
	if !ok {
		return 0, 0, fmt.Errorf("cpu.max %q: want \"<quota|max> <period>\"", string(b))
	}
	period, ok := parseUintBytes(p)
	if !ok || period == 0 || period > math.MaxInt64 {
		return 0, 0, fmt.Errorf("cpu.max %q: bad period", string(b))
	}
	if string(q) == "max" {
		return Unlimited, int64(period), nil
	}
	quota, ok := parseUintBytes(q)
	if !ok || quota == 0 || quota > math.MaxInt64 {
		return 0, 0, fmt.Errorf("cpu.max %q: bad quota", string(b))
	}
	return int64(quota), int64(period), nil
}

// ParseProcs parses a cgroup.procs (or tasks) file: one PID per line. The
// result is sorted; PID 0 (a process outside the reader's PID namespace) is
// left out.
func ParseProcs(r io.Reader) ([]int, error) {
	b, err := readAll(r)
	if err != nil {
		return nil, fmt.Errorf("cgroup.procs: %w", err)
	}
	return parseProcs(b, nil)
}

// parseProcs appends the PIDs in b to pids.
func parseProcs(b []byte, pids []int) ([]int, error) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		if len(line) == 0 {
			continue
		}
		v, ok := parseUintBytes(line)
		if !ok || v > math.MaxInt32 {
			return nil, fmt.Errorf("cgroup.procs: %q is not a pid", string(line))
		}
		if v == 0 {
			// A process outside the reader's PID namespace shows as 0.
			continue
		}
		pids = append(pids, int(v))
	}
	slices.Sort(pids)
	return pids, nil
}

// formatInt is strconv.FormatInt, named for the write paths.
func formatInt(v int64) string { return strconv.FormatInt(v, 10) }
