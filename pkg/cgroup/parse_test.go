package cgroup

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseCPUList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []int
		format  string
		wantErr bool
	}{
		{name: "range and single", in: "0-3,5\n", want: []int{0, 1, 2, 3, 5}, format: "0-3,5"},
		{name: "single", in: "7", want: []int{7}, format: "7"},
		{name: "empty", in: "\n", want: nil, format: ""},
		{name: "unsorted overlapping", in: "4-5,0,1-2,5", want: []int{0, 1, 2, 4, 5}, format: "0-2,4-5"},
		{name: "one-cpu range", in: "3-3", want: []int{3}, format: "3"},
		{name: "backwards", in: "3-1", wantErr: true},
		{name: "open range", in: "0-", wantErr: true},
		{name: "empty element", in: "0,,1", wantErr: true},
		{name: "trailing comma", in: "0,", wantErr: true},
		{name: "negative", in: "-1", wantErr: true},
		{name: "plus sign", in: "+1", wantErr: true},
		{name: "spaces inside", in: "0, 1", wantErr: true},
		{name: "huge", in: "0-4000000000", wantErr: true},
		{name: "letters", in: "all", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseCPUList(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseCPUList(%q) = %v, want error", tt.in, got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("ParseCPUList(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if f := FormatCPUList(got); f != tt.format {
				t.Errorf("FormatCPUList(%v) = %q, want %q", got, f, tt.format)
			}
		})
	}
}

func TestFormatCPUList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []int
		want string
	}{
		{"nil", nil, ""},
		{"unsorted with duplicates", []int{5, 1, 0, 1, 2}, "0-2,5"},
		{"pairs", []int{0, 1, 4, 5}, "0-1,4-5"},
		{"gaps", []int{0, 2, 4}, "0,2,4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := slices.Clone(tt.in)
			if got := FormatCPUList(tt.in); got != tt.want {
				t.Errorf("FormatCPUList(%v) = %q, want %q", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("FormatCPUList modified its argument")
			}
		})
	}
}

func TestParseSingleValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        string
		wantUint  uint64
		uintErr   bool
		wantLimit int64
		limitErr  bool
	}{
		{name: "number", in: "1073741824\n", wantUint: 1 << 30, wantLimit: 1 << 30},
		{name: "zero", in: "0\n", wantUint: 0, wantLimit: 0},
		{name: "max", in: "max\n", uintErr: true, wantLimit: Unlimited},
		{name: "minus one", in: "-1\n", uintErr: true, wantLimit: Unlimited},
		{name: "v1 unlimited 4k pages", in: v1Unlimited, wantUint: 9223372036854771712, wantLimit: Unlimited},
		{name: "exactly 2^62", in: "4611686018427387904", wantUint: 1 << 62, wantLimit: Unlimited},
		{name: "just below 2^62", in: "4611686018427387903", wantUint: 1<<62 - 1, wantLimit: 1<<62 - 1},
		{name: "uint64 max", in: "18446744073709551615", wantUint: 1<<64 - 1, wantLimit: Unlimited},
		{name: "overflow", in: "18446744073709551616", uintErr: true, limitErr: true},
		{name: "empty", in: "", uintErr: true, limitErr: true},
		{name: "newline only", in: "\n", uintErr: true, limitErr: true},
		{name: "two values", in: "1 2\n", uintErr: true, limitErr: true},
		{name: "negative", in: "-2\n", uintErr: true, limitErr: true},
		{name: "hex", in: "0x10\n", uintErr: true, limitErr: true},
		{name: "MAX upper", in: "MAX\n", uintErr: true, limitErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := ParseUint(strings.NewReader(tt.in))
			if tt.uintErr != (err != nil) || (err == nil && u != tt.wantUint) {
				t.Errorf("ParseUint(%q) = %d, %v; want %d, err %v", tt.in, u, err, tt.wantUint, tt.uintErr)
			}
			l, err := ParseLimit(strings.NewReader(tt.in))
			if tt.limitErr != (err != nil) || (err == nil && l != tt.wantLimit) {
				t.Errorf("ParseLimit(%q) = %d, %v; want %d, err %v", tt.in, l, err, tt.wantLimit, tt.limitErr)
			}
		})
	}
}

func TestParseCPUMax(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		in            string
		quota, period int64
		wantErr       bool
	}{
		{name: "max", in: "max 100000\n", quota: Unlimited, period: 100000},
		{name: "quota", in: "50000 100000\n", quota: 50000, period: 100000},
		{name: "no period", in: "max\n", wantErr: true},
		{name: "zero period", in: "max 0\n", wantErr: true},
		{name: "zero quota", in: "0 100000\n", wantErr: true},
		{name: "three fields", in: "1 2 3\n", wantErr: true},
		{name: "negative", in: "-1 100000\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, p, err := ParseCPUMax(strings.NewReader(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseCPUMax(%q) = %d %d, want error", tt.in, q, p)
				}
				return
			}
			if err != nil || q != tt.quota || p != tt.period {
				t.Fatalf("ParseCPUMax(%q) = %d %d %v, want %d %d", tt.in, q, p, err, tt.quota, tt.period)
			}
		})
	}
}

func TestParseKeyed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    map[string]uint64
		wantErr bool
	}{
		{name: "memory.stat", in: "cache 4096\nrss 8192\ntotal_inactive_file 0\n", want: map[string]uint64{"cache": 4096, "rss": 8192, "total_inactive_file": 0}},
		{name: "no trailing newline", in: "a 1", want: map[string]uint64{"a": 1}},
		{name: "blank lines", in: "\na 1\n\n", want: map[string]uint64{"a": 1}},
		{name: "empty", in: "", wantErr: true},
		{name: "missing value", in: "a\n", wantErr: true},
		{name: "negative", in: "a -1\n", wantErr: true},
		{name: "two values", in: "a 1 2\n", wantErr: true},
		{name: "leading space", in: " a 1\n", wantErr: true},
		{name: "float", in: "a 1.5\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseKeyed(strings.NewReader(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseKeyed(%q) = %v, want error", tt.in, got)
				}
				return
			}
			if err != nil || !maps.Equal(got, tt.want) {
				t.Fatalf("ParseKeyed(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseCPUStatAndInactiveFile(t *testing.T) {
	t.Parallel()
	st, err := ParseCPUStat(strings.NewReader("nr_periods 3\nnr_throttled 2\nthrottled_time 1\n"))
	if err != nil || st != (CPUStat{Periods: 3, Throttled: 2, ThrottledNanos: 1}) {
		t.Errorf("ParseCPUStat v1 = %+v, %v", st, err)
	}
	st, err = ParseCPUStat(strings.NewReader("usage_usec 18446744073709551615\n"))
	if err != nil || st.UsageNanos != 1<<64-1 {
		t.Errorf("ParseCPUStat saturates: %+v, %v", st, err)
	}
	if _, err := ParseCPUStat(iotest.ErrReader(errors.New("boom"))); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("ParseCPUStat on a failing reader: %v", err)
	}
	v, err := ParseInactiveFile(strings.NewReader("inactive_file 7\ntotal_inactive_file 9\n"))
	if err != nil || v != 9 {
		t.Errorf("ParseInactiveFile = %d, %v; want 9", v, err)
	}
	if _, err := ParseInactiveFile(strings.NewReader("active_file 7\n")); err == nil {
		t.Errorf("ParseInactiveFile without the key succeeded")
	}
}

func TestParseProcs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []int
		wantErr bool
	}{
		{name: "sorted", in: "30\n10\n20\n", want: []int{10, 20, 30}},
		{name: "empty group", in: "", want: nil},
		{name: "other pid namespace", in: "0\n5\n", want: []int{5}},
		{name: "garbage", in: "1\nx\n", wantErr: true},
		{name: "too big", in: "4294967296\n", wantErr: true},
		{name: "spaces", in: " 1\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseProcs(strings.NewReader(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseProcs(%q) = %v, want error", tt.in, got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("ParseProcs(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}
