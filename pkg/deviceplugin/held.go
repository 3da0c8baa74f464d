package deviceplugin

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"
)

// podResourcesMaxMsgBytes is the kubelet's own limit for PodResources
// responses (podresources.DefaultMaxMsgSize); a node full of offline pods
// lists many device IDs.
const podResourcesMaxMsgBytes = 16 << 20

// podLister is the part of the PodResources API this package uses.
type podLister interface {
	List(ctx context.Context, in *podresourcesv1.ListPodResourcesRequest, opts ...grpc.CallOption) (*podresourcesv1.ListPodResourcesResponse, error)
}

// HeldDeviceIDs returns, for each of resourceNames, the IDs of the devices
// that the kubelet's pods hold (every container, init containers too),
// sorted and without duplicates. A resource nobody holds maps to an empty
// slice.
func HeldDeviceIDs(ctx context.Context, client podLister, resourceNames []string) (map[string][]string, error) {
	resp, err := client.List(ctx, &podresourcesv1.ListPodResourcesRequest{})
	if err != nil {
		return nil, fmt.Errorf("list pod resources: %w", err)
	}
	held := make(map[string][]string, len(resourceNames))
	for _, name := range resourceNames {
		held[name] = nil
	}
	for _, pod := range resp.GetPodResources() {
		for _, c := range pod.GetContainers() {
			for _, d := range c.GetDevices() {
				if ids, ok := held[d.GetResourceName()]; ok {
					held[d.GetResourceName()] = append(ids, d.GetDeviceIds()...)
				}
			}
		}
	}
	for name, ids := range held {
		held[name] = normalizeIDs(ids)
	}
	return held, nil
}

// HeldFromPodResources returns how many devices of each of resourceNames the
// kubelet's pods hold (distinct device IDs).
func HeldFromPodResources(ctx context.Context, client podLister, resourceNames []string) (map[string]int64, error) {
	ids, err := HeldDeviceIDs(ctx, client, resourceNames)
	if err != nil {
		return nil, err
	}
	units := make(map[string]int64, len(ids))
	for name, l := range ids {
		units[name] = int64(len(l))
	}
	return units, nil
}

// HeldSource reads held devices from the kubelet's PodResources socket. It
// connects on the first call and reconnects after a kubelet restart by
// itself; the agent polls it and passes the IDs to Plugin.SetHeld.
type HeldSource struct {
	conn          *grpc.ClientConn
	client        podresourcesv1.PodResourcesListerClient
	resourceNames []string
}

// NewHeldSource returns a source for resourceNames reading the PodResources
// API at socketPath (the agent's --pod-resources-socket). Close it
// when done.
func NewHeldSource(socketPath string, resourceNames []string) (*HeldSource, error) {
	conn, err := dialUnix(socketPath, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(podResourcesMaxMsgBytes)))
	if err != nil {
		return nil, fmt.Errorf("pod resources: %w", err)
	}
	return &HeldSource{
		conn:          conn,
		client:        podresourcesv1.NewPodResourcesListerClient(conn),
		resourceNames: append([]string(nil), resourceNames...),
	}, nil
}

// Held returns the held device IDs per resource name (see HeldDeviceIDs).
// It fails fast while the kubelet is down; bound ctx with a timeout anyway.
func (h *HeldSource) Held(ctx context.Context) (map[string][]string, error) {
	return HeldDeviceIDs(ctx, h.client, h.resourceNames)
}

// Close closes the connection.
func (h *HeldSource) Close() error {
	if err := h.conn.Close(); err != nil {
		return fmt.Errorf("close pod resources client: %w", err)
	}
	return nil
}
