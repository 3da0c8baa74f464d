package host

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseMeminfo(t *testing.T) {
	t.Parallel()
	const kib = 1024
	tests := []struct {
		name    string
		in      string
		want    MemInfo
		wantErr string
	}{
		{
			name: "real 6.18",
			in:   meminfoReal,
			want: MemInfo{
				TotalBytes:        4015804 * kib,
				FreeBytes:         2311448 * kib,
				AvailableBytes:    3367600 * kib,
				BuffersBytes:      61496 * kib,
				CachedBytes:       1152236 * kib,
				ShmemBytes:        12636 * kib,
				ActiveFileBytes:   339796 * kib,
				InactiveFileBytes: 861868 * kib,
				SwapTotalBytes:    1048572 * kib,
				SwapFreeBytes:     1048572 * kib,
			},
		},
		{
			name: "minimal, no trailing newline",
			in:   "MemTotal: 100 kB\nMemAvailable: 40 kB",
			want: MemInfo{TotalBytes: 100 * kib, AvailableBytes: 40 * kib},
		},
		{
			name: "unitless and blank lines",
			in:   "MemTotal: 2 kB\n\nHugePages_Total:       0\nMemAvailable: 1 kB\n",
			want: MemInfo{TotalBytes: 2 * kib, AvailableBytes: 1 * kib},
		},
		{name: "empty", in: "", wantErr: "no MemTotal"},
		{name: "no MemAvailable (before 3.14)", in: "MemTotal: 100 kB\nMemFree: 10 kB\n", wantErr: "no MemAvailable"},
		{name: "zero MemTotal", in: "MemTotal: 0 kB\nMemAvailable: 0 kB\n", wantErr: "MemTotal is 0"},
		{name: "garbage", in: "hello\n", wantErr: "not \"Key: value\""},
		{name: "no value", in: "MemTotal:\nMemAvailable: 1 kB\n", wantErr: "not a number"},
		{name: "unknown unit", in: "MemTotal: 1 MB\nMemAvailable: 1 kB\n", wantErr: "not \"number [kB]\""},
		{name: "negative", in: "MemTotal: -1 kB\nMemAvailable: 1 kB\n", wantErr: "not a number"},
		{name: "bad unknown key still checked", in: "MemTotal: 1 kB\nFoo: x\nMemAvailable: 1 kB\n", wantErr: "not a number"},
		{name: "overflow", in: "MemTotal: 18446744073709551615 kB\nMemAvailable: 1 kB\n", wantErr: "overflows"},
		{name: "duplicate", in: "MemTotal: 1 kB\nMemTotal: 2 kB\nMemAvailable: 1 kB\n", wantErr: "twice"},
		{name: "space in key", in: "Mem Total: 1 kB\n", wantErr: "not \"Key: value\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseMeminfo(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseMeminfo() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMeminfo() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseMeminfo() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMemInfoUsedBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		m    MemInfo
		want uint64
	}{
		{name: "total minus available", m: MemInfo{TotalBytes: 100, AvailableBytes: 30}, want: 70},
		{name: "available above total floors at zero", m: MemInfo{TotalBytes: 100, AvailableBytes: 130}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.m.UsedBytes(); got != tt.want {
				t.Errorf("UsedBytes() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestReaderMemInfo(t *testing.T) {
	t.Parallel()
	t.Run("fake procfs", func(t *testing.T) {
		t.Parallel()
		r, _, _ := newFakeReader(t, map[string]string{"meminfo": meminfoReal}, nil)
		got, err := r.MemInfo()
		if err != nil {
			t.Fatalf("MemInfo() error = %v", err)
		}
		if got.TotalBytes != 4015804*1024 || got.AvailableBytes != 3367600*1024 {
			t.Errorf("MemInfo() = %+v", got)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		r, _, _ := newFakeReader(t, nil, nil)
		if got, err := r.MemInfo(); err == nil {
			t.Errorf("MemInfo() = %+v, want an error", got)
		}
	})
}

func FuzzParseMeminfo(f *testing.F) {
	for _, s := range []string{meminfoReal, "MemTotal: 1 kB\nMemAvailable: 1 kB\n", "", "MemTotal: 1 MB\n", "HugePages_Total: 0\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ParseMeminfo(bytes.NewReader(in))
		if err != nil {
			if m != (MemInfo{}) {
				t.Fatalf("error %v with a non-zero result %+v", err, m)
			}
			return
		}
		if m.TotalBytes == 0 {
			t.Fatalf("accepted %q with MemTotal 0", in)
		}
		if !bytes.Contains(in, []byte("MemTotal:")) || !bytes.Contains(in, []byte("MemAvailable:")) {
			t.Fatalf("accepted %q without MemTotal and MemAvailable", in)
		}
		if m.UsedBytes() > m.TotalBytes {
			t.Fatalf("UsedBytes %d above TotalBytes %d", m.UsedBytes(), m.TotalBytes)
		}
	})
}
