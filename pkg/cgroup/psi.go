package cgroup

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ParsePSI parses a pressure stall information file such as /proc/pressure/cpu
// or a v2 group's cpu.pressure:
//
//	some avg10=0.38 avg60=1.59 avg300=0.71 total=2917311
//	full avg10=0.00 avg60=0.00 avg300=0.00 total=0
//
// The "full" line is optional (older kernels omit it for cpu). Totals are in
// microseconds (https://docs.kernel.org/accounting/psi.html).
func ParsePSI(r io.Reader) (PSI, error) {
	var p PSI
	var seenSome bool
	s := bufio.NewScanner(r)
	for s.Scan() {
		line := s.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		fields := strings.Fields(line)
		var dst *PSILine
		switch fields[0] {
		case "some":
			dst, seenSome = &p.Some, true
		case "full":
			dst = &p.Full
		default:
			return PSI{}, fmt.Errorf("psi: unexpected line kind %q", fields[0])
		}
		if len(fields) != 5 {
			return PSI{}, fmt.Errorf("psi: %s line has %d fields, want 5", fields[0], len(fields))
		}
		for _, kv := range fields[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return PSI{}, fmt.Errorf("psi: field %q is not key=value", kv)
			}
			if k == "total" {
				us, err := strconv.ParseUint(v, 10, 63)
				if err != nil {
					return PSI{}, fmt.Errorf("psi: total: %w", err)
				}
				dst.Total = time.Duration(us) * time.Microsecond
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f >= 0 && f <= 100) { // also rejects NaN
				return PSI{}, fmt.Errorf("psi: %s=%q is not a percentage", k, v)
			}
			switch k {
			case "avg10":
				dst.Avg10 = f
			case "avg60":
				dst.Avg60 = f
			case "avg300":
				dst.Avg300 = f
			default:
				return PSI{}, fmt.Errorf("psi: unknown field %q", k)
			}
		}
	}
	if err := s.Err(); err != nil {
		return PSI{}, fmt.Errorf("psi: %w", err)
	}
	if !seenSome {
		return PSI{}, fmt.Errorf("psi: no \"some\" line")
	}
	return p, nil
}
