package sampler

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/pkg/cgroup"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

const ms = uint64(time.Millisecond)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func nearUsage(a, b qos.Usage) bool {
	return near(a.Capacity, b.Capacity) && near(a.System, b.System) && near(a.Online, b.Online) &&
		near(a.Offline, b.Offline) && near(a.PredictedOnline, b.PredictedOnline)
}

func TestSampleCPU(t *testing.T) {
	t.Parallel()
	type reading struct {
		step                 time.Duration
		busyTicks, idleTicks uint64 // node, 10 ms each, cumulative
		kubepods, besteffort uint64 // ns, cumulative
		wantOK               bool
		want                 qos.Usage
	}
	cases := []struct {
		name     string
		readings []reading
	}{
		{
			name: "first call has no delta, second splits the node",
			readings: []reading{
				{0, 100, 100, 1000 * ms, 500 * ms, false, qos.Usage{}},
				// 100 ms on 2 CPUs = 20 ticks, 15 busy: 1.5 cores busy.
				// kubepods +100 ms = 1 core, besteffort +40 ms = 0.4 core.
				{100 * time.Millisecond, 115, 105, 1100 * ms, 540 * ms, true, qos.Usage{Capacity: 2, System: 0.5, Online: 0.6, Offline: 0.4}},
			},
		},
		{
			name: "kubepods above node busy floors system at 0",
			readings: []reading{
				{0, 0, 0, 0, 0, false, qos.Usage{}},
				{100 * time.Millisecond, 10, 10, 150 * ms, 0, true, qos.Usage{Capacity: 2, System: 0, Online: 1.5, Offline: 0}},
			},
		},
		{
			name: "besteffort above kubepods floors online at 0",
			readings: []reading{
				{0, 0, 0, 0, 0, false, qos.Usage{}},
				{100 * time.Millisecond, 20, 0, 100 * ms, 120 * ms, true, qos.Usage{Capacity: 2, System: 1, Online: 0, Offline: 1.2}},
			},
		},
		{
			name: "counter reset restarts the delta",
			readings: []reading{
				{0, 100, 100, 1000 * ms, 500 * ms, false, qos.Usage{}},
				// The big box was recreated: its counter starts over.
				{100 * time.Millisecond, 110, 110, 1050 * ms, 10 * ms, false, qos.Usage{}},
				{100 * time.Millisecond, 120, 120, 1100 * ms, 30 * ms, true, qos.Usage{Capacity: 2, System: 0.5, Online: 0.3, Offline: 0.2}},
			},
		},
		{
			name: "no time passed keeps the previous reading",
			readings: []reading{
				{0, 100, 100, 0, 0, false, qos.Usage{}},
				{0, 100, 100, 0, 0, false, qos.Usage{}},
				{200 * time.Millisecond, 140, 100, 400 * ms, 0, true, qos.Usage{Capacity: 2, System: 0, Online: 2, Offline: 0}},
			},
		},
	}
	for _, v := range []cgroup.Version{cgroup.V1, cgroup.V2} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("v%d/%s", v, tc.name), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, v, "kubepods")
				s := e.sampler()
				for i, r := range tc.readings {
					e.clk.Step(r.step)
					e.setNode(r.busyTicks, r.idleTicks, nil)
					e.setGroup(e.layout.Kubepods, groupStat{usageNanos: r.kubepods})
					e.setGroup(e.layout.Besteffort, groupStat{usageNanos: r.besteffort})
					got, err := s.SampleCPU()
					if err != nil {
						t.Fatalf("reading %d: %v", i, err)
					}
					if got.OK != r.wantOK {
						t.Fatalf("reading %d: OK = %v, want %v", i, got.OK, r.wantOK)
					}
					if !got.Time.Equal(e.clk.Now()) {
						t.Errorf("reading %d: Time = %v, want %v", i, got.Time, e.clk.Now())
					}
					if r.wantOK && !nearUsage(got.Usage, r.want) {
						t.Errorf("reading %d: Usage = %+v, want %+v", i, got.Usage, r.want)
					}
				}
			})
		}
	}
}

func TestSampleCPUErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		breakEnv func(e *env)
	}{
		{"kubepods missing", func(e *env) { e.removeGroup(e.layout.Kubepods) }},
		{"besteffort missing", func(e *env) { e.removeGroup(e.layout.Besteffort) }},
		{"no /proc/stat", func(e *env) {
			if err := os.Remove(filepath.Join(e.proc, "stat")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, cgroup.V1, "kubepods")
			tc.breakEnv(e)
			if _, err := e.sampler().SampleCPU(); err == nil {
				t.Error("SampleCPU: want an error")
			}
			if _, err := e.sampler().Sample(); err == nil {
				t.Error("Sample: want an error")
			}
		})
	}
}

// pod is a pod cgroup of a test.
type pod struct {
	class QOSClass
	uid   string
}

func uid(n int) string { return fmt.Sprintf("0b8f1c2a-1111-4c3d-9e5f-%012d", n) }

func TestSamplePods(t *testing.T) {
	t.Parallel()
	pods := []pod{
		{Guaranteed, uid(1)},
		{Burstable, uid(2)},
		{Burstable, uid(3)},
		{BestEffort, uid(4)},
	}
	for _, tc := range []struct {
		name     string
		version  cgroup.Version
		kubepods string
	}{
		{"v1 cgroupfs", cgroup.V1, "kubepods"},
		{"v1 systemd", cgroup.V1, "kubepods.slice"},
		{"v2 systemd", cgroup.V2, "kubepods.slice"},
		{"v2 cgroupfs", cgroup.V2, "kubepods"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.version, tc.kubepods)
			s := e.sampler()
			// Children that are not pods are ignored.
			e.setGroup(e.layout.Kubepods+"/system-extra", groupStat{})
			for i, p := range pods {
				e.setGroup(e.layout.PodGroup(string(p.class), p.uid), groupStat{
					usageNanos: uint64(i) * 1000 * ms, periods: 10, throttled: 1, throttledNanos: 5 * ms,
					memUsageBytes: uint64(i+1) << 20, inactiveBytes: 1 << 19,
				})
			}
			obs, err := s.Sample()
			if err != nil {
				t.Fatal(err)
			}
			if obs.CPUValid || obs.CPUBusy != nil || obs.Interval != 0 {
				t.Errorf("first scan: CPUValid %v, CPUBusy %v, Interval %v; want no deltas", obs.CPUValid, obs.CPUBusy, obs.Interval)
			}
			if len(obs.Pods) != len(pods) {
				t.Fatalf("pods = %+v, want %d", obs.Pods, len(pods))
			}
			for i, p := range pods {
				got := obs.Pods[i]
				if got.UID != p.uid || got.QOSClass != p.class || got.Group != e.layout.PodGroup(string(p.class), p.uid) {
					t.Errorf("pod %d = %s %s %s, want %s %s %s", i, got.UID, got.QOSClass, got.Group, p.uid, p.class, e.layout.PodGroup(string(p.class), p.uid))
				}
				if got.CPUValid || got.CPU != 0 {
					t.Errorf("pod %d first scan: CPU %v valid %v, want none", i, got.CPU, got.CPUValid)
				}
				if want := float64(uint64(i+1)<<20 - 1<<19); got.MemoryBytes != want {
					t.Errorf("pod %d MemoryBytes = %v, want %v", i, got.MemoryBytes, want)
				}
			}

			// One second later: pod i used (i+1)×100 ms more, guaranteed and
			// burstable pods were throttled.
			e.clk.Step(time.Second)
			for i, p := range pods {
				e.setGroup(e.layout.PodGroup(string(p.class), p.uid), groupStat{
					usageNanos: uint64(i)*1000*ms + uint64(i+1)*100*ms, periods: 20, throttled: 3, throttledNanos: 25 * ms,
					memUsageBytes: uint64(i+1) << 20, inactiveBytes: 1 << 19,
				})
			}
			obs, err = s.Sample()
			if err != nil {
				t.Fatal(err)
			}
			if obs.Interval != time.Second {
				t.Errorf("Interval = %v, want 1s", obs.Interval)
			}
			for i := range pods {
				got := obs.Pods[i]
				if want := float64(i+1) * 0.1; !got.CPUValid || !near(got.CPU, want) {
					t.Errorf("pod %d CPU = %v (valid %v), want %v", i, got.CPU, got.CPUValid, want)
				}
				if want := (Throttling{Periods: 10, Throttled: 2, ThrottledSeconds: 0.02}); got.Throttling.Periods != want.Periods ||
					got.Throttling.Throttled != want.Throttled || !near(got.Throttling.ThrottledSeconds, want.ThrottledSeconds) {
					t.Errorf("pod %d throttling = %+v, want %+v", i, got.Throttling, want)
				}
			}
			// Three online pods (the besteffort one is not counted).
			if got := obs.OnlineThrottling; got.Periods != 30 || got.Throttled != 6 || !near(got.ThrottledSeconds, 0.06) {
				t.Errorf("OnlineThrottling = %+v, want 30 periods, 6 throttled, 0.06 s", got)
			}
		})
	}
}

func TestSamplePodVanishes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cgroup.V1, "kubepods")
	a := e.layout.PodGroup("besteffort", uid(1))
	b := e.layout.PodGroup("besteffort", uid(2))
	e.setGroup(a, groupStat{usageNanos: 100 * ms})
	e.setGroup(b, groupStat{usageNanos: 100 * ms})
	// staleList lists pods that were deleted after the listing, as a scan
	// racing the kubelet sees them.
	stale := &staleList{Cgroups: e.fs, extra: map[string][]string{e.layout.Besteffort: {"pod" + uid(9)}}}
	s := New(stale, e.host, e.layout, e.clk, e.sampler().log)
	obs, err := s.Sample()
	if err != nil {
		t.Fatalf("Sample with a pod gone mid-scan: %v", err)
	}
	if got := uids(obs.Pods); !slices.Equal(got, []string{uid(1), uid(2)}) {
		t.Fatalf("pods = %v, want %v", got, []string{uid(1), uid(2)})
	}

	e.removeGroup(a)
	e.clk.Step(time.Second)
	e.setGroup(b, groupStat{usageNanos: 600 * ms})
	if obs, err = s.Sample(); err != nil {
		t.Fatal(err)
	}
	if got := uids(obs.Pods); !slices.Equal(got, []string{uid(2)}) {
		t.Fatalf("pods after a deletion = %v, want %v", got, []string{uid(2)})
	}
	if len(s.pods[2]) != 1 {
		t.Errorf("state kept for %d besteffort pods, want 1", len(s.pods[2]))
	}
	if p := obs.Pods[0]; !near(p.CPU, 0.5) {
		t.Errorf("remaining pod CPU = %v, want 0.5", p.CPU)
	}

	// The pod comes back with a fresh counter: no delta on its first scan.
	e.clk.Step(time.Second)
	e.setGroup(a, groupStat{usageNanos: 10 * ms})
	if obs, err = s.Sample(); err != nil {
		t.Fatal(err)
	}
	if p := obs.Pods[0]; p.UID != uid(1) || p.CPUValid {
		t.Errorf("recreated pod = %+v, want uid %s without CPU", p, uid(1))
	}
}

// staleList adds names to Children that do not exist.
type staleList struct {
	Cgroups
	extra map[string][]string
}

func (s *staleList) Children(group string) ([]string, error) {
	names, err := s.Cgroups.Children(group)
	return append(names, s.extra[group]...), err
}

func uids(pods []PodSample) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.UID)
	}
	return out
}

func TestSamplePodCounterReset(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cgroup.V2, "kubepods")
	g := e.layout.PodGroup("burstable", uid(1))
	e.setGroup(g, groupStat{usageNanos: 900 * ms, periods: 50})
	s := e.sampler()
	if _, err := s.Sample(); err != nil {
		t.Fatal(err)
	}
	e.clk.Step(time.Second)
	e.setGroup(g, groupStat{usageNanos: 100 * ms, periods: 5})
	obs, err := s.Sample()
	if err != nil {
		t.Fatal(err)
	}
	if p := obs.Pods[0]; p.CPUValid || p.CPU != 0 || p.Throttling != (Throttling{}) {
		t.Errorf("after a counter reset: %+v, want no CPU and no throttling", p)
	}
	e.clk.Step(time.Second)
	e.setGroup(g, groupStat{usageNanos: 300 * ms, periods: 7})
	if obs, err = s.Sample(); err != nil {
		t.Fatal(err)
	}
	if p := obs.Pods[0]; !p.CPUValid || !near(p.CPU, 0.2) || p.Throttling.Periods != 2 {
		t.Errorf("after the reset: CPU %v valid %v periods %d, want 0.2, true, 2", p.CPU, p.CPUValid, p.Throttling.Periods)
	}
}

func TestSampleMemoryAndNode(t *testing.T) {
	t.Parallel()
	for _, v := range []cgroup.Version{cgroup.V1, cgroup.V2} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, v, "kubepods")
			// 8 GiB node, 6 GiB available: 2 GiB used. kubepods WS 1.5 GiB,
			// besteffort WS 0.5 GiB.
			e.setGroup(e.layout.Kubepods, groupStat{memUsageBytes: 2 << 30, inactiveBytes: 512 << 20})
			e.setGroup(e.layout.Besteffort, groupStat{memUsageBytes: 1 << 30, inactiveBytes: 512 << 20})
			e.setNode(0, 0, []uint64{0, 0, 0, 0})
			s := e.sampler()
			if _, err := s.Sample(); err != nil {
				t.Fatal(err)
			}
			e.clk.Step(time.Second)
			// cpu0: 25 of 100 ticks busy; cpu1: 100 of 100.
			e.setNode(125, 75, []uint64{25, 75, 100, 0})
			e.setGroup(e.layout.Kubepods, groupStat{usageNanos: 1000 * ms, memUsageBytes: 2 << 30, inactiveBytes: 512 << 20})
			e.setGroup(e.layout.Besteffort, groupStat{usageNanos: 250 * ms, memUsageBytes: 1 << 30, inactiveBytes: 512 << 20})
			obs, err := s.Sample()
			if err != nil {
				t.Fatal(err)
			}
			wantMem := qos.Usage{Capacity: 8 << 30, System: 512 << 20, Online: 1 << 30, Offline: 512 << 20}
			if !nearUsage(obs.Memory, wantMem) {
				t.Errorf("Memory = %+v, want %+v", obs.Memory, wantMem)
			}
			wantCPU := qos.Usage{Capacity: 2, System: 0.25, Online: 0.75, Offline: 0.25}
			if !obs.CPUValid || !nearUsage(obs.CPU, wantCPU) {
				t.Errorf("CPU = %+v (valid %v), want %+v", obs.CPU, obs.CPUValid, wantCPU)
			}
			if !slices.Equal(obs.CPUBusy, []float64{0.25, 1}) {
				t.Errorf("CPUBusy = %v, want [0.25 1]", obs.CPUBusy)
			}
			if want := [][]int{{0}, {1}}; !slices.EqualFunc(obs.Topology.Cores, want, slices.Equal[[]int]) {
				t.Errorf("Topology = %v, want %v", obs.Topology.Cores, want)
			}
			if len(obs.NodePressure) != 3 || obs.NodePressure["cpu"].Some.Avg10 != 1 {
				t.Errorf("NodePressure = %+v, want cpu, memory, io with cpu some avg10 1", obs.NodePressure)
			}
			wantGroupPSI := 0
			if v == cgroup.V2 {
				wantGroupPSI = 3
			}
			if len(obs.KubepodsPressure) != wantGroupPSI || len(obs.BesteffortPressure) != wantGroupPSI {
				t.Errorf("group pressure: kubepods %d, besteffort %d resources; want %d", len(obs.KubepodsPressure), len(obs.BesteffortPressure), wantGroupPSI)
			}
			if v == cgroup.V2 && obs.BesteffortPressure["memory"].Some.Avg10 != 2 {
				t.Errorf("besteffort memory pressure = %+v", obs.BesteffortPressure["memory"])
			}
		})
	}
}

func TestSampleNoNodePressure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cgroup.V1, "kubepods")
	if err := os.RemoveAll(filepath.Join(e.proc, "pressure")); err != nil {
		t.Fatal(err)
	}
	obs, err := e.sampler().Sample()
	if err != nil {
		t.Fatalf("Sample without /proc/pressure: %v", err)
	}
	if len(obs.NodePressure) != 0 {
		t.Errorf("NodePressure = %v, want empty", obs.NodePressure)
	}
}

func TestSampleMemoryUsedBelowKubepods(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cgroup.V1, "kubepods")
	e.setMemInfo(8<<30, 7<<30) // 1 GiB used by the node's account
	e.setGroup(e.layout.Kubepods, groupStat{memUsageBytes: 2 << 30})
	obs, err := e.sampler().Sample()
	if err != nil {
		t.Fatal(err)
	}
	if obs.Memory.System != 0 || obs.Memory.Online != 2<<30 {
		t.Errorf("Memory = %+v, want System 0 (floored) and Online 2 GiB", obs.Memory)
	}
}

func TestSampleTopologyError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cgroup.V1, "kubepods")
	online := filepath.Join(filepath.Dir(e.proc), "sys/devices/system/cpu/online")
	if err := os.Remove(online); err != nil {
		t.Fatal(err)
	}
	s := e.sampler()
	if _, err := s.SampleCPU(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("SampleCPU without topology: err = %v, want not exist", err)
	}
	// Read again on the next call once it is there.
	e.write(online, "0-1\n")
	if _, err := s.SampleCPU(); err != nil {
		t.Fatalf("SampleCPU after the topology appeared: %v", err)
	}
}
