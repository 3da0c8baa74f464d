package kube

import (
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func testNodeObject(name string, labels map[string]string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func TestNodeLabels(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset(testNodeObject(testNode, map[string]string{"pool": "transcoding"}))
	got, err := NodeLabels(waitCtx(t), client, testNode)
	if err != nil || !maps.Equal(got, map[string]string{"pool": "transcoding"}) {
		t.Errorf("NodeLabels = %v, %v; want pool=transcoding", got, err)
	}
	if _, err := NodeLabels(waitCtx(t), client, "node-missing"); !apierrors.IsNotFound(err) {
		t.Errorf("NodeLabels of a missing node: %v, want a wrapped NotFound", err)
	}
}

func TestNodeWatcherFollowsLabels(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset(
		testNodeObject(testNode, map[string]string{"pool": "general"}),
		// The fake ignores the field selector; the watcher must too.
		testNodeObject("node-b", map[string]string{"pool": "other"}),
	)
	selectors := listSelectors(client, "nodes")
	w, err := NewNodeWatcher(client, testNode, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	runInBackground(t, w.Run)
	waitSynced(t, w.HasSynced)
	if got := selectors(); len(got) == 0 || got[0] != "metadata.name="+testNode {
		t.Errorf("list field selectors %q, want metadata.name=%s", got, testNode)
	}
	receive(t, w.Changes(), "change for the first labels")
	if got, ok := w.Labels(); !ok || !maps.Equal(got, map[string]string{"pool": "general"}) {
		t.Fatalf("Labels = %v, %v; want pool=general", got, ok)
	}

	if _, err := client.CoreV1().Nodes().Update(waitCtx(t),
		testNodeObject(testNode, map[string]string{"pool": "transcoding"}), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	receive(t, w.Changes(), "change for the relabel")
	if got, ok := w.Labels(); !ok || !maps.Equal(got, map[string]string{"pool": "transcoding"}) {
		t.Errorf("Labels = %v, %v; want pool=transcoding", got, ok)
	}
}

// TestNodeWatcherIgnoresStatus: updates that keep the labels (the node's
// status heartbeats) signal nothing.
func TestNodeWatcherIgnoresStatus(t *testing.T) {
	t.Parallel()
	w, err := NewNodeWatcher(fake.NewClientset(), testNode, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"pool": "general"}
	n := testNodeObject(testNode, labels)
	tests := []struct {
		name   string
		node   *corev1.Node
		signal bool
	}{
		{"first sight", n, true},
		{"status only", func() *corev1.Node {
			c := n.DeepCopy()
			c.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
			return c
		}(), false},
		{"other node", testNodeObject("node-b", map[string]string{"pool": "x"}), false},
		{"label added", testNodeObject(testNode, map[string]string{"pool": "general", "zone": "a"}), true},
		{"labels removed", testNodeObject(testNode, nil), true},
		{"still none", testNodeObject(testNode, map[string]string{}), false},
	}
	for _, tc := range tests { // in order: each step builds on the last
		w.onObject(tc.node)
		got := false
		select {
		case <-w.changes:
			got = true
		default:
		}
		if got != tc.signal {
			t.Errorf("%s: change signalled = %v, want %v", tc.name, got, tc.signal)
		}
	}
}
