package deviceplugin

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
	podresourcesv1 "k8s.io/kubelet/pkg/apis/podresources/v1"
	testingclock "k8s.io/utils/clock/testing"
)

// waitTimeout bounds every wait for something the code under test does by
// itself; the waits end as soon as it happens.
const waitTimeout = 10 * time.Second

// fakeKubelet is the kubelet's Registration service on a real unix socket.
type fakeKubelet struct {
	pluginapi.UnimplementedRegistrationServer
	server *grpc.Server
	calls  chan *pluginapi.RegisterRequest

	mu        sync.Mutex
	failFirst int // this many Register calls fail
}

func startFakeKubelet(t *testing.T, path string, failFirst int) *fakeKubelet {
	t.Helper()
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("listen %s: %v", path, err)
	}
	f := &fakeKubelet{server: grpc.NewServer(), calls: make(chan *pluginapi.RegisterRequest, 64), failFirst: failFirst}
	pluginapi.RegisterRegistrationServer(f.server, f)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f.server.Serve(lis); err != nil {
			t.Errorf("fake kubelet serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		f.server.Stop()
		<-done
	})
	return f
}

// stop stops serving; closing the listener removes kubelet.sock.
func (f *fakeKubelet) stop() { f.server.Stop() }

func (f *fakeKubelet) Register(_ context.Context, req *pluginapi.RegisterRequest) (*pluginapi.Empty, error) {
	f.calls <- req
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failFirst > 0 {
		f.failFirst--
		return nil, status.Error(codes.Unavailable, "fake kubelet not ready")
	}
	return &pluginapi.Empty{}, nil
}

// waitRegister returns the next Register call, failing the test when none
// comes before ctx is done.
func (f *fakeKubelet) waitRegister(ctx context.Context, t *testing.T) *pluginapi.RegisterRequest {
	t.Helper()
	select {
	case req := <-f.calls:
		return req
	case <-ctx.Done():
		t.Fatalf("no Register call: %v", ctx.Err())
		return nil
	}
}

// fakePodResources is the kubelet's PodResources List on a real unix socket.
type fakePodResources struct {
	podresourcesv1.UnimplementedPodResourcesListerServer
	resp *podresourcesv1.ListPodResourcesResponse
	err  error
}

func (f *fakePodResources) List(context.Context, *podresourcesv1.ListPodResourcesRequest) (*podresourcesv1.ListPodResourcesResponse, error) {
	return f.resp, f.err
}

func startFakePodResources(t *testing.T, path string, f *fakePodResources) {
	t.Helper()
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("listen %s: %v", path, err)
	}
	srv := grpc.NewServer()
	podresourcesv1.RegisterPodResourcesListerServer(srv, f)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(lis); err != nil {
			t.Errorf("fake pod resources serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
}

// notifyClock is a fake clock that reports each After call, so a test can
// step it exactly when the code waits.
type notifyClock struct {
	*testingclock.FakeClock
	after chan time.Duration
}

func newNotifyClock() *notifyClock {
	return &notifyClock{FakeClock: testingclock.NewFakeClock(time.Unix(0, 0)), after: make(chan time.Duration, 64)}
}

func (c *notifyClock) After(d time.Duration) <-chan time.Time {
	ch := c.FakeClock.After(d)
	c.after <- d
	return ch
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newTestPlugin(t *testing.T, res Resource, dir string, opts ...Option) *Plugin {
	t.Helper()
	p, err := New(res, dir, testLogger(t), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// runPlugin runs p until the test ends (or stop is called) and returns a
// stop function that cancels Run and returns its error.
func runPlugin(t *testing.T, p *Plugin) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return stop
}

// startRegistered starts a fake kubelet and p in dir and waits for the
// registration.
func startRegistered(t *testing.T, p *Plugin, dir string) *fakeKubelet {
	t.Helper()
	k := startFakeKubelet(t, filepath.Join(dir, "kubelet.sock"), 0)
	runPlugin(t, p)
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	k.waitRegister(ctx, t)
	return k
}

// pluginClient dials the plugin socket at path.
func pluginClient(t *testing.T, path string, opts ...grpc.DialOption) pluginapi.DevicePluginClient {
	t.Helper()
	conn, err := dialUnix(path, opts...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Errorf("close client: %v", err)
		}
	})
	return pluginapi.NewDevicePluginClient(conn)
}

// watch opens ListAndWatch; it ends with the test or after waitTimeout.
func watch(t *testing.T, c pluginapi.DevicePluginClient) pluginapi.DevicePlugin_ListAndWatchClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	t.Cleanup(cancel)
	stream, err := c.ListAndWatch(ctx, &pluginapi.Empty{}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatalf("ListAndWatch: %v", err)
	}
	return stream
}

// recvIDs receives one list and returns its IDs and health.
func recvIDs(t *testing.T, stream pluginapi.DevicePlugin_ListAndWatchClient) (ids []string, health map[string]string) {
	t.Helper()
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	health = map[string]string{}
	for _, d := range resp.GetDevices() {
		ids = append(ids, d.GetID())
		health[d.GetID()] = d.GetHealth()
	}
	return ids, health
}

var errFake = errors.New("fake failure")
