package host

import (
	"os"
	"path/filepath"
	"testing"
)

// writeTree creates files (path relative to root → content) under root.
func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		path := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newFakeReader builds a fake procfs and sysfs in a temporary directory and
// returns a Reader of them, closed when the test ends.
func newFakeReader(t testing.TB, proc, sys map[string]string) (*Reader, string, string) {
	t.Helper()
	dir := t.TempDir()
	procRoot, sysRoot := filepath.Join(dir, "proc"), filepath.Join(dir, "sys")
	for _, d := range []string{procRoot, sysRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeTree(t, procRoot, proc)
	writeTree(t, sysRoot, sys)
	r := New(procRoot, sysRoot)
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r, procRoot, sysRoot
}

// statTwoCPU is /proc/stat of a 2-CPU VM (Linux 6.x), shortened "intr".
const statTwoCPU = `cpu  1954 3 1317 70474 89 5 27 8 2 1
cpu0 891 1 578 35443 13 2 3 3 1 0
cpu1 1062 2 738 35031 75 3 24 5 1 1
intr 148858 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 15 0 0 0 0 73
ctxt 269975
btime 1764077571
processes 3512
procs_running 2
procs_blocked 0
softirq 95121 2 24187 3 1520 4218 0 1127 32581 0 31483
`

// statEightCPUOneOffline is /proc/stat of an 8-CPU host with cpu3 offline:
// the kernel lists online CPUs only.
const statEightCPUOneOffline = `cpu  800 0 400 8000 10 0 0 0 0 0
cpu0 100 0 50 1000 1 0 0 0 0 0
cpu1 100 0 50 1000 1 0 0 0 0 0
cpu2 100 0 50 1000 1 0 0 0 0 0
cpu4 100 0 50 1000 1 0 0 0 0 0
cpu5 100 0 50 1000 1 0 0 0 0 0
cpu6 100 0 50 1000 1 0 0 0 0 0
cpu7 100 0 50 1000 1 0 0 0 0 0
intr 1 0
`

// meminfoReal is /proc/meminfo of a 4 GiB VM (Linux 6.18).
const meminfoReal = `MemTotal:        4015804 kB
MemFree:         2311448 kB
MemAvailable:    3367600 kB
Buffers:           61496 kB
Cached:          1152236 kB
SwapCached:            0 kB
Active:           599956 kB
Inactive:         861868 kB
Active(anon):     260160 kB
Inactive(anon):        0 kB
Active(file):     339796 kB
Inactive(file):   861868 kB
Unevictable:        8404 kB
Mlocked:               0 kB
SwapTotal:       1048572 kB
SwapFree:        1048572 kB
Zswap:                 0 kB
Zswapped:              0 kB
Dirty:               624 kB
Writeback:             0 kB
AnonPages:        264460 kB
Mapped:           241292 kB
Shmem:             12636 kB
KReclaimable:      75428 kB
Slab:             145068 kB
SReclaimable:      75428 kB
SUnreclaim:        69640 kB
KernelStack:        4912 kB
PageTables:         6352 kB
SecPageTables:         0 kB
NFS_Unstable:          0 kB
Bounce:                0 kB
WritebackTmp:          0 kB
CommitLimit:     3056472 kB
Committed_AS:    1262348 kB
VmallocTotal:   34359738367 kB
VmallocUsed:       25060 kB
VmallocChunk:          0 kB
Percpu:             1248 kB
HardwareCorrupted:     0 kB
AnonHugePages:         0 kB
ShmemHugePages:        0 kB
ShmemPmdMapped:        0 kB
FileHugePages:         0 kB
FilePmdMapped:         0 kB
Unaccepted:            0 kB
Balloon:               0 kB
HugePages_Total:       0
HugePages_Free:        0
HugePages_Rsvd:        0
HugePages_Surp:        0
Hugepagesize:       2048 kB
Hugetlb:               0 kB
DirectMap4k:      153456 kB
DirectMap2M:     4040704 kB
DirectMap1G:     2097152 kB
`

// cpuTopology returns the sysfs files of one CPU's topology.
func cpuTopology(files map[string]string, cpu, pkg, core, siblings string) {
	dir := "devices/system/cpu/cpu" + cpu + "/topology/"
	files[dir+"physical_package_id"] = pkg + "\n"
	files[dir+"core_id"] = core + "\n"
	files[dir+"thread_siblings_list"] = siblings + "\n"
}

// sysTwoSocketHT is a 2-socket host with 2 cores per socket and 2 threads
// per core, numbered the way Intel servers are: the second threads come
// after all first threads, so siblings read "0,4". core_id restarts on
// each socket. cpu7 is offline: its topology directory is absent, and the
// sibling list of cpu3 still names it.
func sysTwoSocketHT() map[string]string {
	files := map[string]string{"devices/system/cpu/online": "0-6\n"}
	cpuTopology(files, "0", "0", "0", "0,4")
	cpuTopology(files, "1", "0", "1", "1,5")
	cpuTopology(files, "2", "1", "0", "2,6")
	cpuTopology(files, "3", "1", "1", "3,7")
	cpuTopology(files, "4", "0", "0", "0,4")
	cpuTopology(files, "5", "0", "1", "1,5")
	cpuTopology(files, "6", "1", "0", "2,6")
	return files
}

// sysAdjacentHT is a 1-socket host whose siblings are numbered next to each
// other (AMD, many ARM and some VMs), so siblings read "0-1".
func sysAdjacentHT() map[string]string {
	files := map[string]string{"devices/system/cpu/online": "0-3\n"}
	cpuTopology(files, "0", "0", "0", "0-1")
	cpuTopology(files, "1", "0", "0", "0-1")
	cpuTopology(files, "2", "0", "1", "2-3")
	cpuTopology(files, "3", "0", "1", "2-3")
	return files
}
