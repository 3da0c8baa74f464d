package kube

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	corev1informers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// NodeLabels reads the labels of the node nodeName once.
func NodeLabels(ctx context.Context, client kubernetes.Interface, nodeName string) (map[string]string, error) {
	n, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get node %s: %w", nodeName, err)
	}
	return maps.Clone(n.Labels), nil
}

// NodeWatcher follows the labels of one node, which choose the NodeSLO's
// per-node overrides, so that relabelling a node changes its policy without
// a restart or a ConfigMap edit. A watch (rather than a read on each config
// change) is what notices a relabel on its own; the node's frequent status
// updates are filtered out by comparing the labels. The informer is
// restricted to the node by the field selector metadata.name=<node>, so RBAC
// can grant get, list and watch on that node alone.
type NodeWatcher struct {
	node     string
	informer cache.SharedIndexInformer
	handler  cache.ResourceEventHandlerRegistration
	logger   *slog.Logger
	changes  chan struct{}

	mu     sync.Mutex
	labels map[string]string
	known  bool
}

// NewNodeWatcher returns a watcher of nodeName's labels. It does no I/O
// until Run.
func NewNodeWatcher(client kubernetes.Interface, nodeName string, logger *slog.Logger) (*NodeWatcher, error) {
	w := &NodeWatcher{
		node:    nodeName,
		logger:  logger.With("component", "node", "node", nodeName),
		changes: make(chan struct{}, 1),
	}
	w.informer = corev1informers.NewFilteredNodeInformer(client, 0, cache.Indexers{},
		func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", nodeName).String()
		})
	h, err := w.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    w.onObject,
		UpdateFunc: func(_, obj any) { w.onObject(obj) },
		// A deleted node keeps its last labels: the agent on it is about
		// to go too, and no labels would drop every override.
	})
	if err != nil {
		return nil, fmt.Errorf("node informer: %w", err)
	}
	w.handler = h
	return w, nil
}

// Run runs the informer until ctx is done.
func (w *NodeWatcher) Run(ctx context.Context) error {
	w.informer.RunWithContext(ctx)
	return nil
}

// HasSynced reports whether the node as first listed has been handled:
// from then on Labels reflects it (ok is still false if the node does not
// exist).
func (w *NodeWatcher) HasSynced() bool { return w.handler.HasSynced() }

// Labels returns a copy of the node's labels; ok is false until the node
// has been seen.
func (w *NodeWatcher) Labels() (labels map[string]string, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.labels), w.known
}

// Changes receives a value after the labels changed. It holds at most one
// value; read Labels after receiving.
func (w *NodeWatcher) Changes() <-chan struct{} { return w.changes }

func (w *NodeWatcher) onObject(obj any) {
	n, ok := obj.(*corev1.Node)
	if !ok || n.Name != w.node {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.known && maps.Equal(w.labels, n.Labels) {
		return
	}
	w.labels, w.known = maps.Clone(n.Labels), true
	w.logger.Info("node labels", "labels", n.Labels)
	select {
	case w.changes <- struct{}{}:
	default:
	}
}
