package ctl

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"golang.org/x/sync/errgroup"

	"github.com/bigbox-dev/bigbox/internal/api"
	"github.com/bigbox-dev/bigbox/internal/config"
	"github.com/bigbox-dev/bigbox/internal/kube"
)

// NodeRow is one node of `bigboxctl status --all-nodes`. Amounts of the
// extended resources are device counts.
type NodeRow struct {
	Node string
	// Switch is "enabled" or "disabled" as the NodeSLO says for the node's
	// labels, or "?" when the NodeSLO could not be read or applied.
	Switch string
	// Capacity and Allocatable are what the node advertises.
	CPUCapacity, CPUAllocatable       int64
	MemoryCapacity, MemoryAllocatable int64
	// Allocated is what the pods bound to the node and not finished
	// request.
	CPUAllocated, MemoryAllocated int64
	// OfflinePods counts those pods that are offline work.
	OfflinePods int
	// Used is what the big box uses, read from the node's agent; nil when
	// not asked (UsedErr nil) or when the agent did not answer (UsedErr).
	Used    *Used
	UsedErr error
}

// Used is a node's offline usage as its agent reports it.
type Used struct {
	CPUCores    float64
	MemoryBytes float64
}

// ListNodes reads every node's advertised and allocated bigbox resources
// from the API server, sorted by name. slo decides the Switch column (nil:
// "?").
func ListNodes(ctx context.Context, client kubernetes.Interface, slo *config.NodeSLO) ([]NodeRow, error) {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	pods, err := client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	rows := make([]NodeRow, len(nodes.Items))
	index := make(map[string]int, len(rows))
	for i := range nodes.Items {
		n := &nodes.Items[i]
		rows[i] = NodeRow{
			Node:              n.Name,
			Switch:            "?",
			CPUCapacity:       quantityValue(n.Status.Capacity, ResourceCPU),
			CPUAllocatable:    quantityValue(n.Status.Allocatable, ResourceCPU),
			MemoryCapacity:    quantityValue(n.Status.Capacity, ResourceMemory),
			MemoryAllocatable: quantityValue(n.Status.Allocatable, ResourceMemory),
		}
		if slo != nil {
			if on, err := EnabledOn(slo, n.Labels); err == nil {
				rows[i].Switch = map[bool]string{true: "enabled", false: "disabled"}[on]
			}
		}
		index[n.Name] = i
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		at, ok := index[p.Spec.NodeName]
		if !ok || finished(p) {
			continue
		}
		rows[at].CPUAllocated += podRequest(p, ResourceCPU)
		rows[at].MemoryAllocated += podRequest(p, ResourceMemory)
		if kube.IsOffline(p) {
			rows[at].OfflinePods++
		}
	}
	slices.SortFunc(rows, func(a, b NodeRow) int { return strings.Compare(a.Node, b.Node) })
	return rows, nil
}

// podRequest is what the scheduler counts of resource name for pod: the
// larger of the app containers plus the sidecars (init containers with
// restartPolicy Always) and of each other init container plus the sidecars
// started before it. A missing request is the limit, as the API server
// defaults it for extended resources.
func podRequest(p *corev1.Pod, name corev1.ResourceName) int64 {
	amount := func(c *corev1.Container) int64 {
		if q, ok := c.Resources.Requests[name]; ok {
			return q.Value()
		}
		return quantityValue(c.Resources.Limits, name)
	}
	var sidecars, initPeak int64
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars += amount(c)
			continue
		}
		initPeak = max(initPeak, sidecars+amount(c))
	}
	total := sidecars
	for i := range p.Spec.Containers {
		total += amount(&p.Spec.Containers[i])
	}
	return max(total, initPeak)
}

// FillUsed asks each node's agent for its big box usage, at most limit at a
// time; status fetches the /v1/status of a node. A failure is kept in the
// row's UsedErr.
func FillUsed(ctx context.Context, rows []NodeRow, limit int, status func(ctx context.Context, node string) (api.Status, error)) {
	var g errgroup.Group
	g.SetLimit(max(limit, 1))
	for i := range rows {
		g.Go(func() error {
			st, err := status(ctx, rows[i].Node)
			if err != nil {
				rows[i].UsedErr = err
				return nil // kept in the row, shown as "?"
			}
			rows[i].Used = &Used{CPUCores: st.CPU.Offline, MemoryBytes: st.Memory.Offline}
			return nil
		})
	}
	_ = g.Wait() // every goroutine returns nil; errors are in the rows
}

// WriteNodes prints rows as a table, amounts converted from devices to
// cores and bytes with units.
func WriteNodes(w io.Writer, rows []NodeRow, units config.UnitSizes) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := &printer{w: tw}
	p.f("NODE\tSWITCH\tCPU CAPACITY\tCPU ALLOCATABLE\tCPU ALLOCATED\tCPU USED\tMEMORY CAPACITY\tMEMORY ALLOCATABLE\tMEMORY ALLOCATED\tMEMORY USED\tOFFLINE PODS\n")
	cpu := func(devices int64) string { return cores(float64(devices*units.CPUMilli) / 1000) }
	mem := func(devices int64) string { return byteSize(float64(devices) * float64(units.MemoryBytes)) }
	var failed []string
	for _, r := range rows {
		usedCPU, usedMem := "-", "-"
		switch {
		case r.Used != nil:
			usedCPU, usedMem = cores(r.Used.CPUCores), byteSize(r.Used.MemoryBytes)
		case r.UsedErr != nil:
			usedCPU, usedMem = "?", "?"
			failed = append(failed, fmt.Sprintf("used on %s: %v", r.Node, r.UsedErr))
		}
		p.f("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", r.Node, r.Switch,
			cpu(r.CPUCapacity), cpu(r.CPUAllocatable), cpu(r.CPUAllocated), usedCPU,
			mem(r.MemoryCapacity), mem(r.MemoryAllocatable), mem(r.MemoryAllocated), usedMem, r.OfflinePods)
	}
	if p.err != nil {
		return p.err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	p = &printer{w: w}
	for _, f := range failed {
		p.f("%s\n", f)
	}
	return p.err
}
