package host

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bigbox-dev/bigbox/pkg/qos"
)

func TestParseCPUList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []int
		wantErr bool
	}{
		{name: "range", in: "0-1\n", want: []int{0, 1}},
		{name: "single", in: "0", want: []int{0}},
		{name: "siblings with comma", in: "0,4\n", want: []int{0, 4}},
		{name: "mixed", in: "0-3,8,10-11\n", want: []int{0, 1, 2, 3, 8, 10, 11}},
		{name: "unsorted and overlapping", in: "4,0-2,1", want: []int{0, 1, 2, 4}},
		{name: "empty", in: "\n", want: []int{}},
		{name: "reversed range", in: "3-1", wantErr: true},
		{name: "open range", in: "0-", wantErr: true},
		{name: "negative", in: "-1", wantErr: true},
		{name: "trailing comma", in: "0,", wantErr: true},
		{name: "stride syntax is not kernel output", in: "0-7:2", wantErr: true},
		{name: "space inside", in: "0, 1", wantErr: true},
		{name: "id too large", in: "65536", wantErr: true},
		{name: "garbage", in: "abc", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseCPUList([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseCPUList(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if !tt.wantErr && !slices.Equal(got, tt.want) {
				t.Errorf("parseCPUList(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseCPUList(f *testing.F) {
	for _, s := range []string{"0-1\n", "0,4", "0-3,8,10-11", "", "3-1", "0-7:2", "65535"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		cpus, err := parseCPUList(in)
		if err != nil {
			return
		}
		if !slices.IsSorted(cpus) || len(slices.Compact(slices.Clone(cpus))) != len(cpus) {
			t.Fatalf("parseCPUList(%q) = %v, not sorted and unique", in, cpus)
		}
		// Round trip: the list written back one id at a time parses to
		// the same CPUs.
		parts := make([]string, len(cpus))
		for i, c := range cpus {
			if c < 0 || c >= maxCPUs {
				t.Fatalf("parseCPUList(%q) gave cpu %d", in, c)
			}
			parts[i] = strconv.Itoa(c)
		}
		again, err := parseCPUList([]byte(strings.Join(parts, ",")))
		if err != nil || !slices.Equal(again, cpus) {
			t.Fatalf("round trip of %v = %v, %v", cpus, again, err)
		}
	})
}

func TestReaderCapacity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		sys     map[string]string
		proc    map[string]string
		want    Capacity
		wantErr bool
	}{
		{
			name: "two cpus",
			sys:  map[string]string{"devices/system/cpu/online": "0-1\n"},
			proc: map[string]string{"meminfo": meminfoReal},
			want: Capacity{Cores: 2, CPUs: []int{0, 1}, MemoryBytes: 4015804 * 1024},
		},
		{
			name: "offline cpu not counted",
			sys:  sysTwoSocketHT(),
			proc: map[string]string{"meminfo": meminfoReal},
			want: Capacity{Cores: 7, CPUs: []int{0, 1, 2, 3, 4, 5, 6}, MemoryBytes: 4015804 * 1024},
		},
		{name: "no online file", proc: map[string]string{"meminfo": meminfoReal}, wantErr: true},
		{
			name:    "no cpu online",
			sys:     map[string]string{"devices/system/cpu/online": "\n"},
			proc:    map[string]string{"meminfo": meminfoReal},
			wantErr: true,
		},
		{name: "no meminfo", sys: map[string]string{"devices/system/cpu/online": "0\n"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, _, _ := newFakeReader(t, tt.proc, tt.sys)
			got, err := r.Capacity()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Capacity() error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if got.Cores != tt.want.Cores || got.MemoryBytes != tt.want.MemoryBytes || !slices.Equal(got.CPUs, tt.want.CPUs) {
				t.Errorf("Capacity() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReaderTopology(t *testing.T) {
	t.Parallel()
	// without drops the given per-CPU topology files.
	without := func(files map[string]string, names ...string) map[string]string {
		out := maps.Clone(files)
		for k := range out {
			for _, n := range names {
				if strings.HasSuffix(k, "/topology/"+n) {
					delete(out, k)
				}
			}
		}
		return out
	}
	with := func(files map[string]string, extra map[string]string) map[string]string {
		out := maps.Clone(files)
		maps.Copy(out, extra)
		return out
	}
	tests := []struct {
		name    string
		sys     map[string]string
		want    [][]int
		wantErr bool
	}{
		{
			name: "two sockets, siblings listed as 0,4, cpu7 offline",
			sys:  sysTwoSocketHT(),
			want: [][]int{{0, 4}, {1, 5}, {2, 6}, {3}},
		},
		{
			name: "siblings listed as 0-1",
			sys:  sysAdjacentHT(),
			want: [][]int{{0, 1}, {2, 3}},
		},
		{
			name: "no sibling lists: package and core id, core id repeating per socket",
			sys:  without(sysTwoSocketHT(), "thread_siblings_list"),
			want: [][]int{{0, 4}, {1, 5}, {2, 6}, {3}},
		},
		{
			name: "no topology files: one cpu per core",
			sys:  without(sysTwoSocketHT(), "thread_siblings_list", "core_id", "physical_package_id"),
			want: [][]int{{0}, {1}, {2}, {3}, {4}, {5}, {6}},
		},
		{
			name: "no hyper-threading",
			sys: func() map[string]string {
				files := map[string]string{"devices/system/cpu/online": "0-1\n"}
				cpuTopology(files, "0", "0", "0", "0")
				cpuTopology(files, "1", "0", "1", "1")
				return files
			}(),
			want: [][]int{{0}, {1}},
		},
		{
			name: "inconsistent sibling lists still give each cpu one core",
			sys: with(sysAdjacentHT(), map[string]string{
				"devices/system/cpu/cpu1/topology/thread_siblings_list": "1\n",
			}),
			want: [][]int{{0, 1}, {2, 3}},
		},
		{
			name: "malformed sibling list",
			sys: with(sysAdjacentHT(), map[string]string{
				"devices/system/cpu/cpu2/topology/thread_siblings_list": "2-x\n",
			}),
			wantErr: true,
		},
		{
			name: "malformed core id",
			sys: with(without(sysAdjacentHT(), "thread_siblings_list"), map[string]string{
				"devices/system/cpu/cpu0/topology/core_id": "zero\n",
			}),
			wantErr: true,
		},
		{name: "no online file", sys: map[string]string{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, _, _ := newFakeReader(t, nil, tt.sys)
			got, err := r.Topology()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Topology() error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if !slices.EqualFunc(got.Cores, tt.want, slices.Equal) {
				t.Errorf("Topology() = %v, want %v", got.Cores, tt.want)
			}
		})
	}
}

// checkTopology checks what qos.CPUSet relies on: every online CPU in
// exactly one core, cores sorted inside and by first CPU.
func checkTopology(t *testing.T, topo qos.Topology, online []int) {
	t.Helper()
	var all []int
	for i, core := range topo.Cores {
		if len(core) == 0 || !slices.IsSorted(core) {
			t.Errorf("core %d = %v, want a non-empty sorted list", i, core)
		}
		if i > 0 && len(core) > 0 && len(topo.Cores[i-1]) > 0 && topo.Cores[i-1][0] >= core[0] {
			t.Errorf("cores %v not sorted by first cpu", topo.Cores)
		}
		all = append(all, core...)
	}
	slices.Sort(all)
	if !slices.Equal(all, online) {
		t.Errorf("cores %v cover cpus %v, want the online cpus %v", topo.Cores, all, online)
	}
}
