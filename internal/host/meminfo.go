package host

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// MemInfo is the part of /proc/meminfo bigbox uses, in bytes.
type MemInfo struct {
	TotalBytes     uint64 // MemTotal
	FreeBytes      uint64 // MemFree
	AvailableBytes uint64 // MemAvailable: the kernel's estimate of what can be allocated without swapping
	BuffersBytes   uint64 // Buffers
	// CachedBytes is the page cache (Cached), which includes ShmemBytes.
	CachedBytes       uint64
	ShmemBytes        uint64 // Shmem (tmpfs, shared memory): cache that cannot simply be dropped
	ActiveFileBytes   uint64 // Active(file)
	InactiveFileBytes uint64 // Inactive(file)
	SwapTotalBytes    uint64 // SwapTotal
	SwapFreeBytes     uint64 // SwapFree
}

// UsedBytes is MemTotal − MemAvailable, the node's memory usage as the
// kernel estimates it (floored at zero).
func (m MemInfo) UsedBytes() uint64 {
	if m.AvailableBytes > m.TotalBytes {
		return 0
	}
	return m.TotalBytes - m.AvailableBytes
}

// MemInfo reads <proc>/meminfo.
func (r *Reader) MemInfo() (MemInfo, error) {
	path := filepath.Join(r.procRoot, "meminfo")
	f, err := os.Open(path)
	if err != nil {
		return MemInfo{}, fmt.Errorf("meminfo: %w", err)
	}
	defer f.Close() // read-only: a close error cannot lose data
	m, err := ParseMeminfo(f)
	if err != nil {
		return MemInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ParseMeminfo parses /proc/meminfo:
//
//	MemTotal:        8024948 kB
//	HugePages_Total:       0
//
// Every line must be "Key: number" with an optional "kB" unit (which is
// KiB, see man 5 proc_meminfo). MemTotal and MemAvailable (Linux 3.14 and
// later) are required; keys bigbox does not use are checked for form and
// otherwise ignored.
func ParseMeminfo(r io.Reader) (MemInfo, error) {
	var m MemInfo
	fields := map[string]*uint64{
		"MemTotal":       &m.TotalBytes,
		"MemFree":        &m.FreeBytes,
		"MemAvailable":   &m.AvailableBytes,
		"Buffers":        &m.BuffersBytes,
		"Cached":         &m.CachedBytes,
		"Shmem":          &m.ShmemBytes,
		"Active(file)":   &m.ActiveFileBytes,
		"Inactive(file)": &m.InactiveFileBytes,
		"SwapTotal":      &m.SwapTotalBytes,
		"SwapFree":       &m.SwapFreeBytes,
	}
	seen := make(map[string]bool, len(fields))
	s := bufio.NewScanner(r)
	for s.Scan() {
		line := s.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		key, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(key) == 0 || bytes.ContainsAny(key, " \t") {
			return MemInfo{}, fmt.Errorf("meminfo: line %.60q is not \"Key: value\"", line)
		}
		value := bytes.Fields(rest)
		var unit uint64 = 1
		switch {
		case len(value) == 2 && string(value[1]) == "kB":
			unit = 1024
		case len(value) == 1:
		default:
			return MemInfo{}, fmt.Errorf("meminfo: %s: value %.40q is not \"number [kB]\"", key, rest)
		}
		n, ok := parseUint(value[0])
		if !ok {
			return MemInfo{}, fmt.Errorf("meminfo: %s: %.40q is not a number", key, value[0])
		}
		if n > ^uint64(0)/unit {
			return MemInfo{}, fmt.Errorf("meminfo: %s: %d kB overflows bytes", key, n)
		}
		dst, ok := fields[string(key)]
		if !ok {
			continue
		}
		if seen[string(key)] {
			return MemInfo{}, fmt.Errorf("meminfo: %s listed twice", key)
		}
		seen[string(key)] = true
		*dst = n * unit
	}
	if err := s.Err(); err != nil {
		return MemInfo{}, fmt.Errorf("meminfo: %w", err)
	}
	var missing []error
	for _, k := range []string{"MemTotal", "MemAvailable"} {
		if !seen[k] {
			missing = append(missing, fmt.Errorf("meminfo: no %s", k))
		}
	}
	if err := errors.Join(missing...); err != nil {
		return MemInfo{}, err
	}
	if m.TotalBytes == 0 {
		return MemInfo{}, errors.New("meminfo: MemTotal is 0")
	}
	return m, nil
}
