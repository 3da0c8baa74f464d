package cgroup

import (
	"bytes"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/containerd/cgroups/v3/cgroup2"
)

// keyedLine is what the kernel prints in a flat keyed file; the fuzz tests
// use it as an independent reference of "well-formed".
var keyedLine = regexp.MustCompile(`^[A-Za-z0-9_.\-]+ [0-9]+[ \t]*$`)

// wellFormedKeyed reports whether data is a non-empty flat keyed file whose
// values fit in uint64, and returns its last value per key.
func wellFormedKeyed(data string) (map[string]uint64, bool) {
	m := map[string]uint64{}
	for line := range strings.SplitSeq(data, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if !keyedLine.MatchString(line) {
			return nil, false
		}
		k, v, _ := strings.Cut(line, " ")
		n, err := strconv.ParseUint(strings.TrimRight(v, " \t"), 10, 64)
		if err != nil {
			return nil, false
		}
		m[k] = n
	}
	return m, len(m) > 0
}

func sat1000(v uint64) uint64 {
	if v > math.MaxUint64/1000 {
		return math.MaxUint64
	}
	return v * 1000
}

func FuzzParseCPUStat(f *testing.F) {
	f.Add("usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 3\nnr_throttled 1\nthrottled_usec 5\n")
	f.Add("nr_periods 3\nnr_throttled 1\nthrottled_time 5000\n")
	f.Add("usage_usec x\n")
	f.Fuzz(func(t *testing.T, data string) {
		st, err := ParseCPUStat(strings.NewReader(data))
		m, ok := wellFormedKeyed(data)
		_, hasUsage := m["usage_usec"]
		_, hasPeriods := m["nr_periods"]
		valid := ok && (hasUsage || hasPeriods)
		if valid != (err == nil) {
			t.Fatalf("ParseCPUStat(%q) err = %v, reference says valid=%v", data, err, valid)
		}
		if err != nil {
			if st != (CPUStat{}) {
				t.Fatalf("error with non-zero result %+v", st)
			}
			return
		}
		if hasUsage && st.UsageNanos != sat1000(m["usage_usec"]) {
			t.Fatalf("UsageNanos %d, usage_usec %d", st.UsageNanos, m["usage_usec"])
		}
		if st.Periods != m["nr_periods"] || st.Throttled != m["nr_throttled"] {
			t.Fatalf("counters %+v, file %v", st, m)
		}
		// The fast path agrees with the full parse.
		if hasUsage {
			u, err := parseUsageUsec([]byte(data))
			if err != nil || u != st.UsageNanos {
				t.Fatalf("parseUsageUsec = %d, %v; ParseCPUStat %d", u, err, st.UsageNanos)
			}
		}
	})
}

func FuzzParseMemoryStat(f *testing.F) {
	f.Add("cache 4096\nrss 0\ninactive_file 100\ntotal_cache 4096\ntotal_inactive_file 200\n")
	f.Add("anon 0\nfile 8192\ninactive_file 4096\n")
	f.Add("inactive_file -1\n")
	f.Fuzz(func(t *testing.T, data string) {
		m, keyedErr := ParseKeyed(strings.NewReader(data))
		ref, ok := wellFormedKeyed(data)
		if ok != (keyedErr == nil) {
			t.Fatalf("ParseKeyed(%q) err = %v, reference says valid=%v", data, keyedErr, ok)
		}
		if keyedErr == nil && len(m) != len(ref) {
			t.Fatalf("ParseKeyed = %v, reference %v", m, ref)
		}
		v, err := ParseInactiveFile(strings.NewReader(data))
		total, hasTotal := ref["total_inactive_file"]
		inactive, hasInactive := ref["inactive_file"]
		valid := ok && (hasTotal || hasInactive)
		if valid != (err == nil) {
			t.Fatalf("ParseInactiveFile(%q) err = %v, want valid=%v", data, err, valid)
		}
		switch {
		case err != nil:
		case hasTotal && v != total, !hasTotal && v != inactive:
			t.Fatalf("ParseInactiveFile = %d; file %v", v, ref)
		}
	})
}

func FuzzParseCPUList(f *testing.F) {
	f.Add("0-3,5\n")
	f.Add("")
	f.Add("7-2")
	f.Add("0,,1")
	f.Fuzz(func(t *testing.T, s string) {
		cpus, err := ParseCPUList(s)
		if err != nil {
			return
		}
		if strings.Trim(strings.TrimSpace(s), "0123456789,-") != "" {
			t.Fatalf("ParseCPUList(%q) accepted characters outside a CPU list", s)
		}
		for i, c := range cpus {
			if c < 0 || c >= maxCPU || (i > 0 && c <= cpus[i-1]) {
				t.Fatalf("ParseCPUList(%q) = %v: not sorted, distinct, in range", s, cpus)
			}
		}
		formatted := FormatCPUList(cpus)
		again, err := ParseCPUList(formatted)
		if err != nil || !slices.Equal(again, cpus) {
			t.Fatalf("round trip %q → %v → %q → %v, %v", s, cpus, formatted, again, err)
		}
		if formatted != FormatCPUList(again) {
			t.Fatalf("format not stable: %q", formatted)
		}
	})
}

func FuzzFormatCPUList(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 5})
	f.Add([]byte{9, 9, 1})
	f.Fuzz(func(t *testing.T, ids []byte) {
		cpus := make([]int, len(ids))
		for i, b := range ids {
			cpus[i] = int(b)
		}
		got, err := ParseCPUList(FormatCPUList(cpus))
		want := slices.Compact(slices.Sorted(slices.Values(cpus)))
		if len(want) == 0 {
			want = nil
		}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("Parse(Format(%v)) = %v, %v; want %v", cpus, got, err, want)
		}
	})
}

func FuzzParsePSI(f *testing.F) {
	f.Add("some avg10=0.38 avg60=1.59 avg300=0.71 total=2917311\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
	f.Add("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
	f.Add("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
	f.Add("some avg10=NaN avg60=0 avg300=0 total=1\n")
	f.Fuzz(func(t *testing.T, data string) {
		p, err := ParsePSI(strings.NewReader(data))
		if err != nil {
			return
		}
		hasSome := false
		for line := range strings.SplitSeq(data, "\n") {
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			if fields[0] != "some" && fields[0] != "full" {
				t.Fatalf("ParsePSI(%q) accepted a %q line", data, fields[0])
			}
			hasSome = hasSome || fields[0] == "some"
		}
		if !hasSome {
			t.Fatalf("ParsePSI(%q) accepted a file without a some line", data)
		}
		for _, l := range []PSILine{p.Some, p.Full} {
			for _, a := range []float64{l.Avg10, l.Avg60, l.Avg300} {
				if !(a >= 0 && a <= 100) {
					t.Fatalf("ParsePSI(%q): average %v out of [0, 100]", data, a)
				}
			}
			if l.Total < 0 {
				t.Fatalf("ParsePSI(%q): negative total %v", data, l.Total)
			}
		}
		// Round trip through the kernel's format.
		var b strings.Builder
		for _, kl := range []struct {
			kind string
			l    PSILine
		}{{"some", p.Some}, {"full", p.Full}} {
			b.WriteString(kl.kind + " avg10=" + strconv.FormatFloat(kl.l.Avg10, 'g', -1, 64) +
				" avg60=" + strconv.FormatFloat(kl.l.Avg60, 'g', -1, 64) +
				" avg300=" + strconv.FormatFloat(kl.l.Avg300, 'g', -1, 64) +
				" total=" + strconv.FormatInt(kl.l.Total.Microseconds(), 10) + "\n")
		}
		again, err := ParsePSI(strings.NewReader(b.String()))
		if err != nil || again != p {
			t.Fatalf("round trip %+v → %q → %+v, %v", p, b.String(), again, err)
		}
	})
}

func FuzzParseLimit(f *testing.F) {
	f.Add("max\n")
	f.Add("-1\n")
	f.Add("9223372036854771712\n")
	f.Add("1073741824\n")
	f.Add("1e9\n")
	f.Fuzz(func(t *testing.T, data string) {
		v, err := ParseLimit(strings.NewReader(data))
		if err != nil {
			return
		}
		if v != Unlimited && (v < 0 || v >= unlimitedThreshold) {
			t.Fatalf("ParseLimit(%q) = %d out of range", data, v)
		}
		out := "max"
		if v != Unlimited {
			out = strconv.FormatInt(v, 10)
		}
		again, err := ParseLimit(strings.NewReader(out + "\n"))
		if err != nil || again != v {
			t.Fatalf("round trip %q → %d → %q → %d, %v", data, v, out, again, err)
		}
	})
}

func FuzzParseCPUMax(f *testing.F) {
	f.Add("max 100000\n")
	f.Add("50000 100000\n")
	f.Add("max\n")
	f.Fuzz(func(t *testing.T, data string) {
		q, p, err := ParseCPUMax(strings.NewReader(data))
		if err != nil {
			return
		}
		if p <= 0 || (q != Unlimited && q <= 0) {
			t.Fatalf("ParseCPUMax(%q) = %d %d", data, q, p)
		}
		var quota *int64
		if q != Unlimited {
			quota = &q
		}
		period := uint64(p)
		out := string(cgroup2.NewCPUMax(quota, &period))
		q2, p2, err := ParseCPUMax(strings.NewReader(out))
		if err != nil || q2 != q || p2 != p {
			t.Fatalf("round trip %q → %d %d → %q → %d %d, %v", data, q, p, out, q2, p2, err)
		}
	})
}

func FuzzParseProcs(f *testing.F) {
	f.Add("1\n42\n")
	f.Add("")
	f.Add("0\n")
	f.Add("12 13\n")
	f.Fuzz(func(t *testing.T, data string) {
		pids, err := ParseProcs(strings.NewReader(data))
		if err != nil {
			return
		}
		var b bytes.Buffer
		for i, p := range pids {
			if p <= 0 || (i > 0 && p < pids[i-1]) {
				t.Fatalf("ParseProcs(%q) = %v", data, pids)
			}
			b.WriteString(strconv.Itoa(p) + "\n")
		}
		again, err := ParseProcs(&b)
		if err != nil || !slices.Equal(again, pids) {
			t.Fatalf("round trip %v → %v, %v", pids, again, err)
		}
	})
}

func FuzzPodUID(f *testing.F) {
	f.Add("pod8dbc5c3a-1f2b-4c55-9a0e-2f6d3c1b7e90")
	f.Add("kubepods-besteffort-pod8dbc5c3a_1f2b_4c55_9a0e_2f6d3c1b7e90.slice")
	f.Add("kubepods-pod.slice")
	f.Fuzz(func(t *testing.T, name string) {
		uid, ok := PodUID(name)
		if !ok {
			if uid != "" {
				t.Fatalf("PodUID(%q) = %q with ok=false", name, uid)
			}
			return
		}
		for _, l := range []Layout{NewLayout("kubepods"), NewLayout("kubepods.slice")} {
			for _, q := range []string{"guaranteed", "burstable", "besteffort"} {
				g := l.PodGroup(q, uid)
				back, ok := PodUID(g)
				if !ok || back != uid {
					t.Fatalf("PodUID(%q) = %q; PodGroup → %q → %q, %v", name, uid, g, back, ok)
				}
			}
		}
	})
}
