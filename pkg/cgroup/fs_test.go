package cgroup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// shapes are every hierarchy shape the readers and writers must handle.
var shapes = []struct {
	name string
	new  func(testing.TB) *fakeTree
}{
	{"v1", func(t testing.TB) *fakeTree { return newFakeV1(t, separate) }},
	{"v1 joint cpu,cpuacct with symlinks", func(t testing.TB) *fakeTree { return newFakeV1(t, jointLinks) }},
	{"v1 joint cpu,cpuacct only", func(t testing.TB) *fakeTree { return newFakeV1(t, jointOnly) }},
	{"v2", func(t testing.TB) *fakeTree { return newFakeV2(t) }},
}

func TestOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		root     func(t *testing.T) string
		want     Version
		wantErr  string
		wantDirs map[string]string
	}{
		{"v1 separate", func(t *testing.T) string { return newFakeV1(t, separate).root }, V1, "",
			map[string]string{CPU: "cpu", CPUAcct: "cpuacct", CPUSet: "cpuset", Memory: "memory"}},
		{"v1 joint with symlinks", func(t *testing.T) string { return newFakeV1(t, jointLinks).root }, V1, "",
			map[string]string{CPU: "cpu", CPUAcct: "cpuacct", CPUSet: "cpuset", Memory: "memory"}},
		{"v1 joint only", func(t *testing.T) string { return newFakeV1(t, jointOnly).root }, V1, "",
			map[string]string{CPU: "cpu,cpuacct", CPUAcct: "cpu,cpuacct", CPUSet: "cpuset", Memory: "memory"}},
		{"v1 reversed joint name", func(t *testing.T) string { return newFakeV1Only(t, "cpuacct,cpu", "memory") }, V1, "",
			map[string]string{CPU: "cpuacct,cpu", CPUAcct: "cpuacct,cpu", Memory: "memory"}},
		{"v1 memory only", func(t *testing.T) string { return newFakeV1Only(t, "memory") }, V1, "",
			map[string]string{Memory: "memory"}},
		{"v2", func(t *testing.T) string { return newFakeV2(t).root }, V2, "", nil},
		{"hybrid counts as v1", func(t *testing.T) string {
			root := newFakeV1Only(t, "cpu", "cpuacct", "unified")
			if err := os.WriteFile(filepath.Join(root, "unified/cgroup.controllers"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return root
		}, V1, "", map[string]string{CPU: "cpu", CPUAcct: "cpuacct"}},
		{"empty dir", func(t *testing.T) string { return t.TempDir() }, 0, "neither cgroup v2", nil},
		{"missing root", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, 0, "neither cgroup v2", nil},
		{"controller names as files", func(t *testing.T) string {
			root := t.TempDir()
			if err := os.WriteFile(filepath.Join(root, "cpu"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return root
		}, 0, "neither cgroup v2", nil},
		{"empty root string", func(*testing.T) string { return "" }, 0, "empty root", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := Open(tt.root(t))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Open error = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if f.Version() != tt.want {
				t.Errorf("Version = %d, want %d", f.Version(), tt.want)
			}
			if tt.wantDirs != nil && !mapsEqual(f.dirs, tt.wantDirs) {
				t.Errorf("dirs = %v, want %v", f.dirs, tt.wantDirs)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestPath(t *testing.T) {
	t.Parallel()
	v1 := &FS{root: "/r", version: V1, dirs: map[string]string{CPU: "cpu,cpuacct", CPUAcct: "cpu,cpuacct", Memory: "memory"}}
	v2 := &FS{root: "/r", version: V2}
	tests := []struct {
		name string
		f    *FS
		ctrl string
		grp  string
		want string
	}{
		{"v1 joint cpu", v1, CPU, "kubepods/besteffort", "/r/cpu,cpuacct/kubepods/besteffort"},
		{"v1 joint cpuacct", v1, CPUAcct, "kubepods", "/r/cpu,cpuacct/kubepods"},
		{"v1 memory root", v1, Memory, "", "/r/memory"},
		{"v1 unmounted", v1, CPUSet, "a", "/r/cpuset/a"},
		{"v2 ignores controller", v2, Memory, "kubepods.slice", "/r/kubepods.slice"},
		{"v2 root", v2, CPU, "", "/r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.f.Path(tt.ctrl, tt.grp); got != tt.want {
				t.Errorf("Path(%q, %q) = %q, want %q", tt.ctrl, tt.grp, got, tt.want)
			}
		})
	}
}

func TestCPUUsageNanos(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		v1, v2  string // file content per version; "" = leave the default
		remove  bool
		want    uint64
		wantErr string
	}{
		{name: "counter", v1: "123456789\n", v2: "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n", want: 123456789},
		{name: "zero is a real zero", v1: "0\n", v2: "usage_usec 0\n", want: 0},
		{name: "garbage", v1: "abc\n", v2: "usage_usec abc\n", wantErr: "parse"},
		{name: "empty file", v1: "\x00", v2: "\n", wantErr: "parse"},
		{name: "v2 without usage_usec", v1: "-1\n", v2: "user_usec 5\n", wantErr: "parse"},
		{name: "missing file", remove: true, wantErr: "no such file"},
	}
	for _, sh := range shapes {
		for _, tt := range tests {
			t.Run(sh.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				ft := sh.new(t)
				ft.addGroup("kubepods")
				ctrl, file, content := CPUAcct, "cpuacct.usage", tt.v1
				want := tt.want
				if ft.version == V2 {
					ctrl, file, content = CPU, "cpu.stat", tt.v2
					want = tt.want / 1000 * 1000
					if tt.name == "counter" {
						want = 123456000
					}
				}
				if tt.remove {
					if err := os.Remove(filepath.Join(ft.root, ft.rel(ctrl, "kubepods", file))); err != nil {
						t.Fatal(err)
					}
				} else {
					ft.set(ctrl, "kubepods", file, content)
				}
				got, err := ft.open().CPUUsageNanos("kubepods")
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("CPUUsageNanos = %d, %v; want error containing %q", got, err, tt.wantErr)
					}
					if tt.remove && !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("error %v is not fs.ErrNotExist", err)
					}
					return
				}
				if err != nil || got != want {
					t.Fatalf("CPUUsageNanos = %d, %v; want %d", got, err, want)
				}
			})
		}
	}
}

func TestCPUStat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   map[string]string // "cpu.stat", "cpuacct.usage"
		want    CPUStat
		wantErr string
		version Version
	}{
		{
			name:    "v1 throttled",
			version: V1,
			files: map[string]string{
				"cpu.stat":      "nr_periods 120\nnr_throttled 30\nthrottled_time 4500000000\nnr_bursts 0\nburst_time 0\n",
				"cpuacct.usage": "987654321\n",
			},
			want: CPUStat{UsageNanos: 987654321, Periods: 120, Throttled: 30, ThrottledNanos: 4500000000},
		},
		{
			name:    "v1 old kernel without bursts",
			version: V1,
			files:   map[string]string{"cpu.stat": "nr_periods 1\nnr_throttled 0\nthrottled_time 0\n", "cpuacct.usage": "5\n"},
			want:    CPUStat{UsageNanos: 5, Periods: 1},
		},
		{
			name:    "v1 garbage cpu.stat",
			version: V1,
			files:   map[string]string{"cpu.stat": "nr_periods x\n"},
			wantErr: "not an unsigned number",
		},
		{
			name:    "v1 garbage cpuacct.usage",
			version: V1,
			files:   map[string]string{"cpuacct.usage": "-5\n"},
			wantErr: "not an unsigned number",
		},
		{
			name:    "v2 throttled",
			version: V2,
			files: map[string]string{
				"cpu.stat": "usage_usec 2000\nuser_usec 1500\nsystem_usec 500\nnr_periods 40\nnr_throttled 7\nthrottled_usec 3000\nnr_bursts 0\nburst_usec 0\n",
			},
			want: CPUStat{UsageNanos: 2000000, Periods: 40, Throttled: 7, ThrottledNanos: 3000000},
		},
		{
			name:    "v2 without cpu controller",
			version: V2,
			files:   map[string]string{"cpu.stat": "usage_usec 10\nuser_usec 5\nsystem_usec 5\n"},
			want:    CPUStat{UsageNanos: 10000},
		},
		{
			name:    "v2 unknown keys only",
			version: V2,
			files:   map[string]string{"cpu.stat": "foo 1\n"},
			wantErr: "neither usage_usec nor nr_periods",
		},
		{
			name:    "v2 binary junk",
			version: V2,
			files:   map[string]string{"cpu.stat": "\x00\x01\x02"},
			wantErr: "want \"key value\"",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ft *fakeTree
			if tt.version == V1 {
				ft = newFakeV1(t, separate)
			} else {
				ft = newFakeV2(t)
			}
			ft.addGroup("g")
			for file, content := range tt.files {
				ctrl := CPU
				if file == "cpuacct.usage" {
					ctrl = CPUAcct
				}
				ft.set(ctrl, "g", file, content)
			}
			got, err := ft.open().CPUStat("g")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("CPUStat = %+v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CPUStat = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestMemoryStat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version Version
		usage   string
		stat    string
		limit   string
		want    MemoryStat
		wantErr string
	}{
		{
			name: "v1 hierarchical total", version: V1,
			usage: "1000000\n", stat: "cache 500\ninactive_file 100\ntotal_cache 900\ntotal_inactive_file 300000\n", limit: "2097152\n",
			want: MemoryStat{UsageBytes: 1000000, InactiveFileBytes: 300000, WorkingSetBytes: 700000, LimitBytes: 2097152},
		},
		{
			name: "v1 falls back to inactive_file", version: V1,
			usage: "1000\n", stat: "cache 500\ninactive_file 100\n", limit: v1Unlimited,
			want: MemoryStat{UsageBytes: 1000, InactiveFileBytes: 100, WorkingSetBytes: 900, LimitBytes: Unlimited},
		},
		{
			name: "v1 unlimited with 64 KiB pages", version: V1,
			usage: "1000\n", stat: "total_inactive_file 0\n", limit: "9223372036854710272\n",
			want: MemoryStat{UsageBytes: 1000, WorkingSetBytes: 1000, LimitBytes: Unlimited},
		},
		{
			name: "working set floored at zero", version: V1,
			usage: "100\n", stat: "total_inactive_file 4096\n", limit: "8192\n",
			want: MemoryStat{UsageBytes: 100, InactiveFileBytes: 4096, WorkingSetBytes: 0, LimitBytes: 8192},
		},
		{
			name: "v1 no inactive file", version: V1,
			usage: "100\n", stat: "cache 5\n", limit: "8192\n", wantErr: "no inactive_file",
		},
		{
			name: "v1 garbage usage", version: V1,
			usage: "lots\n", stat: "total_inactive_file 1\n", limit: "8192\n", wantErr: "not an unsigned number",
		},
		{
			name: "v1 garbage limit", version: V1,
			usage: "1\n", stat: "total_inactive_file 1\n", limit: "-2\n", wantErr: "neither a limit nor max",
		},
		{
			name: "v2", version: V2,
			usage: "5000000\n", stat: "anon 100\nfile 200\ninactive_file 1000000\nactive_file 5\n", limit: "8000000\n",
			want: MemoryStat{UsageBytes: 5000000, InactiveFileBytes: 1000000, WorkingSetBytes: 4000000, LimitBytes: 8000000},
		},
		{
			name: "v2 max", version: V2,
			usage: "5\n", stat: "inactive_file 1\n", limit: "max\n",
			want: MemoryStat{UsageBytes: 5, InactiveFileBytes: 1, WorkingSetBytes: 4, LimitBytes: Unlimited},
		},
		{
			name: "v2 garbage stat", version: V2,
			usage: "5\n", stat: "inactive_file\n", limit: "max\n", wantErr: "want \"key value\"",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ft *fakeTree
			usageFile, limitFile := "memory.usage_in_bytes", "memory.limit_in_bytes"
			if tt.version == V1 {
				ft = newFakeV1(t, separate)
			} else {
				ft = newFakeV2(t)
				usageFile, limitFile = "memory.current", "memory.max"
			}
			ft.addGroup("g")
			ft.set(Memory, "g", usageFile, tt.usage)
			ft.set(Memory, "g", "memory.stat", tt.stat)
			ft.set(Memory, "g", limitFile, tt.limit)
			got, err := ft.open().MemoryStat("g")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("MemoryStat = %+v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("MemoryStat = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestMemoryStatMissingController(t *testing.T) {
	t.Parallel()
	f, err := Open(newFakeV1Only(t, "cpu", "cpuacct"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.MemoryStat("")
	if !errors.Is(err, ErrNotSupported) {
		t.Fatalf("MemoryStat without memory mount: err = %v, want ErrNotSupported", err)
	}
}

func TestPressure(t *testing.T) {
	t.Parallel()
	const cpuPSI = "some avg10=1.50 avg60=0.25 avg300=0.00 total=123456\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n"
	tests := []struct {
		name     string
		ft       func(testing.TB) *fakeTree
		resource string
		content  string // "" keeps the default; "-" removes the file
		want     PSI
		wantErr  error
		wantMsg  string
	}{
		{name: "v2 cpu", ft: func(t testing.TB) *fakeTree { return newFakeV2(t) }, resource: "cpu", content: cpuPSI,
			want: PSI{Some: PSILine{Avg10: 1.5, Avg60: 0.25, Total: 123456000}, Full: PSILine{Total: 7000}}},
		{name: "v2 memory default", ft: func(t testing.TB) *fakeTree { return newFakeV2(t) }, resource: "memory"},
		{name: "v2 no psi in kernel", ft: func(t testing.TB) *fakeTree { return newFakeV2(t) }, resource: "io", content: "-", wantErr: ErrNotSupported},
		{name: "v2 garbage", ft: func(t testing.TB) *fakeTree { return newFakeV2(t) }, resource: "cpu", content: "some avg10=x\n", wantMsg: "psi:"},
		{name: "v2 unknown resource", ft: func(t testing.TB) *fakeTree { return newFakeV2(t) }, resource: "net", wantMsg: "unknown resource"},
		{name: "v1", ft: func(t testing.TB) *fakeTree { return newFakeV1(t, separate) }, resource: "cpu", wantErr: ErrNotSupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ft := tt.ft(t)
			ft.addGroup("g")
			switch tt.content {
			case "":
			case "-":
				if err := os.Remove(filepath.Join(ft.root, ft.rel(CPU, "g", tt.resource+".pressure"))); err != nil {
					t.Fatal(err)
				}
			default:
				ft.set(CPU, "g", tt.resource+".pressure", tt.content)
			}
			got, err := ft.open().Pressure("g", tt.resource)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Pressure err = %v, want %v", err, tt.wantErr)
				}
			case tt.wantMsg != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("Pressure err = %v, want containing %q", err, tt.wantMsg)
				}
			default:
				if err != nil || got != tt.want {
					t.Fatalf("Pressure = %+v, %v; want %+v", got, err, tt.want)
				}
			}
		})
	}
}

func TestChildrenProcsExists(t *testing.T) {
	t.Parallel()
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			ft := sh.new(t)
			for _, g := range []string{"kubepods", "kubepods/burstable", "kubepods/besteffort", "kubepods/besteffort/pod2", "kubepods/besteffort/pod1", "kubepods/pod3"} {
				ft.addGroup(g)
			}
			ft.set(CPU, "kubepods", "cgroup.procs", "10\n")
			ft.set(CPU, "kubepods/besteffort", "cgroup.procs", "")
			ft.set(CPU, "kubepods/besteffort/pod1", "cgroup.procs", "30\n20\n")
			ft.set(CPU, "kubepods/besteffort/pod2", "cgroup.procs", "40\n0\n")
			ft.set(CPU, "kubepods/pod3", "cgroup.procs", "50\n")
			f := ft.open()

			kids, err := f.Children("kubepods/besteffort")
			if err != nil || !slices.Equal(kids, []string{"pod1", "pod2"}) {
				t.Errorf("Children = %v, %v; want [pod1 pod2]", kids, err)
			}
			kids, err = f.Children("kubepods")
			if err != nil || !slices.Equal(kids, []string{"besteffort", "burstable", "pod3"}) {
				t.Errorf("Children(kubepods) = %v, %v", kids, err)
			}
			if kids, err := f.Children("kubepods/besteffort/pod1"); err != nil || len(kids) != 0 {
				t.Errorf("Children(leaf) = %v, %v; want none", kids, err)
			}
			if _, err := f.Children("nope"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Children(nope) err = %v, want not exist", err)
			}
			if _, err := f.Children("../etc"); err == nil {
				t.Errorf("Children(../etc) succeeded")
			}

			pids, err := f.Procs("kubepods", false)
			if err != nil || !slices.Equal(pids, []int{10}) {
				t.Errorf("Procs(kubepods) = %v, %v; want [10]", pids, err)
			}
			pids, err = f.Procs("kubepods", true)
			if err != nil || !slices.Equal(pids, []int{10, 20, 30, 40, 50}) {
				t.Errorf("Procs(kubepods, recursive) = %v, %v", pids, err)
			}
			pids, err = f.Procs("kubepods/besteffort", true)
			if err != nil || !slices.Equal(pids, []int{20, 30, 40}) {
				t.Errorf("Procs(besteffort, recursive) = %v, %v", pids, err)
			}
			if _, err := f.Procs("nope", true); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Procs(nope) err = %v, want not exist", err)
			}
			ft.set(CPU, "kubepods/pod3", "cgroup.procs", "12x\n")
			if _, err := f.Procs("kubepods", true); err == nil || !strings.Contains(err.Error(), "not a pid") {
				t.Errorf("Procs with garbage err = %v", err)
			}

			for g, want := range map[string]bool{"": true, "kubepods": true, "kubepods/besteffort/pod1": true, "kubepods.slice": false, "../x": false} {
				if got := f.Exists(g); got != want {
					t.Errorf("Exists(%q) = %v, want %v", g, got, want)
				}
			}
		})
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version Version
		files   map[string]string // controller/file → content
		want    Limits
		wantErr string
	}{
		{
			name: "v1 defaults", version: V1,
			files: map[string]string{"cpuset/cpuset.cpus": "0-3\n"},
			want:  Limits{CPUQuotaMicros: Unlimited, CPUPeriodMicros: 100000, CPUWeight: 40, CPUs: []int{0, 1, 2, 3}, MemoryLimitBytes: Unlimited},
		},
		{
			name: "v1 big box", version: V1,
			files: map[string]string{
				"cpu/cpu.cfs_quota_us": "150000\n", "cpu/cpu.cfs_period_us": "100000\n", "cpu/cpu.shares": "2\n",
				"cpuset/cpuset.cpus": "1,3\n", "memory/memory.limit_in_bytes": "1073741824\n",
			},
			want: Limits{CPUQuotaMicros: 150000, CPUPeriodMicros: 100000, CPUWeight: 1, CPUs: []int{1, 3}, MemoryLimitBytes: 1 << 30},
		},
		{
			name: "v1 bad cpuset", version: V1,
			files:   map[string]string{"cpuset/cpuset.cpus": "0-\n"},
			wantErr: "not a CPU id",
		},
		{
			name: "v2 defaults", version: V2,
			want: Limits{CPUQuotaMicros: Unlimited, CPUPeriodMicros: 100000, CPUWeight: 100, MemoryLimitBytes: Unlimited},
		},
		{
			name: "v2 big box", version: V2,
			files: map[string]string{
				"cpu/cpu.max": "50000 100000\n", "cpu/cpu.weight": "1\n", "cpuset/cpuset.cpus": "2-3\n", "memory/memory.max": "536870912\n",
			},
			want: Limits{CPUQuotaMicros: 50000, CPUPeriodMicros: 100000, CPUWeight: 1, CPUs: []int{2, 3}, MemoryLimitBytes: 512 << 20},
		},
		{
			name: "v2 bad cpu.max", version: V2,
			files:   map[string]string{"cpu/cpu.max": "50000\n"},
			wantErr: "cpu.max",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ft *fakeTree
			if tt.version == V1 {
				ft = newFakeV1(t, separate)
			} else {
				ft = newFakeV2(t)
			}
			ft.addGroup("g")
			for k, v := range tt.files {
				ctrl, file, _ := strings.Cut(k, "/")
				ft.set(ctrl, "g", file, v)
			}
			got, err := ft.open().Limits("g")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Limits = %+v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !limitsEqual(got, tt.want) {
				t.Fatalf("Limits = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func limitsEqual(a, b Limits) bool {
	return a.CPUQuotaMicros == b.CPUQuotaMicros && a.CPUPeriodMicros == b.CPUPeriodMicros &&
		a.CPUWeight == b.CPUWeight && slices.Equal(a.CPUs, b.CPUs) && a.MemoryLimitBytes == b.MemoryLimitBytes
}

func TestSetCPUQuota(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		quota, period int64
		wantV1Quota   string
		wantV1Period  string
		wantV2        string
		wantErr       string
	}{
		{name: "150 ms per 100 ms", quota: 150000, period: 100000, wantV1Quota: "150000", wantV1Period: "100000", wantV2: "150000 100000"},
		{name: "10 ms per 100 ms", quota: 10000, period: 100000, wantV1Quota: "10000", wantV1Period: "100000", wantV2: "10000 100000"},
		{name: "unlimited", quota: Unlimited, period: 100000, wantV1Quota: "-1", wantV1Period: "100000", wantV2: "max 100000"},
		{name: "short period", quota: 5000, period: 10000, wantV1Quota: "5000", wantV1Period: "10000", wantV2: "5000 10000"},
		{name: "quota below 1 ms", quota: 999, period: 100000, wantErr: "below"},
		{name: "negative quota", quota: -2, period: 100000, wantErr: "below"},
		{name: "zero quota", quota: 0, period: 100000, wantErr: "below"},
		{name: "period too short", quota: 10000, period: 999, wantErr: "out of range"},
		{name: "period too long", quota: 10000, period: 1000001, wantErr: "out of range"},
	}
	for _, sh := range shapes {
		for _, tt := range tests {
			t.Run(sh.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				ft := sh.new(t)
				ft.addGroup("g")
				f := ft.open()
				err := f.SetCPUQuota("g", tt.quota, tt.period)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("SetCPUQuota err = %v, want containing %q", err, tt.wantErr)
					}
					// Nothing was written.
					if ft.version == V1 && ft.get(CPU, "g", "cpu.cfs_quota_us") != "-1\n" {
						t.Errorf("rejected value was written")
					}
					return
				}
				if err != nil {
					t.Fatalf("SetCPUQuota: %v", err)
				}
				if ft.version == V1 {
					if got := ft.get(CPU, "g", "cpu.cfs_quota_us"); got != tt.wantV1Quota {
						t.Errorf("cfs_quota_us = %q, want %q", got, tt.wantV1Quota)
					}
					if got := ft.get(CPU, "g", "cpu.cfs_period_us"); got != tt.wantV1Period {
						t.Errorf("cfs_period_us = %q, want %q", got, tt.wantV1Period)
					}
				} else if got := ft.get(CPU, "g", "cpu.max"); got != tt.wantV2 {
					t.Errorf("cpu.max = %q, want %q", got, tt.wantV2)
				}
				l, err := f.Limits("g")
				if err != nil || l.CPUQuotaMicros != tt.quota || l.CPUPeriodMicros != tt.period {
					t.Errorf("read back %+v, %v; want quota %d period %d", l, err, tt.quota, tt.period)
				}
			})
		}
	}
}

// TestSetCPUQuotaV1Order shows that the period is written before the quota:
// with the quota file unwritable, the period has changed and the error names
// the quota file.
func TestSetCPUQuotaV1Order(t *testing.T) {
	t.Parallel()
	ft := newFakeV1(t, separate)
	ft.addGroup("g")
	quota := filepath.Join(ft.root, ft.rel(CPU, "g", "cpu.cfs_quota_us"))
	if err := os.Remove(quota); err != nil {
		t.Fatal(err)
	}
	err := ft.open().SetCPUQuota("g", 20000, 50000)
	if err == nil || !strings.Contains(err.Error(), "write "+quota+":") || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want a wrapped not-exist naming %s", err, quota)
	}
	if got := ft.get(CPU, "g", "cpu.cfs_period_us"); got != "50000" {
		t.Errorf("period = %q, want it written first", got)
	}
}

func TestSetCPUWeight(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		weight     uint64
		wantShares string
		wantErr    string
	}{
		{name: "minimum", weight: 1, wantShares: "2"},
		{name: "default v2", weight: 100, wantShares: "2597"},
		{name: "kubelet default shares", weight: 40, wantShares: "1024"},
		{name: "maximum", weight: 10000, wantShares: "262144"},
		{name: "zero", weight: 0, wantErr: "out of range"},
		{name: "above max", weight: 10001, wantErr: "out of range"},
	}
	for _, sh := range shapes {
		for _, tt := range tests {
			t.Run(sh.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				ft := sh.new(t)
				ft.addGroup("g")
				f := ft.open()
				err := f.SetCPUWeight("g", tt.weight)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if ft.version == V1 {
					if got := ft.get(CPU, "g", "cpu.shares"); got != tt.wantShares {
						t.Errorf("cpu.shares = %q, want %q", got, tt.wantShares)
					}
				} else if got := ft.get(CPU, "g", "cpu.weight"); got != formatInt(int64(tt.weight)) {
					t.Errorf("cpu.weight = %q, want %d", got, tt.weight)
				}
				if l, err := f.Limits("g"); err != nil || l.CPUWeight != tt.weight {
					t.Errorf("read back weight %d, %v; want %d", l.CPUWeight, err, tt.weight)
				}
			})
		}
	}
}

func TestCPUShares(t *testing.T) {
	t.Parallel()
	ft := newFakeV1(t, separate)
	ft.addGroup("g")
	f := ft.open()
	if err := f.SetCPUShares("g", 1000); err != nil {
		t.Fatal(err)
	}
	if got, err := f.CPUShares("g"); err != nil || got != 1000 {
		t.Errorf("CPUShares = %d, %v; want 1000", got, err)
	}
	for _, bad := range []uint64{0, 1, 262145} {
		if err := f.SetCPUShares("g", bad); err == nil {
			t.Errorf("SetCPUShares(%d) succeeded", bad)
		}
	}
	v2 := newFakeV2(t).open()
	if _, err := v2.CPUShares(""); !errors.Is(err, ErrNotSupported) {
		t.Errorf("v2 CPUShares err = %v", err)
	}
	if err := v2.SetCPUShares("", 2); !errors.Is(err, ErrNotSupported) {
		t.Errorf("v2 SetCPUShares err = %v", err)
	}
}

func TestWeightSharesMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		shares uint64
		weight uint64
	}{
		{"min", 2, 1},
		{"kubelet default", 1024, 40},
		{"max", 262144, 10000},
		{"below min clamps", 0, 1},
		{"above max clamps", 1 << 20, 10000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := SharesToWeight(tt.shares); got != tt.weight {
				t.Errorf("SharesToWeight(%d) = %d, want %d", tt.shares, got, tt.weight)
			}
		})
	}
	t.Run("every weight round-trips", func(t *testing.T) {
		t.Parallel()
		for w := MinCPUWeight; w <= MaxCPUWeight; w++ {
			s, err := WeightToShares(w)
			if err != nil {
				t.Fatal(err)
			}
			if s < MinCPUShares || s > MaxCPUShares {
				t.Fatalf("WeightToShares(%d) = %d out of range", w, s)
			}
			if back := SharesToWeight(s); back != w {
				t.Fatalf("weight %d → shares %d → weight %d", w, s, back)
			}
		}
	})
}

func TestSetCPUs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		version  Version
		parent   map[string]string // parent ("kubepods") cpuset files
		child    map[string]string // group files before
		cpus     []int
		wantCPUs string
		wantMems string
		wantErr  string
	}{
		{
			name: "v1 fills empty mems from parent", version: V1,
			parent: map[string]string{"cpuset.cpus": "0-3\n", "cpuset.mems": "0-1\n", "cpuset.effective_cpus": "0-3\n"},
			cpus:   []int{3, 1}, wantCPUs: "1,3", wantMems: "0-1",
		},
		{
			name: "v1 keeps set mems", version: V1,
			parent: map[string]string{"cpuset.cpus": "0-3\n", "cpuset.mems": "0-1\n"},
			child:  map[string]string{"cpuset.mems": "1\n"},
			cpus:   []int{0, 1, 2}, wantCPUs: "0-2", wantMems: "1\n",
		},
		{
			name: "v1 empty means parent effective", version: V1,
			parent: map[string]string{"cpuset.cpus": "0-3\n", "cpuset.mems": "0\n", "cpuset.effective_cpus": "0-2\n"},
			cpus:   nil, wantCPUs: "0-2", wantMems: "0",
		},
		{
			name: "v1 parent mems empty too", version: V1,
			parent: map[string]string{"cpuset.mems": "\n"},
			cpus:   []int{0}, wantErr: "parent's is empty",
		},
		{
			name: "negative cpu", version: V1,
			cpus: []int{-1}, wantErr: "out of range",
		},
		{
			name: "v2 list", version: V2,
			cpus: []int{2, 3, 0}, wantCPUs: "0,2-3", wantMems: "\n",
		},
		{
			name: "v2 empty inherits", version: V2,
			child: map[string]string{"cpuset.cpus": "1\n"},
			cpus:  []int{}, wantCPUs: "\n", wantMems: "\n",
		},
		{
			name: "v2 huge cpu", version: V2,
			cpus: []int{1 << 20}, wantErr: "out of range",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ft *fakeTree
			if tt.version == V1 {
				ft = newFakeV1(t, separate)
			} else {
				ft = newFakeV2(t)
			}
			ft.addGroup("kubepods")
			ft.addGroup("kubepods/besteffort")
			for k, v := range tt.parent {
				ft.set(CPUSet, "kubepods", k, v)
			}
			for k, v := range tt.child {
				ft.set(CPUSet, "kubepods/besteffort", k, v)
			}
			f := ft.open()
			err := f.SetCPUs("kubepods/besteffort", tt.cpus)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ft.get(CPUSet, "kubepods/besteffort", "cpuset.cpus"); got != tt.wantCPUs {
				t.Errorf("cpuset.cpus = %q, want %q", got, tt.wantCPUs)
			}
			if got := ft.get(CPUSet, "kubepods/besteffort", "cpuset.mems"); got != tt.wantMems {
				t.Errorf("cpuset.mems = %q, want %q", got, tt.wantMems)
			}
		})
	}
}

func TestSetMemoryLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		version   Version
		limit     string // current memory.limit_in_bytes
		memsw     string // current memsw; "-" removes the file
		set       int64
		wantLimit string
		wantMemsw string
		wantErr   string
	}{
		{name: "v1 no swap accounting", version: V1, limit: v1Unlimited, memsw: "-", set: 1 << 30, wantLimit: "1073741824"},
		{name: "v1 memsw unlimited", version: V1, limit: v1Unlimited, memsw: v1Unlimited, set: 1 << 30, wantLimit: "1073741824", wantMemsw: v1Unlimited},
		{name: "v1 unlimited", version: V1, limit: "4096\n", memsw: v1Unlimited, set: Unlimited, wantLimit: "-1", wantMemsw: v1Unlimited},
		{name: "v1 memsw grow keeps swap allowance", version: V1, limit: "1000000\n", memsw: "1500000\n", set: 3000000, wantLimit: "3000000", wantMemsw: "3500000"},
		{name: "v1 memsw shrink keeps swap allowance", version: V1, limit: "3000000\n", memsw: "3000000\n", set: 1000000, wantLimit: "1000000", wantMemsw: "1000000"},
		{name: "v1 memsw lifted with limit", version: V1, limit: "1000000\n", memsw: "1000000\n", set: Unlimited, wantLimit: "-1", wantMemsw: "-1"},
		{name: "v1 garbage memsw", version: V1, limit: "1000000\n", memsw: "x\n", set: 5, wantErr: "neither a limit nor max"},
		{name: "negative", version: V1, limit: v1Unlimited, memsw: v1Unlimited, set: -2, wantErr: "out of range"},
		{name: "2^62 is ambiguous", version: V1, limit: v1Unlimited, memsw: v1Unlimited, set: 1 << 62, wantErr: "out of range"},
		{name: "v2 bytes", version: V2, set: 512 << 20, wantLimit: "536870912"},
		{name: "v2 max", version: V2, set: Unlimited, wantLimit: "max"},
		{name: "v2 negative", version: V2, set: -100, wantErr: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ft *fakeTree
			limitFile := "memory.limit_in_bytes"
			if tt.version == V1 {
				ft = newFakeV1(t, separate)
			} else {
				ft = newFakeV2(t)
				limitFile = "memory.max"
			}
			ft.addGroup("g")
			if tt.version == V1 {
				ft.set(Memory, "g", "memory.limit_in_bytes", tt.limit)
				if tt.memsw == "-" {
					if err := os.Remove(filepath.Join(ft.root, ft.rel(Memory, "g", "memory.memsw.limit_in_bytes"))); err != nil {
						t.Fatal(err)
					}
				} else {
					ft.set(Memory, "g", "memory.memsw.limit_in_bytes", tt.memsw)
				}
			}
			err := ft.open().SetMemoryLimit("g", tt.set)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ft.get(Memory, "g", limitFile); got != tt.wantLimit {
				t.Errorf("%s = %q, want %q", limitFile, got, tt.wantLimit)
			}
			if tt.wantMemsw != "" {
				if got := ft.get(Memory, "g", "memory.memsw.limit_in_bytes"); got != tt.wantMemsw {
					t.Errorf("memsw = %q, want %q", got, tt.wantMemsw)
				}
			}
		})
	}
}

// TestMemswWrites replays the ordered writes against the kernel's rule
// (memory.limit_in_bytes ≤ memory.memsw.limit_in_bytes after every write).
func TestMemswWrites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		cur, memsw, next    int64
		wantLimit, wantSwap int64
		wantFirst           string
	}{
		{"grow", 100, 150, 300, 300, 350, "memory.memsw.limit_in_bytes"},
		{"grow without allowance", 100, 100, 300, 300, 300, "memory.memsw.limit_in_bytes"},
		{"shrink", 300, 350, 100, 100, 150, "memory.limit_in_bytes"},
		{"same", 300, 300, 300, 300, 300, "memory.limit_in_bytes"},
		{"lift", 300, 350, Unlimited, Unlimited, Unlimited, "memory.memsw.limit_in_bytes"},
		{"allowance overflows to unlimited", 100, 1 << 61, 1<<62 - 1, 1<<62 - 1, Unlimited, "memory.memsw.limit_in_bytes"},
	}
	le := func(a, b int64) bool { // a ≤ b with Unlimited as +∞
		return b == Unlimited || (a != Unlimited && a <= b)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			writes := memswWrites(tt.cur, tt.memsw, tt.next)
			if len(writes) != 2 || writes[0].file != tt.wantFirst {
				t.Fatalf("writes = %+v, want %s first", writes, tt.wantFirst)
			}
			limit, memsw := tt.cur, tt.memsw
			for _, w := range writes {
				if w.file == "memory.limit_in_bytes" {
					limit = w.value
				} else {
					memsw = w.value
				}
				if !le(limit, memsw) {
					t.Fatalf("after %s=%d: limit %d > memsw %d, the kernel rejects this", w.file, w.value, limit, memsw)
				}
			}
			if limit != tt.wantLimit || memsw != tt.wantSwap {
				t.Errorf("final limit %d memsw %d, want %d %d", limit, memsw, tt.wantLimit, tt.wantSwap)
			}
		})
	}
}

func TestWriteErrorsWrapPath(t *testing.T) {
	t.Parallel()
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			f := sh.new(t).open()
			err := f.SetMemoryLimit("missing", 1<<20)
			if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "write "+f.Path(Memory, "missing")) &&
				!strings.HasPrefix(err.Error(), "read "+f.Path(Memory, "missing")) {
				t.Errorf("err = %v, want a path-wrapped not-exist", err)
			}
			if err := f.SetCPUWeight("../escape", 10); err == nil {
				t.Errorf("group with .. accepted")
			}
		})
	}
}

func TestCreateRemoveAddProc(t *testing.T) {
	t.Parallel()
	t.Run("v1 without cpuset", func(t *testing.T) {
		t.Parallel()
		// Fresh kernel groups get control files the fake cannot make, so
		// Create's cpuset initialisation is covered by the real test.
		root := newFakeV1Only(t, "cpu,cpuacct", "memory")
		if err := os.Symlink("cpu,cpuacct", filepath.Join(root, "cpuacct")); err != nil {
			t.Fatal(err)
		}
		f, err := Open(root)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.hierarchies(); !slices.Equal(got, []string{CPU, Memory}) {
			t.Fatalf("hierarchies = %v, want cpu and memory once each", got)
		}
		if err := f.Create("demo/kubepods/besteffort"); err != nil {
			t.Fatal(err)
		}
		for _, dir := range []string{"cpu,cpuacct", "memory"} {
			if !isDir(filepath.Join(root, dir, "demo/kubepods/besteffort")) {
				t.Errorf("%s/demo/kubepods/besteffort not created", dir)
			}
		}
		if err := f.Create("demo/kubepods/besteffort"); err != nil {
			t.Errorf("Create again: %v", err)
		}
		for _, dir := range []string{"cpu,cpuacct", "memory"} {
			if err := os.WriteFile(filepath.Join(root, dir, "demo/kubepods/besteffort/cgroup.procs"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.AddProc("demo/kubepods/besteffort", 4242); err != nil {
			t.Fatal(err)
		}
		for _, dir := range []string{"cpu,cpuacct", "memory"} {
			b, err := os.ReadFile(filepath.Join(root, dir, "demo/kubepods/besteffort/cgroup.procs"))
			if err != nil || string(b) != "4242" {
				t.Errorf("%s cgroup.procs = %q, %v", dir, b, err)
			}
			if err := os.Remove(filepath.Join(root, dir, "demo/kubepods/besteffort/cgroup.procs")); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.AddProc("demo", 0); err == nil {
			t.Errorf("AddProc pid 0 accepted")
		}
		if err := f.Remove("demo"); err != nil {
			t.Fatal(err)
		}
		for _, dir := range []string{"cpu,cpuacct", "memory"} {
			if _, err := os.Stat(filepath.Join(root, dir, "demo")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s/demo still there: %v", dir, err)
			}
		}
		if err := f.Remove("demo"); err != nil {
			t.Errorf("Remove of a missing group: %v", err)
		}
		if err := f.Remove(""); err == nil {
			t.Errorf("Remove of the root accepted")
		}
	})
	t.Run("v2 enables controllers", func(t *testing.T) {
		t.Parallel()
		ft := newFakeV2(t)
		ft.set(CPU, "", "cgroup.controllers", "cpuset cpu io memory hugetlb pids\n")
		ft.set(CPU, "", "cgroup.subtree_control", "cpu cpuset\n")
		f := ft.open()
		if err := f.Create("bigbox"); err != nil {
			t.Fatal(err)
		}
		if got := ft.get(CPU, "", "cgroup.subtree_control"); got != "+memory" {
			t.Errorf("subtree_control written %q, want only +memory", got)
		}
		if !f.Exists("bigbox") {
			t.Errorf("bigbox not created")
		}
		ft.set(CPU, "", "cgroup.subtree_control", "cpu cpuset memory\n")
		ft.set(CPU, "", "cgroup.controllers", "cpu cpuset memory\n")
		ft.addGroup("bigbox")
		ft.set(CPU, "bigbox", "cgroup.controllers", "hugetlb\n")
		ft.set(CPU, "bigbox", "cgroup.subtree_control", "\n")
		if err := f.Create("bigbox/child"); err != nil {
			t.Fatal(err)
		}
		if got := ft.get(CPU, "bigbox", "cgroup.subtree_control"); got != "\n" {
			t.Errorf("subtree_control of bigbox = %q, want untouched", got)
		}
		if err := f.Remove("bigbox/child"); err != nil {
			t.Fatal(err)
		}
		if f.Exists("bigbox/child") {
			t.Errorf("bigbox/child not removed")
		}
	})
}
