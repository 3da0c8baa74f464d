package ctl

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/internal/api"
	"github.com/bigbox-dev/bigbox/internal/kube"
)

// The extended resources the agent advertises (pkg/deviceplugin names them;
// it is not imported, to keep gRPC out of bigboxctl).
const (
	ResourceCPU    corev1.ResourceName = "bigbox.dev/cpu"
	ResourceMemory corev1.ResourceName = "bigbox.dev/memory"
)

// NodeState is what a node still holds of offline work, as the API server
// shows it.
type NodeState struct {
	Node string
	// Gone is set when the node does not exist (any more).
	Gone bool
	// OfflinePods are the offline pods on the node that have not finished,
	// "namespace/name", with " (terminating)" once deleted.
	OfflinePods []string
	// CPUUnits and MemoryUnits are the node's allocatable bigbox.dev/cpu
	// and bigbox.dev/memory, in devices.
	CPUUnits, MemoryUnits int64
}

// Clean reports whether the node is done: no offline pod left and nothing
// advertised (a disabled agent advertises exactly what running offline
// pods hold, so with the pods gone that is zero).
func (s NodeState) Clean() bool {
	return s.Gone || len(s.OfflinePods) == 0 && s.CPUUnits == 0 && s.MemoryUnits == 0
}

func (s NodeState) String() string {
	if s.Gone {
		return "node " + s.Node + ": gone"
	}
	if s.Clean() {
		return "node " + s.Node + ": clean (no offline pod, nothing advertised)"
	}
	pods := "no offline pod"
	if n := len(s.OfflinePods); n > 0 {
		pods = fmt.Sprintf("%d offline pod(s) (%s)", n, strings.Join(s.OfflinePods, ", "))
	}
	return fmt.Sprintf("node %s: %s; allocatable %s %d, %s %d", s.Node, pods, ResourceCPU, s.CPUUnits, ResourceMemory, s.MemoryUnits)
}

// ObserveNodes reads the state of the named nodes from the API server: each
// node's allocatable and the offline pods (kube.IsOffline) bound to it that
// have not succeeded or failed.
func ObserveNodes(ctx context.Context, client kubernetes.Interface, names []string) ([]NodeState, error) {
	states := make([]NodeState, len(names))
	index := make(map[string]int, len(names))
	for i, name := range names {
		states[i].Node = name
		index[name] = i
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			states[i].Gone = true
			continue
		case err != nil:
			return nil, fmt.Errorf("get node %s: %w", name, err)
		}
		states[i].CPUUnits = quantityValue(n.Status.Allocatable, ResourceCPU)
		states[i].MemoryUnits = quantityValue(n.Status.Allocatable, ResourceMemory)
	}
	opts := metav1.ListOptions{}
	if len(names) == 1 {
		opts.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", names[0]).String()
	}
	pods, err := client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		at, ok := index[p.Spec.NodeName]
		if !ok || finished(p) || !kube.IsOffline(p) {
			continue
		}
		name := p.Namespace + "/" + p.Name
		if p.DeletionTimestamp != nil {
			name += " (terminating)"
		}
		states[at].OfflinePods = append(states[at].OfflinePods, name)
	}
	for i := range states {
		slices.Sort(states[i].OfflinePods)
	}
	return states, nil
}

func finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func quantityValue(l corev1.ResourceList, name corev1.ResourceName) int64 {
	q, ok := l[name]
	if !ok {
		return 0
	}
	return q.Value()
}

// Progress reports, while it waits, how a disable advances.
type Progress struct {
	// Clock ticks the polls and measures the timeout.
	Clock clock.WithTicker
	// Interval between polls (one second if zero).
	Interval time.Duration
	// Timeout gives up with an error naming what is left.
	Timeout time.Duration
	// Out receives a line for each change, and the unfinished ones again
	// after Heartbeat without a change (ten intervals if zero).
	Out       io.Writer
	Heartbeat time.Duration
}

// WaitNodes waits until every named node is clean (NodeState.Clean).
func (p Progress) WaitNodes(ctx context.Context, client kubernetes.Interface, names []string) error {
	return p.wait(ctx, func(ctx context.Context) ([]progressItem, bool, error) {
		states, err := ObserveNodes(ctx, client, names)
		if err != nil {
			return nil, false, err
		}
		items := make([]progressItem, len(states))
		done := true
		for i, s := range states {
			items[i] = progressItem{key: s.Node, text: s.String(), done: s.Clean()}
			done = done && s.Clean()
		}
		return items, done, nil
	})
}

// AgentClean reports whether a standalone agent's status shows the switch
// off and nothing left: no offline pod in the big box and nothing lent.
func AgentClean(st api.Status) bool {
	return !st.Enabled && len(st.OfflinePods) == 0 && st.CPU.Lent == 0 && st.Memory.Lent == 0
}

// WaitAgent waits until the agent at addr (its /v1/status) is clean
// (AgentClean). An agent that does not answer is reported and asked again.
func (p Progress) WaitAgent(ctx context.Context, client *http.Client, addr string) error {
	return p.wait(ctx, func(ctx context.Context) ([]progressItem, bool, error) {
		st, err := FetchStatus(ctx, client, addr)
		if err != nil {
			return nil, false, err
		}
		state := "enabled"
		if !st.Enabled {
			state = "disabled"
		}
		text := fmt.Sprintf("agent %s: colocation %s, %d offline pod(s), lent cpu %s memory %s, big box cpu %s memory %s",
			st.Node, state, len(st.OfflinePods), cores(st.CPU.Lent), byteSize(st.Memory.Lent), cores(st.CPU.Offline), byteSize(st.Memory.Offline))
		if AgentClean(st) {
			text = fmt.Sprintf("agent %s: clean (colocation disabled, no offline pod, nothing lent)", st.Node)
		}
		return []progressItem{{key: addr, text: text, done: AgentClean(st)}}, AgentClean(st), nil
	})
}

// progressItem is one line of progress: the state of one node or agent.
type progressItem struct {
	key, text string
	done      bool
}

// wait polls observe every interval, prints each item when its text
// changes, and returns when observe says done, ctx ends or the timeout
// passes. A failed poll is printed (once while it repeats) and retried.
func (p Progress) wait(ctx context.Context, observe func(context.Context) ([]progressItem, bool, error)) error {
	interval := p.Interval
	if interval <= 0 {
		interval = time.Second
	}
	heartbeat := p.Heartbeat
	if heartbeat <= 0 {
		heartbeat = 10 * interval
	}
	start := p.Clock.Now()
	lastLine := start
	ticker := p.Clock.NewTicker(interval)
	defer ticker.Stop()
	pr := &printer{w: p.Out}
	last := map[string]string{}
	var pending []string
	for {
		items, done, err := observe(ctx)
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("stopped waiting: %w", ctx.Err())
		}
		elapsed := p.Clock.Since(start)
		stamp := fmt.Sprintf("%6s ", elapsed.Truncate(time.Second))
		if err != nil {
			items = []progressItem{{key: "\x00error", text: "cannot tell: " + err.Error()}}
		} else {
			delete(last, "\x00error")
		}
		beat := p.Clock.Since(lastLine) >= heartbeat
		pending = pending[:0]
		for _, it := range items {
			if last[it.key] != it.text || beat && !it.done {
				pr.f("%s%s\n", stamp, it.text)
				last[it.key] = it.text
				lastLine = p.Clock.Now()
			}
			if !it.done {
				pending = append(pending, it.text)
			}
		}
		if pr.err != nil {
			return fmt.Errorf("write progress: %w", pr.err)
		}
		if done {
			pr.f("%sdone\n", stamp)
			return pr.err
		}
		if p.Timeout > 0 && elapsed >= p.Timeout {
			return fmt.Errorf("not done after %s: %s", p.Timeout, strings.Join(pending, "; "))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped waiting: %w", ctx.Err())
		case <-ticker.C():
		}
	}
}
