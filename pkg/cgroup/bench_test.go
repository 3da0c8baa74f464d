package cgroup

import "testing"

// The fast CPU loop reads three counters every 50 ms; these keep that read
// cheap (allocations are reported).

func BenchmarkCPUUsageNanos(b *testing.B) {
	for _, sh := range []struct {
		name string
		ft   func(testing.TB) *fakeTree
	}{
		{"v1", func(t testing.TB) *fakeTree { return newFakeV1(t, separate) }},
		{"v2", func(t testing.TB) *fakeTree { return newFakeV2(t) }},
	} {
		b.Run(sh.name, func(b *testing.B) {
			ft := sh.ft(b)
			ft.addGroup("kubepods/besteffort")
			ft.set(CPUAcct, "kubepods/besteffort", "cpuacct.usage", "123456789012\n")
			if ft.version == V2 {
				ft.set(CPU, "kubepods/besteffort", "cpu.stat", "usage_usec 123456789\nuser_usec 100000000\nsystem_usec 23456789\nnr_periods 5000\nnr_throttled 120\nthrottled_usec 3400000\nnr_bursts 0\nburst_usec 0\n")
			}
			f := ft.open()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.CPUUsageNanos("kubepods/besteffort"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMemoryStat(b *testing.B) {
	const v1Stat = "cache 1216512\nrss 438272\nrss_huge 0\nshmem 0\nmapped_file 0\ndirty 0\nwriteback 0\nswap 0\npgpgin 1095\npgpgout 689\npgfault 1470\npgmajfault 0\ninactive_anon 438272\nactive_anon 0\ninactive_file 1216512\nactive_file 0\nunevictable 0\nhierarchical_memory_limit 9223372036854771712\nhierarchical_memsw_limit 9223372036854771712\ntotal_cache 1216512\ntotal_rss 438272\ntotal_rss_huge 0\ntotal_shmem 0\ntotal_mapped_file 0\ntotal_dirty 0\ntotal_writeback 0\ntotal_swap 0\ntotal_pgpgin 1095\ntotal_pgpgout 689\ntotal_pgfault 1470\ntotal_pgmajfault 0\ntotal_inactive_anon 438272\ntotal_active_anon 0\ntotal_inactive_file 1216512\ntotal_active_file 0\ntotal_unevictable 0\n"
	const v2Stat = "anon 438272\nfile 1216512\nkernel 184320\nkernel_stack 16384\npagetables 36864\nsec_pagetables 0\npercpu 0\nsock 0\nvmalloc 0\nshmem 0\nzswap 0\nzswapped 0\nfile_mapped 0\nfile_dirty 0\nfile_writeback 0\nswapcached 0\nanon_thp 0\nfile_thp 0\nshmem_thp 0\ninactive_anon 438272\nactive_anon 0\ninactive_file 1216512\nactive_file 0\nunevictable 0\nslab_reclaimable 0\nslab_unreclaimable 0\nslab 0\nworkingset_refault_anon 0\nworkingset_refault_file 0\nworkingset_activate_anon 0\nworkingset_activate_file 0\nworkingset_restore_anon 0\nworkingset_restore_file 0\nworkingset_nodereclaim 0\npgscan 0\npgsteal 0\npgscan_kswapd 0\npgscan_direct 0\npgsteal_kswapd 0\npgsteal_direct 0\npgfault 1470\npgmajfault 0\npgrefill 0\npgactivate 0\npgdeactivate 0\npglazyfree 0\npglazyfreed 0\nthp_fault_alloc 0\nthp_collapse_alloc 0\n"
	for _, sh := range []struct {
		name  string
		ft    func(testing.TB) *fakeTree
		usage string
		stat  string
	}{
		{"v1", func(t testing.TB) *fakeTree { return newFakeV1(t, separate) }, "memory.usage_in_bytes", v1Stat},
		{"v2", func(t testing.TB) *fakeTree { return newFakeV2(t) }, "memory.current", v2Stat},
	} {
		b.Run(sh.name, func(b *testing.B) {
			ft := sh.ft(b)
			ft.addGroup("kubepods")
			ft.set(Memory, "kubepods", sh.usage, "2000000\n")
			ft.set(Memory, "kubepods", "memory.stat", sh.stat)
			f := ft.open()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.MemoryStat("kubepods"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
