package sampler

import (
	"fmt"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/pkg/cgroup"
)

// BenchmarkSample is the full scan on a fake v1 tree (files on the test's
// temporary file system, read through cgroup.FS and host.Reader) with a
// fifth of the pods guaranteed, two fifths burstable, two fifths besteffort.
func BenchmarkSample(b *testing.B) {
	for _, n := range []int{10, 200, 1000} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			e := newEnv(b, cgroup.V1, "kubepods")
			classes := []QOSClass{Guaranteed, Burstable, Burstable, BestEffort, BestEffort}
			for i := range n {
				e.setGroup(e.layout.PodGroup(string(classes[i%len(classes)]), uid(i)), groupStat{usageNanos: uint64(i) * ms, memUsageBytes: 1 << 20})
			}
			s := e.sampler()
			if _, err := s.Sample(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				e.clk.Step(time.Second)
				obs, err := s.Sample()
				if err != nil {
					b.Fatal(err)
				}
				if len(obs.Pods) != n {
					b.Fatalf("pods = %d, want %d", len(obs.Pods), n)
				}
			}
		})
	}
}

// BenchmarkSampleCPU is the 50 ms fast path: /proc/stat and two cgroup
// counters.
func BenchmarkSampleCPU(b *testing.B) {
	for _, v := range []cgroup.Version{cgroup.V1, cgroup.V2} {
		b.Run(fmt.Sprintf("v%d", v), func(b *testing.B) {
			e := newEnv(b, v, "kubepods")
			s := e.sampler()
			if _, err := s.SampleCPU(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				e.clk.Step(50 * time.Millisecond)
				if _, err := s.SampleCPU(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
