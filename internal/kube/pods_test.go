package kube

import (
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	"github.com/bigbox-dev/bigbox/internal/agent"
	"github.com/bigbox-dev/bigbox/pkg/cgroup"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

func TestIsOffline(t *testing.T) {
	t.Parallel()
	initRequest := func(name corev1.ResourceName, q string) podOpt {
		return func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{
				Name:      "init",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{name: resource.MustParse(q)}},
			}}
		}
	}
	limitOnly := func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"bigbox.dev/memory": resource.MustParse("4")}
	}
	secondContainer := func(p *corev1.Pod) {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{
			Name:      "second",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{"bigbox.dev/cpu": resource.MustParse("5")}},
		})
	}
	tests := []struct {
		name string
		opts []podOpt
		want bool
	}{
		{"label", []podOpt{withLabel(ColocationLabel, "true")}, true},
		{"cpu request", []podOpt{withRequest("bigbox.dev/cpu", "10")}, true},
		{"memory request", []podOpt{withRequest("bigbox.dev/memory", "16")}, true},
		{"label and request", []podOpt{withLabel(ColocationLabel, "true"), withRequest("bigbox.dev/cpu", "1")}, true},
		{"neither", nil, false},
		{"init container request", []podOpt{initRequest("bigbox.dev/cpu", "2")}, true},
		{"second container request", []podOpt{secondContainer}, true},
		{"limit only", []podOpt{limitOnly}, true},
		{"label false", []podOpt{withLabel(ColocationLabel, "false")}, false},
		{"label True is not true", []podOpt{withLabel(ColocationLabel, "True")}, false},
		{"label empty", []podOpt{withLabel(ColocationLabel, "")}, false},
		{"zero request", []podOpt{withRequest("bigbox.dev/cpu", "0")}, false},
		{"native requests", []podOpt{withRequest(corev1.ResourceCPU, "1")}, false},
		{"other domain", []podOpt{withRequest("example.com/bigbox.dev-cpu", "1")}, false},
		{"init container native", []podOpt{initRequest(corev1.ResourceMemory, "1Gi")}, false},
		{"other label", []podOpt{withLabel("bigbox.dev/other", "true")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := IsOffline(newPod("p", testNode, tc.opts...)); got != tc.want {
				t.Errorf("IsOffline = %v, want %v", got, tc.want)
			}
		})
	}
}

// startPods runs a PodWatcher on client until the test ends and waits for
// its first sync.
func startPods(t *testing.T, client *fake.Clientset) *PodWatcher {
	t.Helper()
	w := NewPodWatcher(client, testNode, testLogger(t))
	runInBackground(t, w.Run)
	waitSynced(t, w.HasSynced)
	return w
}

func TestPodWatcherLookup(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset(
		offlinePod("labelled", withPriority(-5)),
		newPod("requests", testNode, withRequest("bigbox.dev/cpu", "3")),
		newPod("besteffort", testNode),
		newPod("web", testNode, withQOS(corev1.PodQOSBurstable), withRequest(corev1.ResourceCPU, "1"), withPriority(1000)),
		// The fake clientset ignores field selectors: this pod reaches the
		// cache and Lookup must still leave it out.
		offlinePod("elsewhere", func(p *corev1.Pod) { p.Spec.NodeName = "node-b" }),
	)
	selectors := listSelectors(client, "pods")
	w := startPods(t, client)

	if got := selectors(); len(got) == 0 || got[0] != "spec.nodeName="+testNode {
		t.Errorf("list field selectors = %q, want spec.nodeName=%s", got, testNode)
	}
	tests := []struct {
		uid    string
		found  bool
		want   PodInfo
		fields string
	}{
		{uid: "uid-labelled", found: true, want: PodInfo{
			Namespace: "batch", Name: "labelled", UID: "uid-labelled", Priority: -5, Offline: true,
			QOSClass: corev1.PodQOSBestEffort, Labels: map[string]string{ColocationLabel: "true"},
		}},
		{uid: "uid-requests", found: true, want: PodInfo{
			Namespace: "batch", Name: "requests", UID: "uid-requests", Offline: true, QOSClass: corev1.PodQOSBestEffort,
		}},
		{uid: "uid-besteffort", found: true, want: PodInfo{
			Namespace: "batch", Name: "besteffort", UID: "uid-besteffort", QOSClass: corev1.PodQOSBestEffort,
		}},
		{uid: "uid-web", found: true, want: PodInfo{
			Namespace: "batch", Name: "web", UID: "uid-web", Priority: 1000, QOSClass: corev1.PodQOSBurstable,
		}},
		{uid: "uid-elsewhere", found: false},
		{uid: "uid-missing", found: false},
	}
	for _, tc := range tests {
		t.Run(tc.uid, func(t *testing.T) {
			t.Parallel()
			got, ok := w.Lookup(tc.uid)
			if ok != tc.found {
				t.Fatalf("Lookup found = %v, want %v", ok, tc.found)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Lookup = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPodWatcherOffline(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset(
		offlinePod("batch-1", withPriority(10)),
		newPod("batch-2", testNode, withRequest("bigbox.dev/memory", "8")),
		newPod("plain-besteffort", testNode),
	)
	in := []agent.OfflinePod{
		{Pod: qos.Pod{ID: "uid-batch-1", CPU: 0.5, MemoryBytes: 100}, Group: "kubepods/besteffort/poduid-batch-1"},
		{Pod: qos.Pod{ID: "uid-plain-besteffort", CPU: 2}, Group: "kubepods/besteffort/poduid-plain-besteffort"},
		{Pod: qos.Pod{ID: "uid-unknown", CPU: 3}, Group: "kubepods/besteffort/poduid-unknown"},
		{Pod: qos.Pod{ID: "uid-batch-2", MemoryBytes: 7}, Group: "kubepods/besteffort/poduid-batch-2"},
	}
	w := NewPodWatcher(client, testNode, testLogger(t))
	if got := w.Offline(in); len(got) != 0 {
		t.Errorf("Offline before sync = %+v, want none: nothing is proven offline yet", got)
	}
	runInBackground(t, w.Run)
	waitSynced(t, w.HasSynced)

	want := []agent.OfflinePod{
		{Pod: qos.Pod{ID: "uid-batch-1", Namespace: "batch", Name: "batch-1", Priority: 10, CPU: 0.5, MemoryBytes: 100},
			Group: "kubepods/besteffort/poduid-batch-1"},
		{Pod: qos.Pod{ID: "uid-batch-2", Namespace: "batch", Name: "batch-2", MemoryBytes: 7},
			Group: "kubepods/besteffort/poduid-batch-2"},
	}
	if got := w.Offline(in); !slices.Equal(got, want) {
		t.Errorf("Offline =\n%+v\nwant\n%+v", got, want)
	}
}

// podHandled signals each pod event the informer has applied to its cache
// (handlers run after the cache is updated).
func podHandled(t *testing.T, w *PodWatcher) <-chan struct{} {
	t.Helper()
	ch := make(chan struct{}, 16)
	signal := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	if _, err := w.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { signal() },
		UpdateFunc: func(_, _ any) { signal() },
		DeleteFunc: func(any) { signal() },
	}); err != nil {
		t.Fatalf("add handler: %v", err)
	}
	return ch
}

func TestPodWatcherFollowsChanges(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset()
	w := NewPodWatcher(client, testNode, testLogger(t))
	handled := podHandled(t, w)
	runInBackground(t, w.Run)
	waitSynced(t, w.HasSynced)
	ctx := waitCtx(t)

	pods := client.CoreV1().Pods("batch")
	p := newPod("late", testNode)
	if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	receive(t, handled, "pod add")
	if info, ok := w.Lookup("uid-late"); !ok || info.Offline {
		t.Fatalf("after create: Lookup = %+v, %v; want an online pod", info, ok)
	}

	p.Labels = map[string]string{ColocationLabel: "true"}
	p.DeletionTimestamp = &metav1.Time{}
	if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	receive(t, handled, "pod update")
	if info, ok := w.Lookup("uid-late"); !ok || !info.Offline || !info.Terminating {
		t.Fatalf("after relabel: Lookup = %+v, %v; want an offline terminating pod", info, ok)
	}

	if err := pods.Delete(ctx, "late", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	receive(t, handled, "pod delete")
	if info, ok := w.Lookup("uid-late"); ok {
		t.Fatalf("after delete: Lookup = %+v, want not found", info)
	}
}

// TestPodWatcherAPIUnreachable: when list and watch fail, the cache keeps
// the pods it knew.
func TestPodWatcherAPIUnreachable(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset(offlinePod("batch-1"))
	var mu sync.Mutex
	down := false
	firstWatch := watch.NewFake()
	watches := 0
	failed := make(chan struct{}, 1)
	unreachable := errors.New("connection refused")
	client.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		if !down {
			return false, nil, nil
		}
		select {
		case failed <- struct{}{}:
		default:
		}
		return true, nil, unreachable
	})
	client.PrependWatchReactor("pods", func(clienttesting.Action) (bool, watch.Interface, error) {
		mu.Lock()
		defer mu.Unlock()
		watches++
		switch {
		case watches == 1:
			return true, firstWatch, nil
		case down:
			select {
			case failed <- struct{}{}:
			default:
			}
			return true, nil, unreachable
		}
		return false, nil, nil
	})
	w := startPods(t, client)

	mu.Lock()
	down = true
	mu.Unlock()
	firstWatch.Stop() // the connection drops
	receive(t, failed, "list or watch attempt while the API server is down")

	info, ok := w.Lookup("uid-batch-1")
	if !ok || !info.Offline || info.Name != "batch-1" {
		t.Errorf("Lookup while unreachable = %+v, %v; want the cached offline pod", info, ok)
	}
	if !w.HasSynced() {
		t.Error("HasSynced = false while unreachable, want true (the cache stays)")
	}
}

func TestPodInfoGroup(t *testing.T) {
	t.Parallel()
	const uid = "0d4b8e7a-1c2f-4a5b-9c3d-7e6f5a4b3c2d"
	tests := []struct {
		name     string
		kubepods string
		qos      corev1.PodQOSClass
		want     string
	}{
		{"cgroupfs besteffort", "kubepods", corev1.PodQOSBestEffort, "kubepods/besteffort/pod" + uid},
		{"cgroupfs burstable", "kubepods", corev1.PodQOSBurstable, "kubepods/burstable/pod" + uid},
		{"cgroupfs guaranteed", "kubepods", corev1.PodQOSGuaranteed, "kubepods/pod" + uid},
		{"systemd besteffort", "kubepods.slice", corev1.PodQOSBestEffort,
			"kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0d4b8e7a_1c2f_4a5b_9c3d_7e6f5a4b3c2d.slice"},
		{"systemd guaranteed", "kubepods.slice", corev1.PodQOSGuaranteed,
			"kubepods.slice/kubepods-pod0d4b8e7a_1c2f_4a5b_9c3d_7e6f5a4b3c2d.slice"},
		{"unknown class", "kubepods", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The relative path is the same under every v1 controller and
			// in the v2 unified hierarchy.
			got := PodInfo{UID: uid, QOSClass: tc.qos}.Group(cgroup.NewLayout(tc.kubepods))
			if got != tc.want {
				t.Fatalf("Group = %q, want %q", got, tc.want)
			}
			if got == "" {
				return
			}
			if back, ok := cgroup.PodUID(got); !ok || back != uid {
				t.Errorf("PodUID(%q) = %q, %v; want the uid back", got, back, ok)
			}
		})
	}
}
