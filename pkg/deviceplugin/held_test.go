package deviceplugin

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"
)

func TestHeldFromPodResources(t *testing.T) {
	t.Parallel()
	dev := func(name string, ids ...string) *podresourcesv1.ContainerDevices {
		return &podresourcesv1.ContainerDevices{ResourceName: name, DeviceIds: ids}
	}
	names := []string{CPUResourceName, MemoryResourceName}
	tests := []struct {
		name      string
		pods      []*podresourcesv1.PodResources
		wantIDs   map[string][]string
		wantUnits map[string]int64
	}{
		{
			name:      "no pods",
			wantIDs:   map[string][]string{CPUResourceName: {}, MemoryResourceName: {}},
			wantUnits: map[string]int64{CPUResourceName: 0, MemoryResourceName: 0},
		},
		{
			name: "sums across pods and containers",
			pods: []*podresourcesv1.PodResources{
				{Name: "a", Namespace: "batch", Containers: []*podresourcesv1.ContainerResources{
					{Name: "main", Devices: []*podresourcesv1.ContainerDevices{dev(CPUResourceName, "0", "1"), dev(MemoryResourceName, "3")}},
					{Name: "side", Devices: []*podresourcesv1.ContainerDevices{dev(CPUResourceName, "10")}},
				}},
				{Name: "b", Namespace: "batch", Containers: []*podresourcesv1.ContainerResources{
					{Name: "main", Devices: []*podresourcesv1.ContainerDevices{dev(CPUResourceName, "2"), dev("nvidia.com/gpu", "GPU-1")}},
				}},
				{Name: "online", Namespace: "web", Containers: []*podresourcesv1.ContainerResources{{Name: "main"}}},
			},
			wantIDs:   map[string][]string{CPUResourceName: {"0", "1", "10", "2"}, MemoryResourceName: {"3"}},
			wantUnits: map[string]int64{CPUResourceName: 4, MemoryResourceName: 1},
		},
		{
			// An init container's devices may be reused by an app container.
			name: "shared ids counted once",
			pods: []*podresourcesv1.PodResources{
				{Name: "a", Containers: []*podresourcesv1.ContainerResources{
					{Name: "init", Devices: []*podresourcesv1.ContainerDevices{dev(MemoryResourceName, "5", "6")}},
					{Name: "main", Devices: []*podresourcesv1.ContainerDevices{dev(MemoryResourceName, "6", "5", "7")}},
				}},
			},
			wantIDs:   map[string][]string{CPUResourceName: {}, MemoryResourceName: {"5", "6", "7"}},
			wantUnits: map[string]int64{CPUResourceName: 0, MemoryResourceName: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "kubelet.sock")
			startFakePodResources(t, path, &fakePodResources{resp: &podresourcesv1.ListPodResourcesResponse{PodResources: tt.pods}})
			src, err := NewHeldSource(path, names)
			if err != nil {
				t.Fatalf("NewHeldSource: %v", err)
			}
			t.Cleanup(func() {
				if err := src.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
			defer cancel()

			ids, err := src.Held(ctx)
			if err != nil {
				t.Fatalf("Held: %v", err)
			}
			if !maps.EqualFunc(ids, tt.wantIDs, func(a, b []string) bool { return slices.Equal(a, b) }) {
				t.Errorf("Held() = %v, want %v", ids, tt.wantIDs)
			}
			units, err := HeldFromPodResources(ctx, src.client, names)
			if err != nil {
				t.Fatalf("HeldFromPodResources: %v", err)
			}
			if !maps.Equal(units, tt.wantUnits) {
				t.Errorf("HeldFromPodResources() = %v, want %v", units, tt.wantUnits)
			}
		})
	}
}

func TestHeldErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		serve bool
	}{
		{name: "List fails", serve: true},
		{name: "no kubelet", serve: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "kubelet.sock")
			if tt.serve {
				startFakePodResources(t, path, &fakePodResources{err: errFake})
			}
			src, err := NewHeldSource(path, []string{CPUResourceName})
			if err != nil {
				t.Fatalf("NewHeldSource: %v", err)
			}
			t.Cleanup(func() {
				if err := src.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
			defer cancel()
			// A failed read must not look like "nothing held".
			if ids, err := src.Held(ctx); err == nil || ids != nil {
				t.Errorf("Held() = %v, %v, want nil and an error", ids, err)
			}
			if units, err := HeldFromPodResources(ctx, src.client, []string{CPUResourceName}); err == nil || units != nil {
				t.Errorf("HeldFromPodResources() = %v, %v, want nil and an error", units, err)
			}
		})
	}
}
