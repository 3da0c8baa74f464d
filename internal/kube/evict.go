package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/bigbox-dev/bigbox/internal/agent"
)

// ErrNotOffline is returned (wrapped) by Evictor.Evict for a pod that is not
// known as offline work; no API call was made.
var ErrNotOffline = errors.New("not known as an offline pod")

// podLookup finds a pod of the node by UID.
type podLookup interface {
	Lookup(uid string) (PodInfo, bool)
}

// eventRecorder records an Event about an object.
type eventRecorder interface {
	Event(ref *corev1.ObjectReference, eventType, reason, message string)
}

// Evictor evicts offline pods through the Eviction API (policy/v1), which
// honours PodDisruptionBudgets and the pod's termination grace period, and
// records an Event on the pod and on the node naming the watermark that
// fired. It implements agent.Evictor.
type Evictor struct {
	client kubernetes.Interface
	pods   podLookup
	events eventRecorder
	node   string
	logger *slog.Logger
}

// NewEvictor returns an evictor for the pods of nodeName that pods knows.
// RBAC: create on pods/eviction.
func NewEvictor(client kubernetes.Interface, pods podLookup, events eventRecorder, nodeName string, logger *slog.Logger) *Evictor {
	return &Evictor{client: client, pods: pods, events: events, node: nodeName, logger: logger.With("component", "evict")}
}

var _ agent.Evictor = (*Evictor)(nil)

// Evict asks the API server to evict pod. The pod is looked up by its UID
// (pod.Pod.ID) in the pod cache, which is also the authority on its
// namespace and name, and must be classified offline there: an online pod,
// or one the cache does not know, is refused with ErrNotOffline without any
// API call. The eviction carries the UID as a precondition, so a new pod
// that reuses the name is never hit.
//
// A pod already terminating or already gone counts as evicted (nil, no
// Event). A PodDisruptionBudget that forbids the eviction now (HTTP 429) or
// any other failure returns an error wrapping the API error; the agent
// tries again on its next tick.
func (e *Evictor) Evict(ctx context.Context, pod agent.OfflinePod, reason, detail string) error {
	uid := pod.Pod.ID
	info, ok := e.pods.Lookup(uid)
	if !ok {
		return fmt.Errorf("evict pod %s (uid %s): not in the pod cache of node %s: %w", podName(pod), uid, e.node, ErrNotOffline)
	}
	name := info.Namespace + "/" + info.Name
	if !info.Offline {
		return fmt.Errorf("evict pod %s: online (no label %s=true, no %s* request): %w", name, ColocationLabel, ResourcePrefix, ErrNotOffline)
	}
	if info.Terminating {
		e.logger.Debug("pod already terminating", "pod", name)
		return nil
	}
	ev := &policyv1.Eviction{
		ObjectMeta: metav1.ObjectMeta{Namespace: info.Namespace, Name: info.Name},
		DeleteOptions: &metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: ptrTo(types.UID(info.UID))},
		},
	}
	err := e.client.PolicyV1().Evictions(info.Namespace).Evict(ctx, ev)
	switch {
	case apierrors.IsNotFound(err):
		e.logger.Debug("pod already gone", "pod", name)
		return nil
	case apierrors.IsTooManyRequests(err):
		return fmt.Errorf("evict pod %s: a PodDisruptionBudget forbids it now: %w", name, err)
	case err != nil:
		return fmt.Errorf("evict pod %s: %w", name, err)
	}
	e.events.Event(PodRef(info.Namespace, info.Name, info.UID), corev1.EventTypeWarning, ReasonEvicted,
		fmt.Sprintf("Evicted by bigbox (%s): %s", reason, detail))
	e.events.Event(NodeRef(e.node), corev1.EventTypeWarning, ReasonEvicted,
		fmt.Sprintf("Evicted offline pod %s (%s): %s", name, reason, detail))
	return nil
}

func podName(p agent.OfflinePod) string {
	if p.Pod.Name != "" {
		return p.Pod.Namespace + "/" + p.Pod.Name
	}
	return p.Group
}

func ptrTo[T any](v T) *T { return &v }
