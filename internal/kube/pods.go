package kube

import (
	"context"
	"fmt"
	"log/slog"
	"maps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	corev1informers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/bigbox-dev/bigbox/internal/agent"
	"github.com/bigbox-dev/bigbox/pkg/cgroup"
)

// uidIndex indexes the pod cache by pod UID, the key the cgroup names carry.
const uidIndex = "uid"

// PodInfo is what the API server says about one pod of the node.
type PodInfo struct {
	Namespace, Name, UID string
	// Priority is spec.priority (0 when unset); lower is evicted first.
	Priority int32
	// Offline: the pod is offline work (IsOffline).
	Offline bool
	// QOSClass is status.qosClass ("" until the API server set it).
	QOSClass corev1.PodQOSClass
	Labels   map[string]string
	// Terminating: the pod has a deletion timestamp.
	Terminating bool
}

// Group is the pod's cgroup relative to each hierarchy root, as the kubelet
// names it under l: the same relative path serves every v1 controller and
// the v2 unified hierarchy, so both cgroup versions and both drivers are
// covered by l. It is "" while the QoS class is unknown.
func (p PodInfo) Group(l cgroup.Layout) string { return l.PodGroup(string(p.QOSClass), p.UID) }

// PodWatcher keeps the pods bound to one node in an informer cache, indexed
// by UID. While the API server is unreachable the cache keeps the last state
// it knew and the informer lists again when it is back.
type PodWatcher struct {
	node     string
	informer cache.SharedIndexInformer
	logger   *slog.Logger
}

// NewPodWatcher returns a watcher of the pods with spec.nodeName=nodeName.
// It does no I/O until Run. RBAC: list and watch on pods.
func NewPodWatcher(client kubernetes.Interface, nodeName string, logger *slog.Logger) *PodWatcher {
	inf := corev1informers.NewFilteredPodInformer(client, metav1.NamespaceAll, 0,
		cache.Indexers{uidIndex: podUID},
		func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", nodeName).String()
		})
	return &PodWatcher{
		node:     nodeName,
		informer: inf,
		logger:   logger.With("component", "pods", "node", nodeName),
	}
}

func podUID(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, fmt.Errorf("index pods by uid: got %T", obj)
	}
	return []string{string(p.UID)}, nil
}

// stripPod drops the managed fields, which are most of a pod's size and
// which nothing here reads.
func stripPod(obj any) (any, error) {
	if p, ok := obj.(*corev1.Pod); ok {
		p.ManagedFields = nil
	}
	return obj, nil
}

// Run runs the informer until ctx is done.
func (w *PodWatcher) Run(ctx context.Context) error {
	if err := w.informer.SetTransform(stripPod); err != nil {
		return fmt.Errorf("pod informer: %w", err)
	}
	w.logger.Info("watching pods")
	w.informer.RunWithContext(ctx)
	return nil
}

// HasSynced reports whether the first list of the node's pods is in the
// cache.
func (w *PodWatcher) HasSynced() bool { return w.informer.HasSynced() }

// Lookup returns what the API server says about the pod with uid, and false
// when the cache holds no such pod on this node (not listed yet, gone, or a
// static pod, whose cgroup carries the config hash rather than the mirror
// pod's UID).
func (w *PodWatcher) Lookup(uid string) (PodInfo, bool) {
	objs, err := w.informer.GetIndexer().ByIndex(uidIndex, uid)
	if err != nil {
		// Only an unknown index name fails, and uidIndex is registered in
		// NewPodWatcher.
		w.logger.Error("look up pod by uid", "uid", uid, "err", err)
		return PodInfo{}, false
	}
	for _, o := range objs {
		p, ok := o.(*corev1.Pod)
		// The field selector already keeps other nodes' pods out; checking
		// again costs nothing and guards against a server (or a test fake)
		// that ignores the selector.
		if !ok || p.Spec.NodeName != w.node {
			continue
		}
		return podInfo(p), true
	}
	return PodInfo{}, false
}

func podInfo(p *corev1.Pod) PodInfo {
	info := PodInfo{
		Namespace:   p.Namespace,
		Name:        p.Name,
		UID:         string(p.UID),
		Offline:     IsOffline(p),
		QOSClass:    p.Status.QOSClass,
		Labels:      maps.Clone(p.Labels),
		Terminating: p.DeletionTimestamp != nil,
	}
	if p.Spec.Priority != nil {
		info.Priority = *p.Spec.Priority
	}
	return info
}

// Offline returns the pods of in that the API server knows as offline work
// on this node, with Namespace, Name and Priority filled in from the API;
// the sampler's usage and group are kept. A pod the API classifies online
// is dropped even though it sits in the big box (a BestEffort pod that is
// not a bigbox pod), and so is a pod the cache does not know, since nothing
// proves it offline: only what Offline returns may become an eviction
// victim. Before the first sync it returns none.
func (w *PodWatcher) Offline(in []agent.OfflinePod) []agent.OfflinePod {
	if !w.HasSynced() {
		if len(in) > 0 {
			w.logger.Debug("pod cache not synced, no pod is known offline", "pods_in_big_box", len(in))
		}
		return nil
	}
	out := make([]agent.OfflinePod, 0, len(in))
	online, unknown := 0, 0
	for _, p := range in {
		info, ok := w.Lookup(p.Pod.ID)
		switch {
		case !ok:
			unknown++
			continue
		case !info.Offline:
			online++
			continue
		}
		p.Pod.Namespace, p.Pod.Name, p.Pod.Priority = info.Namespace, info.Name, info.Priority
		out = append(out, p)
	}
	if online > 0 || unknown > 0 {
		w.logger.Debug("big box pods that are not offline work", "online", online, "unknown", unknown)
	}
	return out
}
