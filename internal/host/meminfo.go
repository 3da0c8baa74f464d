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
	// seen is a bit per field index of the switch below.
	var seen uint
	const total, available = 1 << 0, 1 << 2
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
		num, unitName, _ := bytes.Cut(bytes.TrimSpace(rest), []byte(" "))
		var unit uint64
		switch string(bytes.TrimSpace(unitName)) {
		case "kB":
			unit = 1024
		case "":
			unit = 1
		default:
			return MemInfo{}, fmt.Errorf("meminfo: %s: value %.40q is not \"number [kB]\"", key, rest)
		}
		n, ok := parseUint(num)
		if !ok {
			return MemInfo{}, fmt.Errorf("meminfo: %s: %.40q is not a number", key, num)
		}
		if n > ^uint64(0)/unit {
			return MemInfo{}, fmt.Errorf("meminfo: %s: %d kB overflows bytes", key, n)
		}
		bit, dst := m.field(key)
		if dst == nil {
			continue
		}
		if seen&bit != 0 {
			return MemInfo{}, fmt.Errorf("meminfo: %s listed twice", key)
		}
		seen |= bit
		*dst = n * unit
	}
	if err := s.Err(); err != nil {
		return MemInfo{}, fmt.Errorf("meminfo: %w", err)
	}
	if seen&total == 0 {
		return MemInfo{}, errors.New("meminfo: no MemTotal")
	}
	if seen&available == 0 {
		return MemInfo{}, errors.New("meminfo: no MemAvailable")
	}
	if m.TotalBytes == 0 {
		return MemInfo{}, errors.New("meminfo: MemTotal is 0")
	}
	return m, nil
}

// field returns the bit and the field of m a /proc/meminfo key fills, or a
// nil field for keys bigbox does not use.
func (m *MemInfo) field(key []byte) (uint, *uint64) {
	switch string(key) {
	case "MemTotal":
		return 1 << 0, &m.TotalBytes
	case "MemFree":
		return 1 << 1, &m.FreeBytes
	case "MemAvailable":
		return 1 << 2, &m.AvailableBytes
	case "Buffers":
		return 1 << 3, &m.BuffersBytes
	case "Cached":
		return 1 << 4, &m.CachedBytes
	case "Shmem":
		return 1 << 5, &m.ShmemBytes
	case "Active(file)":
		return 1 << 6, &m.ActiveFileBytes
	case "Inactive(file)":
		return 1 << 7, &m.InactiveFileBytes
	case "SwapTotal":
		return 1 << 8, &m.SwapTotalBytes
	case "SwapFree":
		return 1 << 9, &m.SwapFreeBytes
	}
	return 0, nil
}
