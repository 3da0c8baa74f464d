package kube

import (
	"context"
	"log/slog"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// Component is the source component of bigbox's Events.
const Component = "bigbox-agent"

// Event reasons.
const (
	// ReasonEvicted: bigbox evicted an offline pod (on the pod and on the
	// node).
	ReasonEvicted = "BigboxEvicted"
	// ReasonConfigRejected: a NodeSLO version was invalid and the last good
	// one stays in force (on the ConfigMap).
	ReasonConfigRejected = "BigboxConfigRejected"
)

// maxEventMessageBytes is the longest Event message the API server keeps
// (longer ones are rejected by validation); a NodeSLO error joining many
// problems can exceed it.
const maxEventMessageBytes = 1024

// maxPendingEvents bounds the Events held before Run starts.
const maxPendingEvents = 100

// Recorder records core/v1 Events through client-go's EventBroadcaster,
// which aggregates repeats, retries while the API server is unreachable and
// keeps the Events API off the eviction path. Run owns the broadcaster: it
// starts writing to the API and shuts the broadcaster down when its context
// ends. Events recorded before Run are held (up to 100) and written once it
// starts; Events after Run returned are only logged. Every Event is also
// logged.
type Recorder struct {
	client kubernetes.Interface
	host   string
	logger *slog.Logger

	mu      sync.Mutex
	rec     record.EventRecorder // nil before Run and after it returned
	done    bool
	pending []pendingEvent
}

type pendingEvent struct {
	ref                        *corev1.ObjectReference
	eventType, reason, message string
}

// NewRecorder returns a recorder whose Events name component bigbox-agent
// on host nodeName. RBAC: create and patch on events.
func NewRecorder(client kubernetes.Interface, nodeName string, logger *slog.Logger) *Recorder {
	return &Recorder{client: client, host: nodeName, logger: logger.With("component", "events")}
}

// Run writes Events to the API server until ctx is done.
func (r *Recorder) Run(ctx context.Context) error {
	// No WithContext: Shutdown below, after the recorder is withdrawn,
	// stops the broadcaster and cancels its retries, so no Event is sent
	// to a stopped broadcaster.
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: r.client.CoreV1().Events("")})
	rec := b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Component, Host: r.host})

	r.mu.Lock()
	r.rec = rec
	pending := r.pending
	r.pending = nil
	for _, e := range pending {
		rec.Event(e.ref, e.eventType, e.reason, e.message)
	}
	r.mu.Unlock()

	<-ctx.Done()
	r.mu.Lock()
	r.rec, r.done = nil, true
	r.mu.Unlock()
	b.Shutdown()
	return nil
}

// Event records an Event about the object ref names. message is cut to the
// API's limit.
func (r *Recorder) Event(ref *corev1.ObjectReference, eventType, reason, message string) {
	message = truncate(message, maxEventMessageBytes)
	r.logger.Info("event", "kind", ref.Kind, "namespace", ref.Namespace, "name", ref.Name,
		"type", eventType, "reason", reason, "message", message)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.rec != nil:
		// Under the lock, so Run cannot shut the broadcaster down between
		// the check and the send.
		r.rec.Event(ref, eventType, reason, message)
	case r.done:
		r.logger.Debug("event after the recorder stopped, not sent", "reason", reason)
	case len(r.pending) < maxPendingEvents:
		r.pending = append(r.pending, pendingEvent{ref: ref, eventType: eventType, reason: reason, message: message})
	default:
		r.logger.Warn("too many events before the recorder started, dropped one", "reason", reason)
	}
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence,
// ending it with "…" when cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + ellipsis
}

// PodRef names a pod as an Event's involved object.
func PodRef(namespace, name, uid string) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: namespace, Name: name, UID: types.UID(uid)}
}

// NodeRef names a node as an Event's involved object. Like the kubelet it
// uses the node name as the UID, so Events reach `kubectl describe node`
// without a read of the Node.
func NodeRef(nodeName string) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Node", APIVersion: "v1", Name: nodeName, UID: types.UID(nodeName)}
}

// ConfigMapRef names a ConfigMap as an Event's involved object.
func ConfigMapRef(cm *corev1.ConfigMap) *corev1.ObjectReference {
	return &corev1.ObjectReference{
		Kind: "ConfigMap", APIVersion: "v1", Namespace: cm.Namespace, Name: cm.Name,
		UID: cm.UID, ResourceVersion: cm.ResourceVersion,
	}
}
