package kube

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/bigbox-dev/bigbox/internal/agent"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// BenchmarkPodWatcherOffline is the per-scan cost of classifying a full
// node's big box (110 pods, the kubelet's default maximum, half offline).
func BenchmarkPodWatcherOffline(b *testing.B) {
	const pods = 110
	objs := make([]runtime.Object, 0, pods)
	in := make([]agent.OfflinePod, 0, pods)
	for i := range pods {
		name := fmt.Sprintf("p%d", i)
		if i%2 == 0 {
			objs = append(objs, offlinePod(name))
		} else {
			objs = append(objs, newPod(name, testNode))
		}
		in = append(in, agent.OfflinePod{Pod: qos.Pod{ID: "uid-" + name}, Group: "kubepods/besteffort/poduid-" + name})
	}
	client := fake.NewClientset(objs...)
	w := NewPodWatcher(client, testNode, testLoggerB(b))
	ctx := b.Context()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	b.Cleanup(func() { <-done })
	if !cacheSynced(ctx, w) {
		b.Fatal("pod cache did not sync")
	}
	if got := len(w.Offline(in)); got != pods/2 {
		b.Fatalf("%d offline pods, want %d", got, pods/2)
	}
	b.ReportAllocs()
	for b.Loop() {
		w.Offline(in)
	}
}
