package deviceplugin

import (
	"context"
	"fmt"

	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

// service is the gRPC DevicePlugin service of a Plugin. GetPreferredAllocation
// and PreStartContainer stay unimplemented: the options say the kubelet need
// not call them.
type service struct {
	pluginapi.UnimplementedDevicePluginServer
	p *Plugin
}

// options are the DevicePluginOptions sent with Register and returned by
// GetDevicePluginOptions.
func options() *pluginapi.DevicePluginOptions {
	return &pluginapi.DevicePluginOptions{PreStartRequired: false, GetPreferredAllocationAvailable: false}
}

func (s *service) GetDevicePluginOptions(context.Context, *pluginapi.Empty) (*pluginapi.DevicePluginOptions, error) {
	return options(), nil
}

// ListAndWatch sends the full list at once and again after every change,
// until the kubelet goes away or the server stops.
func (s *service) ListAndWatch(_ *pluginapi.Empty, stream pluginapi.DevicePlugin_ListAndWatchServer) error {
	devs, changed := s.p.snapshot()
	for {
		if err := stream.Send(&pluginapi.ListAndWatchResponse{Devices: devs}); err != nil {
			return fmt.Errorf("send %d devices: %w", len(devs), err)
		}
		s.p.logger.Debug("sent device list", "devices", len(devs))
		select {
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-changed:
		}
		devs, changed = s.p.snapshot()
	}
}

// Allocate tells each container its share in environment variables (see
// Resource.Env). Every device is the same, so nothing else is needed.
func (s *service) Allocate(_ context.Context, req *pluginapi.AllocateRequest) (*pluginapi.AllocateResponse, error) {
	resp := &pluginapi.AllocateResponse{ContainerResponses: make([]*pluginapi.ContainerAllocateResponse, 0, len(req.GetContainerRequests()))}
	for _, c := range req.GetContainerRequests() {
		units := int64(len(c.GetDevicesIds()))
		resp.ContainerResponses = append(resp.ContainerResponses, &pluginapi.ContainerAllocateResponse{Envs: s.p.res.Env(units)})
	}
	s.p.logger.Debug("allocated", "containers", len(req.GetContainerRequests()))
	return resp, nil
}
