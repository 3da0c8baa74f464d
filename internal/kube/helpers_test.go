package kube

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

// testTimeout bounds every wait; a pass takes milliseconds.
const testTimeout = 10 * time.Second

const testNode = "node-a"

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testLoggerB logs only warnings, so a benchmark measures no logging.
func testLoggerB(b *testing.B) *slog.Logger {
	return slog.New(slog.NewTextHandler(b.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// cacheSynced waits for w's first sync within testTimeout.
func cacheSynced(ctx context.Context, w *PodWatcher) bool {
	ctx, cancel := context.WithTimeout(ctx, testTimeout)
	defer cancel()
	return cache.WaitForCacheSync(ctx.Done(), w.HasSynced)
}

// waitCtx is a context that ends after testTimeout or with the test.
func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// runInBackground runs run until the test ends, then cancels it and waits
// for it to return nil.
func runInBackground(t *testing.T, run func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var err error
	wg.Go(func() { err = run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
	})
}

func waitSynced(t *testing.T, synced ...cache.InformerSynced) {
	t.Helper()
	if !cache.WaitForCacheSync(waitCtx(t).Done(), synced...) {
		t.Fatalf("informer did not sync within %s", testTimeout)
	}
}

// receive waits for one value on ch.
func receive(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-waitCtx(t).Done():
		t.Fatalf("no %s within %s", what, testTimeout)
	}
}

// eventWatch watches the Events of every namespace from now on.
func eventWatch(t *testing.T, client *fake.Clientset) watch.Interface {
	t.Helper()
	w, err := client.CoreV1().Events(metav1.NamespaceAll).Watch(waitCtx(t), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("watch events: %v", err)
	}
	t.Cleanup(w.Stop)
	return w
}

// nextEvents returns the next n Events created.
func nextEvents(t *testing.T, w watch.Interface, n int) []corev1.Event {
	t.Helper()
	ctx := waitCtx(t)
	var out []corev1.Event
	for len(out) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("event watch closed after %d of %d events", len(out), n)
			}
			e, isEvent := ev.Object.(*corev1.Event)
			if ev.Type != watch.Added || !isEvent {
				continue
			}
			out = append(out, *e)
		case <-ctx.Done():
			t.Fatalf("got %d of %d events within %s: %+v", len(out), n, testTimeout, out)
		}
	}
	return out
}

// listSelectors records the field selectors of the list calls on resource.
func listSelectors(client *fake.Clientset, resource string) func() []string {
	var mu sync.Mutex
	var got []string
	client.PrependReactor("list", resource, func(a clienttesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, a.(clienttesting.ListAction).GetListRestrictions().Fields.String())
		return false, nil, nil
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// podOpt changes a test pod.
type podOpt func(*corev1.Pod)

func newPod(name, node string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "batch", Name: name,
			UID: types.UID("uid-" + name),
		},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "main"}},
		},
		Status: corev1.PodStatus{QOSClass: corev1.PodQOSBestEffort},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func withLabel(k, v string) podOpt {
	return func(p *corev1.Pod) {
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		p.Labels[k] = v
	}
}

func withRequest(name corev1.ResourceName, q string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{name: resource.MustParse(q)}
	}
}

func withPriority(v int32) podOpt { return func(p *corev1.Pod) { p.Spec.Priority = &v } }

func withQOS(c corev1.PodQOSClass) podOpt { return func(p *corev1.Pod) { p.Status.QOSClass = c } }

func offlinePod(name string, opts ...podOpt) *corev1.Pod {
	return newPod(name, testNode, append([]podOpt{withLabel(ColocationLabel, "true")}, opts...)...)
}
