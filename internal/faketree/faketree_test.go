package faketree

import (
	"testing"

	"github.com/bigbox-dev/bigbox/pkg/cgroup"
)

func TestWriteReadsBack(t *testing.T) {
	t.Parallel()
	for _, v := range []int{1, 2} {
		root := t.TempDir()
		if err := Write(root, Spec{Version: v, OnlinePods: 3, OfflinePods: 5, CPUs: 4}); err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		cg, err := cgroup.Open(root)
		if err != nil {
			t.Fatalf("v%d: open: %v", v, err)
		}
		if int(cg.Version()) != v {
			t.Errorf("version = %d, want %d", cg.Version(), v)
		}
		l, err := cgroup.DetectLayout(cg, "")
		if err != nil {
			t.Fatalf("v%d: layout: %v", v, err)
		}
		for _, c := range []struct {
			group string
			want  int
		}{{l.Burstable, 3}, {l.Besteffort, 5}} {
			kids, err := cg.Children(c.group)
			if err != nil {
				t.Fatal(err)
			}
			if len(kids) != c.want {
				t.Errorf("v%d: %s has %d children, want %d", v, c.group, len(kids), c.want)
			}
			for _, k := range kids {
				if _, ok := cgroup.PodUID(k); !ok {
					t.Errorf("v%d: child %q is not a pod cgroup name", v, k)
				}
			}
		}
		ms, err := cg.MemoryStat(l.Besteffort)
		if err != nil {
			t.Fatalf("v%d: memory stat: %v", v, err)
		}
		if ms.WorkingSetBytes != 100<<20-10<<20 {
			t.Errorf("v%d: working set = %d, want 90 MiB", v, ms.WorkingSetBytes)
		}
		if _, err := cg.CPUUsageNanos(l.Kubepods); err != nil {
			t.Errorf("v%d: cpu usage: %v", v, err)
		}
		lim, err := cg.Limits(l.Besteffort)
		if err != nil {
			t.Fatalf("v%d: limits: %v", v, err)
		}
		if lim.CPUQuotaMicros != cgroup.Unlimited || lim.MemoryLimitBytes != cgroup.Unlimited {
			t.Errorf("v%d: limits = %+v, want unlimited", v, lim)
		}
	}
	if err := Write(t.TempDir(), Spec{Version: 3}); err == nil {
		t.Error("version 3: want an error")
	}
}
