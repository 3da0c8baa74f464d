package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
)

// DefaultDebounce is how long the watcher waits after the first change
// event before it reads the file, so that the several events of one write
// make one reload.
const DefaultDebounce = 100 * time.Millisecond

// configMapDataLink is the symlink a Kubernetes ConfigMap volume swaps
// atomically on an update: the key files are links through it
// (nodeslo.yaml → ..data/nodeslo.yaml, ..data → ..2026_11_25_…), so an update
// touches ..data, never the key's own name.
const configMapDataLink = "..data"

// Watcher keeps the NodeSLO of one file current. It watches the file's
// directory rather than the file, as both a ConfigMap update (a rename over
// ..data) and an editor's save (a rename over the file) replace the inode a
// watch on the file would hold.
type Watcher struct {
	path     string
	logger   *slog.Logger
	clock    clock.Clock
	debounce time.Duration

	current atomic.Pointer[NodeSLO]
	changes chan struct{}

	mu      sync.Mutex // guards lastErr, rejected and the version series
	lastErr error
	// rejected is the content hash of the last rejected document, so that
	// re-reading the same bad file is not counted again.
	rejected string

	metrics *Metrics

	// Test hooks, nil outside tests: watching runs once the directory
	// watch is set and the file re-read, armed when a debounce timer starts.
	hookWatching, hookArmed func()
}

// WatcherOption changes a Watcher's defaults.
type WatcherOption func(*Watcher)

// WithClock sets the clock of the debounce timer (default the real clock).
func WithClock(c clock.Clock) WatcherOption { return func(w *Watcher) { w.clock = c } }

// WithDebounce sets the wait between a change event and the reload (default
// DefaultDebounce); zero reloads on every event.
func WithDebounce(d time.Duration) WatcherOption { return func(w *Watcher) { w.debounce = d } }

// NewWatcher loads the NodeSLO at path and registers the watcher's metrics
// on reg (nil: none). A file that is missing or invalid at start is an
// error: there is no last good version to keep yet.
func NewWatcher(path string, logger *slog.Logger, reg prometheus.Registerer, opts ...WatcherOption) (*Watcher, error) {
	w := &Watcher{
		path:     path,
		logger:   logger.With("component", "config", "path", path),
		clock:    clock.RealClock{},
		debounce: DefaultDebounce,
		changes:  make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(w)
	}
	n, err := Load(path)
	if err != nil {
		return nil, fmt.Errorf("initial NodeSLO load (the file must exist and be valid at start): %w", err)
	}
	w.current.Store(n)
	if w.metrics, err = NewMetrics(reg, n.Version()); err != nil {
		return nil, err
	}
	return w, nil
}

// Current is the NodeSLO in force: the last valid version read.
func (w *Watcher) Current() *NodeSLO { return w.current.Load() }

// Version is the content hash of the NodeSLO in force.
func (w *Watcher) Version() string { return w.current.Load().Version() }

// LastError is why the newest version of the file was rejected, nil when
// the file as it is now is in force.
func (w *Watcher) LastError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErr
}

// Changes receives a value after Current or LastError changed. It holds at
// most one value, so several changes before a receive make one; read Current
// and LastError after receiving.
func (w *Watcher) Changes() <-chan struct{} { return w.changes }

// Run watches the file's directory and reloads on every change of the file
// or of the ConfigMap's ..data link, until ctx is done.
func (w *Watcher) Run(ctx context.Context) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("start file watch: %w", err)
	}
	defer func() {
		if err := fw.Close(); err != nil {
			w.logger.Debug("close file watch", "err", err)
		}
	}()
	dir, name := filepath.Split(w.path)
	if dir == "" {
		dir = "."
	}
	if err := fw.Add(dir); err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	// The file may have changed between NewWatcher and the watch.
	w.reload()
	if w.hookWatching != nil {
		w.hookWatching()
	}

	var timer clock.Timer
	var fire <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fw.Events:
			if !ok {
				return errors.New("file watch closed")
			}
			base := filepath.Base(ev.Name)
			if (base != name && base != configMapDataLink) || ev.Op == fsnotify.Chmod {
				continue
			}
			w.logger.Debug("config file event", "event", ev.String())
			if w.debounce <= 0 {
				w.reload()
				continue
			}
			// The first event of a burst starts the wait; later ones ride
			// along, so a steady stream cannot postpone the reload forever.
			if timer == nil {
				timer = w.clock.NewTimer(w.debounce)
				fire = timer.C()
				if w.hookArmed != nil {
					w.hookArmed()
				}
			}
		case <-fire:
			timer, fire = nil, nil
			w.reload()
		case err, ok := <-fw.Errors:
			if !ok {
				return errors.New("file watch closed")
			}
			// An overflow loses events; re-reading catches up.
			w.logger.Warn("config file watch error", "err", err)
			w.reload()
		}
	}
}

// reload reads and parses the file; a valid new version replaces the
// current one, an invalid one is logged, counted and kept as LastError.
func (w *Watcher) reload() {
	data, err := os.ReadFile(w.path)
	var n *NodeSLO
	rejected := ""
	if err == nil {
		n, err = Parse(data)
		if err != nil {
			err = fmt.Errorf("parse %s: %w", w.path, err)
			rejected = Version(data)
		}
	} else {
		err = fmt.Errorf("read NodeSLO: %w", err)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if rejected != "" && rejected == w.rejected {
			return // the same bad document again
		}
		w.rejected = rejected
		w.metrics.Rejected()
		w.logger.Warn("config rejected, keeping the last good version", "version", w.current.Load().Version(), "err", err)
		w.lastErr = err
		w.notify()
		return
	}
	old := w.current.Load()
	hadErr := w.lastErr != nil
	w.lastErr, w.rejected = nil, ""
	if n.Version() == old.Version() {
		if hadErr {
			w.notify()
		}
		return
	}
	w.current.Store(n)
	w.metrics.InForce(old.Version(), n.Version())
	w.logger.Info("config loaded", "version", n.Version(), "previous", old.Version())
	w.notify()
}

// notify wakes a receiver of Changes without blocking.
func (w *Watcher) notify() {
	select {
	case w.changes <- struct{}{}:
	default:
	}
}
