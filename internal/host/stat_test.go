package host

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func ticks(busy, total uint64) CPUTimes {
	return CPUTimes{BusyNanos: busy * 10_000_000, TotalNanos: total * 10_000_000}
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Stat
		wantErr string
	}{
		{
			name: "two cpus, all ten counters",
			in:   statTwoCPU,
			want: Stat{
				// busy = user+nice+system+irq+softirq+steal; guest is not added again.
				Total:  ticks(1954+3+1317+5+27+8, 1954+3+1317+5+27+8+70474+89),
				PerCPU: []CPUTimes{ticks(1478, 1478+35443+13), ticks(1834, 1834+35031+75)},
			},
		},
		{
			name: "offline cpu leaves a zero hole",
			in:   statEightCPUOneOffline,
			want: Stat{
				Total: ticks(1200, 9210),
				PerCPU: []CPUTimes{
					ticks(150, 1151), ticks(150, 1151), ticks(150, 1151), {},
					ticks(150, 1151), ticks(150, 1151), ticks(150, 1151), ticks(150, 1151),
				},
			},
		},
		{
			name: "old kernel with four counters",
			in:   "cpu 10 20 30 40\ncpu0 10 20 30 40\n",
			want: Stat{Total: ticks(60, 100), PerCPU: []CPUTimes{ticks(60, 100)}},
		},
		{
			name: "future counter is ignored",
			in:   "cpu 1 0 0 1 0 0 0 0 0 0 77\ncpu0 1 0 0 1 0 0 0 0 0 0 77",
			want: Stat{Total: ticks(1, 2), PerCPU: []CPUTimes{ticks(1, 2)}},
		},
		{
			name: "only the aggregate line",
			in:   "cpu 1 2 3 4 5 6 7 8 0 0\nintr 0\n",
			want: Stat{Total: ticks(1+2+3+6+7+8, 1+2+3+6+7+8+4+5)},
		},
		{name: "empty", in: "", wantErr: "no \"cpu\" line"},
		{name: "garbage", in: "hello world\n", wantErr: "first line"},
		{name: "per-cpu line first", in: "cpu0 1 2 3 4\ncpu 1 2 3 4\n", wantErr: "first line"},
		{name: "two aggregate lines", in: "cpu 1 2 3 4\ncpu 1 2 3 4\n", wantErr: "second aggregate"},
		{name: "cpu listed twice", in: "cpu 1 2 3 4\ncpu0 0 0 0 0\ncpu0 0 0 0 0\n", wantErr: "twice"},
		{name: "too few counters", in: "cpu 1 2 3\n", wantErr: "want at least 4"},
		{name: "negative counter", in: "cpu 1 -2 3 4\n", wantErr: "not a number"},
		{name: "overflowing counter", in: "cpu 1 2 3 18446744073709551616\n", wantErr: "not a number"},
		{name: "bad cpu name", in: "cpu 1 2 3 4\ncpux 1 2 3 4\n", wantErr: "bad cpu name"},
		{name: "huge cpu id", in: "cpu 1 2 3 4\ncpu99999999 1 2 3 4\n", wantErr: "bad cpu name"},
		{name: "overlong cpu line", in: "cpu 1 2 3 4" + strings.Repeat(" 1", 3000), wantErr: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseStat(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseStat() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseStat() error = %v", err)
			}
			if got.Total != tt.want.Total || !slices.Equal(got.PerCPU, tt.want.PerCPU) {
				t.Errorf("ParseStat() = %+v, want %+v", got, tt.want)
			}
			// The fast path must agree with the full parser.
			total, err := parseStatTotal([]byte(tt.in))
			if err != nil || total != tt.want.Total {
				t.Errorf("parseStatTotal() = %+v, %v, want %+v", total, err, tt.want.Total)
			}
		})
	}
}

func TestParseStatTotalFirstLineTooLong(t *testing.T) {
	t.Parallel()
	// The fast path reads a fixed buffer; a first line that fills it
	// without a newline must be an error, not a truncated counter.
	in := []byte("cpu 1 2 3 4" + strings.Repeat(" 1", statFirstLineMaxBytes))
	if _, err := parseStatTotal(in[:statFirstLineMaxBytes]); err == nil {
		t.Fatal("parseStatTotal() of a truncated line: no error")
	}
}

func TestReaderCPUTimes(t *testing.T) {
	t.Parallel()
	r, procRoot, _ := newFakeReader(t, map[string]string{"stat": statTwoCPU}, nil)

	got, err := r.CPUTimes()
	if err != nil {
		t.Fatalf("CPUTimes() error = %v", err)
	}
	if want := ticks(3314, 73877); got != want {
		t.Errorf("CPUTimes() = %+v, want %+v", got, want)
	}

	// The file stays open between calls; a rewrite in place (as the
	// kernel's re-render at offset 0) must be seen.
	path := filepath.Join(procRoot, "stat")
	if err := os.WriteFile(path, []byte("cpu  5 0 0 5 0 0 0 0 0 0\ncpu0 5 0 0 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = r.CPUTimes()
	if err != nil {
		t.Fatalf("CPUTimes() after rewrite error = %v", err)
	}
	if want := ticks(5, 10); got != want {
		t.Errorf("CPUTimes() after rewrite = %+v, want %+v", got, want)
	}

	// Garbage is an error, never a zero.
	if err := os.WriteFile(path, []byte("cpu  5 x 0 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := r.CPUTimes(); err == nil {
		t.Errorf("CPUTimes() of garbage = %+v, want an error", got)
	}
	// An empty file is a read of zero bytes: an error, and the Reader
	// reopens next time.
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := r.CPUTimes(); err == nil {
		t.Errorf("CPUTimes() of an empty file = %+v, want an error", got)
	}
	if err := os.WriteFile(path, []byte(statTwoCPU), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := r.CPUTimes(); err != nil || got != ticks(3314, 73877) {
		t.Errorf("CPUTimes() after reopen = %+v, %v", got, err)
	}

	// Close, then a missing file: an error naming the path.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CPUTimes(); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("CPUTimes() of a missing file error = %v, want one naming %s", err, path)
	}
}

func TestReaderCPUTimesConcurrent(t *testing.T) {
	t.Parallel()
	// The agent's loops share one Reader; the reused buffer must not be
	// read and written at once (run with -race).
	r, _, _ := newFakeReader(t, map[string]string{"stat": statTwoCPU}, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for range 50 {
				got, err := r.CPUTimes()
				if err == nil && got != ticks(3314, 73877) {
					err = fmt.Errorf("CPUTimes() = %+v", got)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestReaderPerCPUTimes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		proc    map[string]string
		want    []CPUTimes
		wantErr bool
	}{
		{name: "two cpus", proc: map[string]string{"stat": statTwoCPU}, want: []CPUTimes{ticks(1478, 36934), ticks(1834, 36940)}},
		{name: "offline cpu", proc: map[string]string{"stat": statEightCPUOneOffline}, want: []CPUTimes{
			ticks(150, 1151), ticks(150, 1151), ticks(150, 1151), {},
			ticks(150, 1151), ticks(150, 1151), ticks(150, 1151), ticks(150, 1151),
		}},
		{name: "missing file", proc: map[string]string{}, wantErr: true},
		{name: "garbage", proc: map[string]string{"stat": "cpu 1 2\n"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, _, _ := newFakeReader(t, tt.proc, nil)
			got, err := r.PerCPUTimes()
			if (err != nil) != tt.wantErr {
				t.Fatalf("PerCPUTimes() error = %v, want error %v", err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("PerCPUTimes() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseStat(f *testing.F) {
	for _, s := range []string{statTwoCPU, statEightCPUOneOffline, "cpu 1 2 3 4\n", "", "cpu0 1 2 3 4\n", "cpu 1 2 3\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		st, err := ParseStat(bytes.NewReader(in))
		total, totalErr := parseStatTotal(in)
		if totalErr == nil && !bytes.HasPrefix(in, []byte("cpu")) {
			t.Fatalf("parseStatTotal accepted %q, which does not start with cpu", in)
		}
		if err != nil {
			return
		}
		// Whatever ParseStat accepts starts with a valid aggregate line,
		// which the fast path reads the same (when it fits its buffer).
		if totalErr != nil && len(in) < statFirstLineMaxBytes {
			t.Fatalf("ParseStat accepted %q, parseStatTotal failed: %v", in, totalErr)
		}
		if totalErr == nil && total != st.Total {
			t.Fatalf("parseStatTotal = %+v, ParseStat total = %+v", total, st.Total)
		}
		if len(st.PerCPU) > maxCPUs {
			t.Fatalf("%d per-cpu entries, more than %d", len(st.PerCPU), maxCPUs)
		}
	})
}
