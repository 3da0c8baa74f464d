package cgroup

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/utils/clock"
)

func TestUsageCounter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		tree    func(testing.TB) *fakeTree
		ctrl    string
		file    string
		content func(v string) string
		want    uint64
	}{
		{"v1", func(tb testing.TB) *fakeTree { return newFakeV1(tb, separate) }, CPUAcct, "cpuacct.usage",
			func(v string) string { return v + "\n" }, 0},
		{"v2", newFakeV2, CPU, "cpu.stat",
			func(v string) string { return "usage_usec " + v + "\nuser_usec 1\nsystem_usec 1\n" }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ft := tc.tree(t)
			ft.addGroup("kubepods")
			ft.set(tc.ctrl, "kubepods", tc.file, tc.content("100"))
			f := ft.open()
			c, err := f.OpenUsageCounter("kubepods")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := c.Close(); err != nil {
					t.Error(err)
				}
			})
			scale := uint64(1)
			if tc.name == "v2" {
				scale = 1000
			}
			if v, err := c.Read(); err != nil || v != 100*scale {
				t.Fatalf("first read = %d, %v; want %d", v, err, 100*scale)
			}
			// The same open file shows the new value (a regular file here,
			// rendered anew by the kernel for a real cgroup).
			p := filepath.Join(ft.root, ft.rel(tc.ctrl, "kubepods", tc.file))
			if err := os.WriteFile(p, []byte(tc.content("250")), 0o644); err != nil {
				t.Fatal(err)
			}
			if v, err := c.Read(); err != nil || v != 250*scale {
				t.Fatalf("second read = %d, %v; want %d", v, err, 250*scale)
			}
			if err := os.WriteFile(p, []byte(tc.content("garbage")), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Read(); err == nil {
				t.Fatal("garbage: want an error, not a number")
			}
		})
	}
	if _, err := newFakeV2(t).open().OpenUsageCounter("missing"); err == nil {
		t.Error("missing group: want an error")
	}
}

// TestRealUsageCounter checks that a pread at offset 0 of a file kept open
// makes the kernel render the counter anew.
func TestRealUsageCounter(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("real cgroup v1 test: needs root to create cgroups")
	}
	root := *cgroupRootFlag
	if !isDir(filepath.Join(root, "cpu")) {
		t.Skipf("real cgroup v1 test: no v1 cpu hierarchy at %s/cpu", root)
	}
	f, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	group := uniqueGroup(t)
	t.Cleanup(func() {
		if err := f.Remove(group); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := f.Create(group); err != nil {
		t.Fatal(err)
	}
	c, err := f.OpenUsageCounter(group)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	first, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.AddProc(group, startBusyLoop(t)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, clock.RealClock{}, 10*time.Second, "usage rises through the open file", func() (bool, error) {
		v, err := c.Read()
		return v > first+10_000_000, err // 10ms of CPU
	})
}
