package kube

import (
	"errors"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/bigbox-dev/bigbox/internal/agent"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// evictions records the Eviction API calls of a fake clientset and answers
// them with respond (nil: success).
type evictions struct {
	mu      sync.Mutex
	calls   []*policyv1.Eviction
	respond func(*policyv1.Eviction) error
}

func recordEvictions(client *fake.Clientset) *evictions {
	e := &evictions{}
	client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		ev := a.(clienttesting.CreateAction).GetObject().(*policyv1.Eviction)
		e.mu.Lock()
		defer e.mu.Unlock()
		e.calls = append(e.calls, ev.DeepCopy())
		if e.respond != nil {
			return true, nil, e.respond(ev)
		}
		return true, nil, nil
	})
	return e
}

func (e *evictions) got() []*policyv1.Eviction {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*policyv1.Eviction(nil), e.calls...)
}

// evictSetup runs a pod watcher and a recorder on a fake clientset holding
// pods and returns an evictor over them.
func evictSetup(t *testing.T, pods ...runtime.Object) (*Evictor, *fake.Clientset, *evictions) {
	t.Helper()
	client := fake.NewClientset(pods...)
	calls := recordEvictions(client)
	w := startPods(t, client)
	rec := NewRecorder(client, testNode, testLogger(t))
	runInBackground(t, rec.Run)
	return NewEvictor(client, w, rec, testNode, testLogger(t)), client, calls
}

func victim(uid string) agent.OfflinePod {
	return agent.OfflinePod{Pod: qos.Pod{ID: uid}, Group: "kubepods/besteffort/pod" + uid}
}

const memoryDetail = "node memory 93.1% above the evict watermark 90%"

func TestEvictOffline(t *testing.T) {
	t.Parallel()
	ev, client, calls := evictSetup(t, offlinePod("batch-1"), newPod("batch-2", testNode, withRequest("bigbox.dev/cpu", "4")))
	events := eventWatch(t, client)

	for _, uid := range []string{"uid-batch-1", "uid-batch-2"} {
		// The sampler's pod carries only the UID: namespace and name come
		// from the cache.
		if err := ev.Evict(waitCtx(t), victim(uid), qos.ReasonMemory, memoryDetail); err != nil {
			t.Fatalf("Evict %s: %v", uid, err)
		}
	}
	got := calls.got()
	if len(got) != 2 {
		t.Fatalf("%d eviction calls, want 2", len(got))
	}
	for i, name := range []string{"batch-1", "batch-2"} {
		e := got[i]
		if e.Namespace != "batch" || e.Name != name {
			t.Errorf("eviction %d of %s/%s, want batch/%s", i, e.Namespace, e.Name, name)
		}
		if e.DeleteOptions == nil || e.DeleteOptions.Preconditions == nil || e.DeleteOptions.Preconditions.UID == nil ||
			string(*e.DeleteOptions.Preconditions.UID) != "uid-"+name {
			t.Errorf("eviction %d: preconditions %+v, want uid-%s", i, e.DeleteOptions, name)
		}
	}

	var onPod, onNode []corev1.Event
	for _, e := range nextEvents(t, events, 4) {
		if e.Reason != ReasonEvicted || e.Type != corev1.EventTypeWarning || e.Source.Component != Component || e.Source.Host != testNode {
			t.Errorf("event %+v: want a Warning %s from %s on %s", e, ReasonEvicted, Component, testNode)
		}
		if !strings.Contains(e.Message, memoryDetail) {
			t.Errorf("event message %q does not name the watermark (%q)", e.Message, memoryDetail)
		}
		switch e.InvolvedObject.Kind {
		case "Pod":
			onPod = append(onPod, e)
		case "Node":
			onNode = append(onNode, e)
		}
	}
	if len(onPod) != 2 || len(onNode) != 2 {
		t.Fatalf("%d events on pods and %d on the node, want 2 and 2", len(onPod), len(onNode))
	}
	for _, e := range onPod {
		o := e.InvolvedObject
		if o.Namespace != "batch" || !strings.HasPrefix(string(o.UID), "uid-batch-") || "uid-"+o.Name != string(o.UID) {
			t.Errorf("pod event on %+v, want the evicted pod", o)
		}
	}
	for _, e := range onNode {
		o := e.InvolvedObject
		if o.Name != testNode || string(o.UID) != testNode || !strings.Contains(e.Message, "batch/batch-") {
			t.Errorf("node event on %+v %q, want node %s naming the pod", o, e.Message, testNode)
		}
	}
}

func TestEvictRefused(t *testing.T) {
	t.Parallel()
	ev, _, calls := evictSetup(t,
		newPod("plain-besteffort", testNode),
		newPod("web", testNode, withQOS(corev1.PodQOSGuaranteed), withRequest(corev1.ResourceCPU, "2")),
		offlinePod("elsewhere", func(p *corev1.Pod) { p.Spec.NodeName = "node-b" }),
	)
	tests := []struct {
		name string
		pod  agent.OfflinePod
	}{
		{"online besteffort", victim("uid-plain-besteffort")},
		{"online guaranteed", victim("uid-web")},
		{"unknown uid", victim("uid-gone")},
		{"other node", victim("uid-elsewhere")},
		{"name given but uid online", agent.OfflinePod{Pod: qos.Pod{ID: "uid-web", Namespace: "batch", Name: "batch-1"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ev.Evict(waitCtx(t), tc.pod, qos.ReasonMemory, memoryDetail)
			if !errors.Is(err, ErrNotOffline) {
				t.Errorf("Evict = %v, want ErrNotOffline", err)
			}
		})
	}
	if got := calls.got(); len(got) != 0 {
		t.Errorf("%d eviction calls for refused pods, want none: %+v", len(got), got)
	}
}

func TestEvictAPIErrors(t *testing.T) {
	t.Parallel()
	podsResource := schema.GroupResource{Resource: "pods"}
	tests := []struct {
		name    string
		respond error
		wantErr func(error) bool
	}{
		{"pdb 429", apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10), apierrors.IsTooManyRequests},
		{"server error", apierrors.NewInternalError(errors.New("etcd down")), apierrors.IsInternalError},
		{"uid changed", apierrors.NewConflict(podsResource, "batch-1", errors.New("uid precondition")), apierrors.IsConflict},
		{"already gone", apierrors.NewNotFound(podsResource, "batch-1"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev, client, calls := evictSetup(t, offlinePod("batch-1"), offlinePod("batch-2"))
			events := eventWatch(t, client)
			calls.respond = func(e *policyv1.Eviction) error {
				if e.Name == "batch-1" {
					return tc.respond
				}
				return nil
			}
			err := ev.Evict(waitCtx(t), victim("uid-batch-1"), qos.ReasonCPU, "cpu")
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Evict = %v, want nil", err)
			case tc.wantErr != nil && !tc.wantErr(err):
				t.Fatalf("Evict = %v, want an error wrapping the API error %v", err, tc.respond)
			case errors.Is(err, ErrNotOffline):
				t.Fatalf("Evict = %v, an API failure is not a refusal", err)
			}
			// No Event for batch-1: the first Events are batch-2's.
			if err := ev.Evict(waitCtx(t), victim("uid-batch-2"), qos.ReasonCPU, "cpu"); err != nil {
				t.Fatal(err)
			}
			for _, e := range nextEvents(t, events, 2) {
				if strings.Contains(e.Message, "batch-1") || e.InvolvedObject.Name == "batch-1" {
					t.Errorf("event %q on %+v after a failed eviction of batch-1", e.Message, e.InvolvedObject)
				}
			}
			if n := len(calls.got()); n != 2 {
				t.Errorf("%d eviction calls, want 2", n)
			}
		})
	}
}

func TestEvictTerminating(t *testing.T) {
	t.Parallel()
	ev, _, calls := evictSetup(t, offlinePod("batch-1", func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }))
	if err := ev.Evict(waitCtx(t), victim("uid-batch-1"), qos.ReasonWindow, "outside the colocation time windows"); err != nil {
		t.Fatalf("Evict of a terminating pod = %v, want nil", err)
	}
	if n := len(calls.got()); n != 0 {
		t.Errorf("%d eviction calls for a terminating pod, want 0", n)
	}
}
