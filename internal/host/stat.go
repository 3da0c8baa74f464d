package host

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// userHZ is the unit of the CPU times in /proc/stat. The kernel converts
// them to USER_HZ, which is 100 on every Linux architecture whatever the
// kernel's internal HZ (it is part of the ABI: sysconf(_SC_CLK_TCK) returns
// it; see man 5 proc_stat and USER_HZ in include/asm-generic/param.h).
const userHZ = 100

// nanosPerTick is the length of one USER_HZ tick in nanoseconds.
const nanosPerTick = 1_000_000_000 / userHZ

// maxCPUs bounds CPU ids read from the kernel (x86's largest NR_CPUS is
// 8192; this leaves room), so garbage input cannot make us allocate a huge
// per-CPU slice.
const maxCPUs = 1 << 16

// CPUTimes is cumulative CPU time since boot, in nanoseconds. The counters
// come from USER_HZ ticks, so they move in steps of 10 ms per CPU. They can
// wrap modulo 2^64 (after about two years of uptime on 256 CPUs);
// deltas taken by unsigned subtraction stay right across the wrap.
type CPUTimes struct {
	// BusyNanos is user + nice + system + irq + softirq + steal. Guest
	// time is already inside user and nice, so it is not added again; idle
	// and iowait are not busy.
	BusyNanos uint64
	// TotalNanos is BusyNanos + idle + iowait.
	TotalNanos uint64
}

// Stat is the CPU part of /proc/stat.
type Stat struct {
	// Total is the aggregate "cpu" line.
	Total CPUTimes
	// PerCPU is indexed by CPU id; CPUs without a line (offline) are zero.
	PerCPU []CPUTimes
}

// ParseStat parses the CPU lines of /proc/stat: the aggregate "cpu" line,
// which must come first, and the "cpuN" lines after it. It stops at the
// first line that does not start with "cpu" and does not read the rest
// (the "intr" line can be very long on machines with many interrupts).
func ParseStat(r io.Reader) (Stat, error) {
	// Every CPU line is short; a longer one is an error, not a reason to
	// grow the buffer.
	br := bufio.NewReaderSize(r, 4096)
	var st Stat
	var seen []bool
	first := true
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 && !bytes.HasPrefix(line, []byte("cpu")) {
			if first {
				return Stat{}, errors.New("stat: first line is not the \"cpu\" line")
			}
			return st, nil
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return Stat{}, fmt.Errorf("stat: cpu line longer than %d bytes", br.Size())
		case err != nil && !errors.Is(err, io.EOF):
			return Stat{}, fmt.Errorf("stat: %w", err)
		}
		if len(line) > 0 {
			label, t, perr := parseCPULine(line)
			if perr != nil {
				return Stat{}, fmt.Errorf("stat: %w", perr)
			}
			if first {
				if label != -1 {
					return Stat{}, errors.New("stat: first line is not the \"cpu\" line")
				}
				st.Total = t
				first = false
			} else {
				if label == -1 {
					return Stat{}, errors.New("stat: second aggregate \"cpu\" line")
				}
				if label < len(seen) && seen[label] {
					return Stat{}, fmt.Errorf("stat: cpu%d listed twice", label)
				}
				for len(st.PerCPU) <= label {
					st.PerCPU = append(st.PerCPU, CPUTimes{})
					seen = append(seen, false)
				}
				st.PerCPU[label] = t
				seen[label] = true
			}
		}
		if err != nil { // io.EOF
			if first {
				return Stat{}, errors.New("stat: no \"cpu\" line")
			}
			return st, nil
		}
	}
}

// parseStatTotal parses the aggregate "cpu" line at the start of b, which
// holds at least the whole first line of /proc/stat. It does not allocate.
func parseStatTotal(b []byte) (CPUTimes, error) {
	line, _, found := bytes.Cut(b, []byte("\n"))
	if !found && len(b) >= statFirstLineMaxBytes {
		return CPUTimes{}, fmt.Errorf("first line longer than %d bytes", statFirstLineMaxBytes)
	}
	label, t, err := parseCPULine(line)
	if err != nil {
		return CPUTimes{}, err
	}
	if label != -1 {
		return CPUTimes{}, errors.New("first line is not the \"cpu\" line")
	}
	return t, nil
}

// parseCPULine parses one CPU line of /proc/stat:
//
//	cpu3 user nice system idle iowait irq softirq steal guest guest_nice
//
// It returns -1 as the CPU id for the aggregate "cpu" line. The first four
// counters exist on every kernel; later ones were added over time (iowait,
// irq, softirq in 2.6, steal in 2.6.11, guest in 2.6.24, guest_nice in
// 2.6.33), so they are optional, and counters a future kernel appends are
// checked to be numbers and otherwise ignored.
func parseCPULine(line []byte) (int, CPUTimes, error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	name, rest, _ := bytes.Cut(line, []byte(" "))
	id := -1
	if len(name) < 3 || string(name[:3]) != "cpu" {
		return 0, CPUTimes{}, fmt.Errorf("line %.40q is not a cpu line", line)
	}
	if len(name) > 3 {
		n, ok := parseUint(name[3:])
		if !ok || n >= maxCPUs {
			return 0, CPUTimes{}, fmt.Errorf("bad cpu name %.40q", name)
		}
		id = int(n)
	}
	// Fields in /proc/stat order.
	const (
		user = iota
		nice
		system
		idle
		iowait
		irq
		softirq
		steal
		numUsed
	)
	var v [numUsed]uint64
	fields := 0
	for len(rest) > 0 {
		if rest[0] == ' ' {
			rest = rest[1:]
			continue
		}
		var field []byte
		field, rest, _ = bytes.Cut(rest, []byte(" "))
		n, ok := parseUint(field)
		if !ok {
			return 0, CPUTimes{}, fmt.Errorf("%s: counter %d is not a number: %.40q", name, fields+1, field)
		}
		if fields < numUsed {
			v[fields] = n
		}
		fields++
	}
	if fields <= idle {
		return 0, CPUTimes{}, fmt.Errorf("%s: %d counters, want at least %d", name, fields, idle+1)
	}
	busy := v[user] + v[nice] + v[system] + v[irq] + v[softirq] + v[steal]
	total := busy + v[idle] + v[iowait]
	return id, CPUTimes{BusyNanos: busy * nanosPerTick, TotalNanos: total * nanosPerTick}, nil
}

// parseUint parses a decimal uint64 without allocating; it rejects signs,
// empty input and overflow.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (^uint64(0)-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
