package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/bigbox-dev/bigbox/internal/api"
)

func testNode(name string, cpuUnits, memUnits int64, labels map[string]string) *corev1.Node {
	l := map[string]string{HostnameLabel: name}
	for k, v := range labels {
		l[k] = v
	}
	res := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("2"),
		ResourceCPU:        *resource.NewQuantity(cpuUnits, resource.DecimalSI),
		ResourceMemory:     *resource.NewQuantity(memUnits, resource.DecimalSI),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
		Status:     corev1.NodeStatus{Capacity: res.DeepCopy(), Allocatable: res},
	}
}

// testPod is a pod on node; cpuUnits and memUnits > 0 make it offline by
// its requests.
func testPod(name, node string, cpuUnits, memUnits int64, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{}},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	if cpuUnits > 0 || memUnits > 0 {
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{
			ResourceCPU:    *resource.NewQuantity(cpuUnits, resource.DecimalSI),
			ResourceMemory: *resource.NewQuantity(memUnits, resource.DecimalSI),
		}
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func TestObserveNodes(t *testing.T) {
	t.Parallel()
	deleting := metav1.Now()
	objects := []runtime.Object{
		testNode("n1", 5, 8, nil),
		testNode("n2", 0, 0, nil),
		testPod("batch", "n1", 2, 1),
		testPod("labelled", "n1", 0, 0, func(p *corev1.Pod) { p.Labels["bigbox.dev/colocation"] = "true" }),
		testPod("leaving", "n1", 1, 1, func(p *corev1.Pod) { p.DeletionTimestamp = &deleting; p.Finalizers = []string{"x"} }),
		testPod("done", "n1", 1, 1, func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
		testPod("evicted", "n1", 1, 1, func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }),
		testPod("web", "n1", 0, 0),
		testPod("elsewhere", "n2", 1, 1, func(p *corev1.Pod) { p.Spec.NodeName = "n3" }),
	}
	client := fake.NewClientset(objects...)
	tests := []struct {
		name  string
		nodes []string
		want  []string
		clean []bool
	}{
		{name: "one node", nodes: []string{"n1"},
			want:  []string{"node n1: 3 offline pod(s) (default/batch, default/labelled, default/leaving (terminating)); allocatable bigbox.dev/cpu 5, bigbox.dev/memory 8"},
			clean: []bool{false}},
		{name: "several nodes, one gone", nodes: []string{"n1", "n2", "gone"},
			want:  []string{"node n1: 3 offline pod(s)", "node n2: clean (no offline pod, nothing advertised)", "node gone: gone"},
			clean: []bool{false, true, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			states, err := ObserveNodes(t.Context(), client, tc.nodes)
			if err != nil {
				t.Fatal(err)
			}
			if len(states) != len(tc.want) {
				t.Fatalf("%d states, want %d: %v", len(states), len(tc.want), states)
			}
			for i, s := range states {
				if !strings.HasPrefix(s.String(), tc.want[i]) {
					t.Errorf("state %d = %q, want %q…", i, s, tc.want[i])
				}
				if s.Clean() != tc.clean[i] {
					t.Errorf("state %d clean = %t, want %t", i, s.Clean(), tc.clean[i])
				}
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWaitNodes drives the progress loop with a fake clock: the offline
// pods go, then the kubelet reports zero allocatable, and the wait ends.
// synctest.Wait tells when the loop is blocked on its ticker again.
func TestWaitNodes(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		client := fake.NewClientset(testNode("n1", 5, 8, nil), testPod("batch", "n1", 2, 1), testPod("web", "n1", 0, 0))
		clk := clocktesting.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
		var out syncBuffer
		p := Progress{Clock: clk, Timeout: time.Minute, Out: &out}
		done := make(chan error, 1)
		go func() { done <- p.WaitNodes(t.Context(), client, []string{"n1"}) }()
		step := func() {
			clk.Step(time.Second)
			synctest.Wait()
		}
		synctest.Wait()
		step() // nothing changed: no new line
		if err := client.CoreV1().Pods("default").Delete(t.Context(), "batch", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		step()
		if _, err := client.CoreV1().Nodes().UpdateStatus(t.Context(), testNode("n1", 0, 0, nil), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		step()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("WaitNodes: %v", err)
			}
		default:
			t.Fatalf("WaitNodes still waiting on a clean node; output:\n%s", out.String())
		}
		want := "    0s node n1: 1 offline pod(s) (default/batch); allocatable bigbox.dev/cpu 5, bigbox.dev/memory 8\n" +
			"    2s node n1: no offline pod; allocatable bigbox.dev/cpu 5, bigbox.dev/memory 8\n" +
			"    3s node n1: clean (no offline pod, nothing advertised)\n" +
			"    3s done\n"
		if got := out.String(); got != want {
			t.Errorf("progress =\n%s\nwant\n%s", got, want)
		}
	})
}

func TestWaitNodesTimesOut(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		client := fake.NewClientset(testNode("n1", 1, 0, nil))
		clk := clocktesting.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
		var out syncBuffer
		p := Progress{Clock: clk, Timeout: 3 * time.Second, Heartbeat: 2 * time.Second, Out: &out}
		done := make(chan error, 1)
		go func() { done <- p.WaitNodes(t.Context(), client, []string{"n1"}) }()
		synctest.Wait()
		for range 3 {
			clk.Step(time.Second)
			synctest.Wait()
		}
		err := <-done
		if err == nil || !strings.Contains(err.Error(), "not done after 3s: node n1: no offline pod; allocatable bigbox.dev/cpu 1") {
			t.Errorf("WaitNodes err = %v, want a timeout naming what is left", err)
		}
		if got := strings.Count(out.String(), "node n1"); got != 2 {
			t.Errorf("%d lines, want 2 (the first and one heartbeat):\n%s", got, out.String())
		}
	})
}

func TestWaitNodesStopsWithContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		client := fake.NewClientset(testNode("n1", 1, 0, nil))
		clk := clocktesting.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- Progress{Clock: clk, Out: &syncBuffer{}}.WaitNodes(ctx, client, []string{"n1"}) }()
		synctest.Wait()
		cancel()
		if err := <-done; err == nil || !strings.Contains(err.Error(), "stopped waiting") {
			t.Errorf("WaitNodes err = %v, want stopped waiting", err)
		}
	})
}

// TestWaitAgent follows a standalone agent over HTTP: one poll that fails,
// one still lending, one clean. Real I/O keeps synctest out, so the fake
// clock is stepped once the handler has answered.
func TestWaitAgent(t *testing.T) {
	t.Parallel()
	statuses := []func(http.ResponseWriter){
		func(w http.ResponseWriter) { http.Error(w, "not ready", http.StatusServiceUnavailable) },
		func(w http.ResponseWriter) {
			st := api.Status{Node: "n1", Enabled: false, OfflinePods: []api.Pod{{ID: "u1"}}}
			st.CPU.Lent = 0.5
			writeJSON(t, w, st)
		},
		func(w http.ResponseWriter) { writeJSON(t, w, api.Status{Node: "n1"}) },
	}
	served := make(chan struct{})
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		i := min(calls, len(statuses)-1)
		calls++
		mu.Unlock()
		statuses[i](w)
		served <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- Progress{Clock: clk, Out: &out}.WaitAgent(t.Context(), srv.Client(), srv.URL) }()
	for range len(statuses) - 1 {
		<-served
		// The loop made its ticker before the first poll. Stepping before
		// the loop waits on it is fine: the fake ticker keeps the tick in
		// its buffered channel.
		clk.Step(time.Second)
	}
	<-served
	if err := <-done; err != nil {
		t.Fatalf("WaitAgent: %v", err)
	}
	got := out.String()
	for _, want := range []string{"cannot tell: get " + srv.URL + "/v1/status: 503", "agent n1: colocation disabled, 1 offline pod(s), lent cpu 0.50 memory 0Mi",
		"agent n1: clean (colocation disabled, no offline pod, nothing lent)", "done"} {
		if !strings.Contains(got, want) {
			t.Errorf("progress lacks %q:\n%s", want, got)
		}
	}
}

func writeJSON(t *testing.T, w http.ResponseWriter, v any) {
	if err := json.NewEncoder(w).Encode(v); err != nil {
		t.Error(err)
	}
}
