package deviceplugin

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
	"k8s.io/utils/clock"
)

// Defaults of the options.
const (
	DefaultBackoffInitial = 100 * time.Millisecond
	DefaultBackoffMax     = 5 * time.Second
	DefaultTimeout        = 5 * time.Second
)

// Plugin is the device plugin of one resource. Its setters are safe to call
// from any goroutine, before or while Run runs.
type Plugin struct {
	res               Resource
	dir               string
	socketPath        string
	kubeletSocketPath string
	logger            *slog.Logger

	clock          clock.Clock
	backoffInitial time.Duration
	backoffMax     time.Duration
	timeout        time.Duration

	running atomic.Bool

	mu      sync.Mutex
	units   int64    // as last set
	held    []string // sorted, unique
	healthy bool
	devices []*pluginapi.Device // published: never modified, replaced on change
	changed chan struct{}       // closed and replaced when devices change
}

// Option changes a Plugin made by New.
type Option func(*Plugin)

// WithClock sets the clock the register backoff waits on.
func WithClock(c clock.Clock) Option {
	return func(p *Plugin) { p.clock = c }
}

// WithBackoff sets the first and the longest wait between failed
// registrations; the wait doubles after each failure.
func WithBackoff(initial, maxWait time.Duration) Option {
	return func(p *Plugin) { p.backoffInitial, p.backoffMax = initial, maxWait }
}

// WithTimeout bounds each check of our own socket and each Register call.
func WithTimeout(d time.Duration) Option {
	return func(p *Plugin) { p.timeout = d }
}

// New returns the plugin for res, serving on <dir>/bigbox-<name>.sock and
// registering with <dir>/kubelet.sock. It starts healthy with no devices.
func New(res Resource, dir string, logger *slog.Logger, opts ...Option) (*Plugin, error) {
	if err := res.Validate(); err != nil {
		return nil, fmt.Errorf("device plugin: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("device plugin dir %s: %w", dir, err)
	}
	p := &Plugin{
		res:               res,
		dir:               abs,
		socketPath:        filepath.Join(abs, "bigbox-"+res.shortName()+".sock"),
		kubeletSocketPath: filepath.Join(abs, filepath.Base(pluginapi.KubeletSocket)),
		logger:            logger.With("component", "deviceplugin", "resource", res.Name),
		clock:             clock.RealClock{},
		backoffInitial:    DefaultBackoffInitial,
		backoffMax:        DefaultBackoffMax,
		timeout:           DefaultTimeout,
		healthy:           true,
		devices:           []*pluginapi.Device{},
		changed:           make(chan struct{}),
	}
	for _, o := range opts {
		o(p)
	}
	if p.backoffInitial <= 0 || p.backoffMax < p.backoffInitial {
		return nil, fmt.Errorf("device plugin: backoff %v..%v: want 0 < initial <= max", p.backoffInitial, p.backoffMax)
	}
	if p.timeout <= 0 {
		return nil, fmt.Errorf("device plugin: timeout %v: must be positive", p.timeout)
	}
	return p, nil
}

// Resource returns the resource p serves.
func (p *Plugin) Resource() Resource { return p.res }

// SocketPath returns the path of the socket p serves on.
func (p *Plugin) SocketPath() string { return p.socketPath }

// SetAmount sets how many devices to advertise. The agent passes the amount
// it lends, in units and already at least what is held; the plugin keeps
// every held device listed regardless. A new list goes to the kubelet only
// when the list changes.
func (p *Plugin) SetAmount(units int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	same := deviceCount(units, len(p.held)) == deviceCount(p.units, len(p.held))
	p.units = units
	if !same {
		p.rebuildLocked()
	}
}

// SetHeld sets the device IDs that running pods hold, as read from the
// kubelet's PodResources API (HeldSource). They stay listed and healthy.
func (p *Plugin) SetHeld(ids []string) {
	held := normalizeIDs(ids)
	p.mu.Lock()
	defer p.mu.Unlock()
	if slices.Equal(held, p.held) {
		return
	}
	p.held = held
	p.rebuildLocked()
}

// SetHealthy reports whether the node can give offline pods what it lends.
// When false, every device that is not held is listed Unhealthy, so the
// kubelet's allocatable falls to what is held and no new offline pod fits,
// while running ones keep their devices.
func (p *Plugin) SetHealthy(healthy bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if healthy == p.healthy {
		return
	}
	p.healthy = healthy
	p.rebuildLocked()
}

// Advertised returns how many devices are listed and how many of them are
// held.
func (p *Plugin) Advertised() (devices, held int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int64(len(p.devices)), int64(len(p.held))
}

// rebuildLocked recomputes the list and wakes ListAndWatch streams when it
// differs from the published one.
func (p *Plugin) rebuildLocked() {
	devs := buildDevices(p.units, p.held, p.healthy)
	if sameDevices(devs, p.devices) {
		return
	}
	p.devices = devs
	close(p.changed)
	p.changed = make(chan struct{})
}

// snapshot returns the published list and a channel closed on the next
// change.
func (p *Plugin) snapshot() ([]*pluginapi.Device, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.devices, p.changed
}

func sameDevices(a, b []*pluginapi.Device) bool {
	return slices.EqualFunc(a, b, func(x, y *pluginapi.Device) bool {
		return x.ID == y.ID && x.Health == y.Health
	})
}
