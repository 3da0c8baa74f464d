package deviceplugin

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

func seq(from, to int) []string {
	var ids []string
	for i := from; i < to; i++ {
		ids = append(ids, strconv.Itoa(i))
	}
	return ids
}

func TestRunRegisters(t *testing.T) {
	t.Parallel()
	for _, res := range []Resource{CPU(DefaultCPUUnitMillicores), Memory(DefaultMemoryUnitBytes)} {
		t.Run(res.Name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			p := newTestPlugin(t, res, dir)
			k := startFakeKubelet(t, filepath.Join(dir, "kubelet.sock"), 0)
			runPlugin(t, p)
			ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
			defer cancel()
			req := k.waitRegister(ctx, t)

			wantEndpoint := "bigbox-" + res.shortName() + ".sock"
			if req.GetVersion() != pluginapi.Version || req.GetResourceName() != res.Name || req.GetEndpoint() != wantEndpoint {
				t.Errorf("Register(version %q, resource %q, endpoint %q), want (%q, %q, %q)",
					req.GetVersion(), req.GetResourceName(), req.GetEndpoint(), pluginapi.Version, res.Name, wantEndpoint)
			}
			if req.GetOptions().GetPreStartRequired() || req.GetOptions().GetGetPreferredAllocationAvailable() {
				t.Errorf("Register options %v, want none", req.GetOptions())
			}
			// The kubelet dials <dir>/<endpoint>.
			opts, err := pluginClient(t, filepath.Join(dir, req.GetEndpoint())).GetDevicePluginOptions(ctx, &pluginapi.Empty{})
			if err != nil {
				t.Fatalf("GetDevicePluginOptions: %v", err)
			}
			if opts.GetPreStartRequired() || opts.GetGetPreferredAllocationAvailable() {
				t.Errorf("GetDevicePluginOptions = %v, want none", opts)
			}
		})
	}
}

func TestListAndWatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := newTestPlugin(t, CPU(100), dir)
	p.SetAmount(3)
	startRegistered(t, p, dir)
	stream := watch(t, pluginClient(t, p.SocketPath()))

	ids, health := recvIDs(t, stream)
	if want := seq(0, 3); !slices.Equal(ids, want) {
		t.Fatalf("first list %v, want %v", ids, want)
	}
	for id, h := range health {
		if h != pluginapi.Healthy {
			t.Errorf("device %s is %s, want Healthy", id, h)
		}
	}

	// Nothing changes: no list may be sent, so the next one received must
	// be the one after the real change below.
	p.SetAmount(3)
	p.SetHealthy(true)
	p.SetHeld(nil)
	p.SetHeld([]string{})

	steps := []struct {
		name   string
		change func()
		want   []string
		sick   []string // Unhealthy IDs
	}{
		{name: "grow", change: func() { p.SetAmount(5) }, want: seq(0, 5)},
		{name: "shrink removes highest", change: func() { p.SetAmount(2) }, want: seq(0, 2)},
		{name: "held beyond amount stay listed", change: func() { p.SetHeld([]string{"7", "1", "4", "4"}) }, want: []string{"1", "4", "7"}},
		// SetAmount(0) lists the same (held) devices: no list is sent.
		{name: "grow fills lowest free", change: func() { p.SetAmount(0); p.SetAmount(6) }, want: []string{"0", "1", "2", "3", "4", "7"}},
		{name: "unhealthy spares held", change: func() { p.SetHealthy(false) }, want: []string{"0", "1", "2", "3", "4", "7"}, sick: []string{"0", "2", "3"}},
		{name: "held released", change: func() { p.SetHeld(nil) }, want: seq(0, 6), sick: seq(0, 6)},
		{name: "healthy again", change: func() { p.SetHealthy(true) }, want: seq(0, 6)},
	}
	for _, s := range steps {
		s.change()
		ids, health := recvIDs(t, stream)
		if !slices.Equal(ids, s.want) {
			t.Fatalf("%s: list %v, want %v", s.name, ids, s.want)
		}
		for _, id := range ids {
			want := pluginapi.Healthy
			if slices.Contains(s.sick, id) {
				want = pluginapi.Unhealthy
			}
			if health[id] != want {
				t.Errorf("%s: device %s is %s, want %s", s.name, id, health[id], want)
			}
		}
	}
	if devices, held := p.Advertised(); devices != 6 || held != 0 {
		t.Errorf("Advertised() = %d, %d, want 6, 0", devices, held)
	}
}

func TestListAndWatchStreams(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := newTestPlugin(t, Memory(64<<20), dir)
	startRegistered(t, p, dir)
	c := pluginClient(t, p.SocketPath())
	a, b := watch(t, c), watch(t, c)
	for _, s := range []pluginapi.DevicePlugin_ListAndWatchClient{a, b} {
		if ids, _ := recvIDs(t, s); len(ids) != 0 {
			t.Fatalf("first list %v, want empty", ids)
		}
	}
	p.SetAmount(4)
	for _, s := range []pluginapi.DevicePlugin_ListAndWatchClient{a, b} {
		if ids, _ := recvIDs(t, s); !slices.Equal(ids, seq(0, 4)) {
			t.Fatalf("update %v, want %v", ids, seq(0, 4))
		}
	}
}

func TestAllocate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		res     Resource
		devices []int // devices per container
		want    []map[string]string
	}{
		{
			name: "cpu one container", res: CPU(100), devices: []int{3},
			want: []map[string]string{{"BIGBOX_CPU_UNITS": "3", "BIGBOX_CPU_MILLICORES": "300", "BIGBOX_CPU_CORES": "1"}},
		},
		{
			name: "cpu cores round up", res: CPU(100), devices: []int{15, 20},
			want: []map[string]string{
				{"BIGBOX_CPU_UNITS": "15", "BIGBOX_CPU_MILLICORES": "1500", "BIGBOX_CPU_CORES": "2"},
				{"BIGBOX_CPU_UNITS": "20", "BIGBOX_CPU_MILLICORES": "2000", "BIGBOX_CPU_CORES": "2"},
			},
		},
		{
			name: "cpu other unit", res: CPU(250), devices: []int{1},
			want: []map[string]string{{"BIGBOX_CPU_UNITS": "1", "BIGBOX_CPU_MILLICORES": "250", "BIGBOX_CPU_CORES": "1"}},
		},
		{
			name: "memory", res: Memory(64 << 20), devices: []int{2},
			want: []map[string]string{{"BIGBOX_MEMORY_UNITS": "2", "BIGBOX_MEMORY_BYTES": "134217728"}},
		},
		{
			name: "custom prefix", res: Resource{Name: "example.com/mem", UnitSize: 1 << 30, EnvPrefix: "X", Kind: KindMemory}, devices: []int{3},
			want: []map[string]string{{"X_UNITS": "3", "X_BYTES": "3221225472"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newTestPlugin(t, tt.res, t.TempDir())
			req := &pluginapi.AllocateRequest{}
			next := 0
			for _, n := range tt.devices {
				req.ContainerRequests = append(req.ContainerRequests, &pluginapi.ContainerAllocateRequest{DevicesIds: seq(next, next+n)})
				next += n
			}
			resp, err := (&service{p: p}).Allocate(t.Context(), req)
			if err != nil {
				t.Fatalf("Allocate: %v", err)
			}
			if len(resp.GetContainerResponses()) != len(tt.want) {
				t.Fatalf("%d container responses, want %d", len(resp.GetContainerResponses()), len(tt.want))
			}
			for i, c := range resp.GetContainerResponses() {
				if !mapsEqual(c.GetEnvs(), tt.want[i]) {
					t.Errorf("container %d env %v, want %v", i, c.GetEnvs(), tt.want[i])
				}
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestAllocateOverGRPC(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := newTestPlugin(t, CPU(100), dir)
	p.SetAmount(10)
	startRegistered(t, p, dir)
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	resp, err := pluginClient(t, p.SocketPath()).Allocate(ctx, &pluginapi.AllocateRequest{
		ContainerRequests: []*pluginapi.ContainerAllocateRequest{{DevicesIds: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}}},
	})
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	want := map[string]string{"BIGBOX_CPU_UNITS": "10", "BIGBOX_CPU_MILLICORES": "1000", "BIGBOX_CPU_CORES": "1"}
	if got := resp.GetContainerResponses()[0].GetEnvs(); !mapsEqual(got, want) {
		t.Errorf("env %v, want %v", got, want)
	}
}

// TestKubeletRestart plays what the kubelet does on start: delete every
// socket in its directory, then serve kubelet.sock anew. The plugin must be
// registered with the new kubelet within 2 s of kubelet.sock appearing.
func TestKubeletRestart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		deleteSockets bool
	}{
		{name: "all sockets deleted", deleteSockets: true},
		{name: "only kubelet socket replaced", deleteSockets: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			p := newTestPlugin(t, CPU(100), dir)
			p.SetAmount(7)
			k1 := startRegistered(t, p, dir)

			for range 2 { // restart twice: re-registration must keep working
				k1.stop() // removes kubelet.sock
				if tt.deleteSockets {
					entries, err := os.ReadDir(dir)
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range entries {
						if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
							t.Fatal(err)
						}
					}
				}
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
				k2 := startFakeKubelet(t, filepath.Join(dir, "kubelet.sock"), 0)
				req := k2.waitRegister(ctx, t)
				cancel()
				if req.GetResourceName() != CPUResourceName {
					t.Errorf("registered %q, want %q", req.GetResourceName(), CPUResourceName)
				}
				// The kubelet now dials the plugin and gets the same devices.
				ids, _ := recvIDs(t, watch(t, pluginClient(t, filepath.Join(dir, req.GetEndpoint()))))
				if !slices.Equal(ids, seq(0, 7)) {
					t.Errorf("list after restart %v, want %v", ids, seq(0, 7))
				}
				select {
				case extra := <-k1.calls:
					t.Errorf("old kubelet got a Register call %v", extra)
				default:
				}
				k1 = k2
			}
		})
	}
}

func TestStaleSocketCleared(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		stale func(t *testing.T, path string)
	}{
		{name: "dead unix socket", stale: func(t *testing.T, path string) {
			lis, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			lis.SetUnlinkOnClose(false)
			if err := lis.Close(); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "regular file", stale: func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("stale"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			p := newTestPlugin(t, Memory(64<<20), dir)
			tt.stale(t, p.SocketPath())
			p.SetAmount(2)
			startRegistered(t, p, dir)
			if ids, _ := recvIDs(t, watch(t, pluginClient(t, p.SocketPath()))); !slices.Equal(ids, seq(0, 2)) {
				t.Errorf("list %v, want %v", ids, seq(0, 2))
			}
		})
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := newTestPlugin(t, CPU(100), dir)
	k := startFakeKubelet(t, filepath.Join(dir, "kubelet.sock"), 0)
	stop := runPlugin(t, p)
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	k.waitRegister(ctx, t)
	stream := watch(t, pluginClient(t, p.SocketPath()))
	recvIDs(t, stream)

	if err := stop(); err != nil {
		t.Fatalf("Run returned %v, want nil", err)
	}
	if _, err := os.Stat(p.SocketPath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket after Run: stat err %v, want not exist", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kubelet.sock")); err != nil {
		t.Errorf("kubelet socket after Run: %v, want untouched", err)
	}
	if _, err := stream.Recv(); err == nil {
		t.Error("ListAndWatch stream still open after Run returned")
	}
}

func TestRunTwice(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := newTestPlugin(t, CPU(100), dir)
	startRegistered(t, p, dir)
	if err := p.Run(t.Context()); err == nil {
		t.Error("second Run returned nil, want an error")
	}
}

func TestRunMissingDir(t *testing.T) {
	t.Parallel()
	p := newTestPlugin(t, CPU(100), filepath.Join(t.TempDir(), "absent"))
	if err := p.Run(t.Context()); err == nil {
		t.Error("Run on a missing directory returned nil, want an error")
	}
}

// TestRegisterBackoff: a failed registration stops the server (nothing
// half-started), waits on the clock with a doubling backoff, and retries.
func TestRegisterBackoff(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newNotifyClock()
	p := newTestPlugin(t, CPU(100), dir, WithClock(clk), WithBackoff(time.Second, 3*time.Second))
	k := startFakeKubelet(t, filepath.Join(dir, "kubelet.sock"), 3)
	runPlugin(t, p)
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()

	for _, want := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
		k.waitRegister(ctx, t)
		var got time.Duration
		select {
		case got = <-clk.after:
		case <-ctx.Done():
			t.Fatalf("no backoff wait after a failed Register: %v", ctx.Err())
		}
		if got != want {
			t.Errorf("backoff %v, want %v", got, want)
		}
		if _, err := os.Stat(p.SocketPath()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("socket while waiting to retry: stat err %v, want not exist", err)
		}
		clk.Step(got)
	}
	k.waitRegister(ctx, t)
	if _, err := pluginClient(t, p.SocketPath()).GetDevicePluginOptions(ctx, &pluginapi.Empty{}, grpc.WaitForReady(true)); err != nil {
		t.Errorf("plugin after successful Register: %v", err)
	}
}

// TestRegisterWhenKubeletAppears: no kubelet for a long time, so the
// backoff grows to its maximum; once kubelet.sock is created the plugin
// registers at once or after the initial backoff (the socket file exists
// before the kubelet listens), not after the long one.
func TestRegisterWhenKubeletAppears(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newNotifyClock()
	p := newTestPlugin(t, CPU(100), dir, WithClock(clk), WithBackoff(time.Second, 8*time.Second))
	runPlugin(t, p)
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		select {
		case got := <-clk.after:
			if got != want {
				t.Errorf("backoff %v, want %v", got, want)
			}
			clk.Step(got)
		case <-ctx.Done():
			t.Fatalf("no backoff wait: %v", ctx.Err())
		}
	}
	<-clk.after // the next wait (8s) is never stepped

	ctx2, cancel2 := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel2()
	k := startFakeKubelet(t, filepath.Join(dir, "kubelet.sock"), 0)
	for {
		select {
		case <-k.calls:
			return
		case got := <-clk.after:
			if got != time.Second {
				t.Fatalf("backoff after the kubelet appeared %v, want %v", got, time.Second)
			}
			clk.Step(got)
		case <-ctx2.Done():
			t.Fatalf("no Register call: %v", ctx2.Err())
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		res     Resource
		opts    []Option
		wantErr bool
	}{
		{name: "cpu", res: CPU(100)},
		{name: "memory", res: Memory(64 << 20)},
		{name: "no domain", res: Resource{Name: "cpu", UnitSize: 1, EnvPrefix: "X", Kind: KindCPU}, wantErr: true},
		{name: "kubernetes.io domain", res: Resource{Name: "kubernetes.io/cpu", UnitSize: 1, EnvPrefix: "X", Kind: KindCPU}, wantErr: true},
		{name: "upper case", res: Resource{Name: "bigbox.dev/CPU", UnitSize: 1, EnvPrefix: "X", Kind: KindCPU}, wantErr: true},
		{name: "slash in name", res: Resource{Name: "bigbox.dev/a/b", UnitSize: 1, EnvPrefix: "X", Kind: KindCPU}, wantErr: true},
		{name: "zero unit", res: CPU(0), wantErr: true},
		{name: "negative unit", res: Memory(-1), wantErr: true},
		{name: "bad env prefix", res: Resource{Name: "bigbox.dev/cpu", UnitSize: 1, EnvPrefix: "1X", Kind: KindCPU}, wantErr: true},
		{name: "lower env prefix", res: Resource{Name: "bigbox.dev/cpu", UnitSize: 1, EnvPrefix: "x", Kind: KindCPU}, wantErr: true},
		{name: "no kind", res: Resource{Name: "bigbox.dev/cpu", UnitSize: 1, EnvPrefix: "X"}, wantErr: true},
		{name: "bad backoff", res: CPU(100), opts: []Option{WithBackoff(time.Second, time.Millisecond)}, wantErr: true},
		{name: "zero timeout", res: CPU(100), opts: []Option{WithTimeout(0)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.res, t.TempDir(), testLogger(t), tt.opts...)
			if (err != nil) != tt.wantErr {
				t.Errorf("New() error = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestUnits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		res    Resource
		amount int64
		want   int64
	}{
		{name: "cpu exact", res: CPU(100), amount: 2500, want: 25},
		{name: "cpu rounds down", res: CPU(100), amount: 2599, want: 25},
		{name: "negative", res: CPU(100), amount: -5, want: 0},
		{name: "memory 2 TiB", res: Memory(64 << 20), amount: 2 << 40, want: 32768},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.res.UnitsFloor(tt.amount); got != tt.want {
				t.Errorf("UnitsFloor(%d) = %d, want %d", tt.amount, got, tt.want)
			}
			if got := tt.res.Amount(tt.want); got > max(tt.amount, 0) {
				t.Errorf("Amount(%d) = %d, more than %d", tt.want, got, tt.amount)
			}
		})
	}
}

func TestBuildDevices(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		units   int64
		held    []string
		healthy bool
		want    []string
		sick    []string
	}{
		{name: "none", units: 0, healthy: true, want: []string{}},
		{name: "negative", units: -3, healthy: true, want: []string{}},
		{name: "first n", units: 3, healthy: true, want: seq(0, 3)},
		{name: "held inside", units: 3, held: []string{"1"}, healthy: true, want: seq(0, 3)},
		{name: "held above", units: 3, held: []string{"5"}, healthy: true, want: []string{"0", "1", "5"}},
		{name: "held more than units", units: 1, held: []string{"2", "3"}, healthy: true, want: []string{"2", "3"}},
		{name: "foreign ids kept", units: 2, held: []string{"cpu-0007", "01"}, healthy: true, want: []string{"01", "cpu-0007"}},
		{name: "unhealthy", units: 3, held: []string{"1"}, healthy: false, want: seq(0, 3), sick: []string{"0", "2"}},
		{name: "capped", units: MaxDevices + 10, healthy: true, want: seq(0, MaxDevices)},
		{name: "cap never below held", units: MaxDevices + 10, held: []string{strconv.Itoa(MaxDevices + 3)}, healthy: true,
			want: append(seq(0, MaxDevices-1), strconv.Itoa(MaxDevices+3))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			devs := buildDevices(tt.units, normalizeIDs(tt.held), tt.healthy)
			ids := make([]string, 0, len(devs))
			for _, d := range devs {
				ids = append(ids, d.GetID())
				want := pluginapi.Healthy
				if slices.Contains(tt.sick, d.GetID()) {
					want = pluginapi.Unhealthy
				}
				if d.GetHealth() != want {
					t.Errorf("device %s is %s, want %s", d.GetID(), d.GetHealth(), want)
				}
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("ids %v, want %v", short(ids), short(tt.want))
			}
		})
	}
}

// short keeps failure messages of long lists readable.
func short(ids []string) []string {
	if len(ids) > 12 {
		return append(append(slices.Clip(ids[:6]), "…"), ids[len(ids)-5:]...)
	}
	return ids
}

// TestListAndWatchSize: the largest lists stay under 1 MiB encoded, and a
// client that accepts no more than 1 MiB receives them.
func TestListAndWatchSize(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	tests := []struct {
		name    string
		res     Resource
		amount  int64 // millicores or bytes
		healthy bool
		want    int
	}{
		{name: "256 cores", res: CPU(DefaultCPUUnitMillicores), amount: 256_000, healthy: true, want: 2560},
		{name: "2 TiB", res: Memory(DefaultMemoryUnitBytes), amount: 2 << 40, healthy: true, want: 32768},
		{name: "2 TiB unhealthy", res: Memory(DefaultMemoryUnitBytes), amount: 2 << 40, healthy: false, want: 32768},
		{name: "max devices unhealthy", res: Memory(1), amount: 1 << 40, healthy: false, want: MaxDevices},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			units := tt.res.UnitsFloor(tt.amount)
			resp := &pluginapi.ListAndWatchResponse{Devices: buildDevices(units, nil, tt.healthy)}
			if len(resp.Devices) != tt.want {
				t.Fatalf("%d devices, want %d", len(resp.Devices), tt.want)
			}
			size := proto.Size(resp)
			t.Logf("%d devices: %d bytes encoded", len(resp.Devices), size)
			if size >= limit {
				t.Errorf("ListAndWatchResponse is %d bytes, want < %d", size, limit)
			}

			dir := t.TempDir()
			p := newTestPlugin(t, tt.res, dir)
			p.SetAmount(units)
			p.SetHealthy(tt.healthy)
			startRegistered(t, p, dir)
			c := pluginClient(t, p.SocketPath(), grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(limit)))
			if ids, _ := recvIDs(t, watch(t, c)); len(ids) != tt.want {
				t.Errorf("received %d devices, want %d", len(ids), tt.want)
			}
		})
	}
}

// TestSettersConcurrent runs the setters against a watching stream; run
// with -race.
func TestSettersConcurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := newTestPlugin(t, CPU(100), dir)
	startRegistered(t, p, dir)
	stream := watch(t, pluginClient(t, p.SocketPath()))
	recvIDs(t, stream)

	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 200 {
			p.SetAmount(int64(i % 17))
		}
	})
	wg.Go(func() {
		for i := range 200 {
			p.SetHeld([]string{strconv.Itoa(i % 5)})
		}
	})
	wg.Go(func() {
		for i := range 200 {
			p.SetHealthy(i%2 == 0)
		}
	})
	wg.Wait()
	p.SetHeld(nil)
	p.SetHealthy(true)
	p.SetAmount(100)
	// The stream ends on the final list.
	for {
		ids, _ := recvIDs(t, stream)
		if slices.Equal(ids, seq(0, 100)) {
			break
		}
	}
}

func BenchmarkListAndWatchEncode(b *testing.B) {
	units := Memory(DefaultMemoryUnitBytes).UnitsFloor(2 << 40)
	resp := &pluginapi.ListAndWatchResponse{Devices: buildDevices(units, nil, true)}
	b.ReportAllocs()
	var size int
	for b.Loop() {
		buf, err := proto.Marshal(resp)
		if err != nil {
			b.Fatal(err)
		}
		size = len(buf)
	}
	b.ReportMetric(float64(size), "bytes/msg")
}

func BenchmarkBuildDevices(b *testing.B) {
	units := Memory(DefaultMemoryUnitBytes).UnitsFloor(2 << 40)
	held := normalizeIDs(seq(0, 1000))
	b.ReportAllocs()
	for b.Loop() {
		buildDevices(units, held, true)
	}
}
