package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bigbox-dev/bigbox/internal/agent"
	"github.com/bigbox-dev/bigbox/internal/config"
)

// sloSource is where NodeSLO versions come from: a file (config.Watcher) or
// the ConfigMap (kube.ConfigMapSource). A rejected version leaves Current
// at the last good one and sets LastError; Changes fires for both.
type sloSource interface {
	Current() *config.NodeSLO
	Version() string
	LastError() error
	Changes() <-chan struct{}
}

// labelSource gives the node's labels and signals when they change (the
// node watcher in Kubernetes mode).
type labelSource interface {
	Labels() map[string]string
	Changes() <-chan struct{}
}

// configSource turns the watched NodeSLO into the agent's Config, resolving
// the per-node overrides once per change of the NodeSLO or of the node's
// labels rather than on every 50ms tick.
type configSource struct {
	src    sloSource   // nil: built-in defaults
	labels labelSource // nil: the fixed staticLabels
	static map[string]string
	logger *slog.Logger

	cur     atomic.Pointer[agent.Config]
	changes chan struct{}
	mu      sync.Mutex
	lastErr string
}

// newFileConfigSource follows the NodeSLO file at path (built-in defaults
// when empty) with fixed node labels. The caller runs the returned watcher,
// if any, next to the source.
func newFileConfigSource(path string, labels map[string]string, logger *slog.Logger, reg prometheus.Registerer) (*configSource, *config.Watcher, error) {
	var w *config.Watcher
	var src sloSource
	if path != "" {
		var err error
		if w, err = config.NewWatcher(path, logger, reg); err != nil {
			return nil, nil, fmt.Errorf("load node SLO: %w", err)
		}
		src = w
	}
	s, err := newConfigSource(src, nil, labels, logger)
	return s, w, err
}

func newConfigSource(src sloSource, labels labelSource, static map[string]string, logger *slog.Logger) (*configSource, error) {
	s := &configSource{src: src, labels: labels, static: static,
		logger: logger.With("component", "config"), changes: make(chan struct{}, 1)}
	if err := s.resolve(); err != nil {
		return nil, fmt.Errorf("node SLO for this node: %w", err)
	}
	return s, nil
}

// slo is the NodeSLO in force.
func (s *configSource) slo() *config.NodeSLO {
	if s.src == nil {
		return config.Default()
	}
	return s.src.Current()
}

func (s *configSource) nodeLabels() map[string]string {
	if s.labels == nil {
		return s.static
	}
	return s.labels.Labels()
}

// resolve computes the Config for the current NodeSLO and node labels.
func (s *configSource) resolve() error {
	slo, labels := s.slo(), s.nodeLabels()
	p, loc, err := slo.ForNode(labels)
	if err != nil {
		return err
	}
	cpuP, memP, err := slo.PredictorsForNode(labels)
	if err != nil {
		return err
	}
	version := slo.Version()
	if s.src != nil {
		version = s.src.Version()
	}
	s.cur.Store(&agent.Config{Policy: p, Location: loc, Version: version, CPUPredictor: cpuP, MemoryPredictor: memP})
	return nil
}

// Config implements the agent's configSource.
func (s *configSource) Config() agent.Config {
	c := *s.cur.Load()
	if s.src != nil {
		if err := s.src.LastError(); err != nil {
			c.Err = err.Error()
		}
	}
	s.mu.Lock()
	if s.lastErr != "" {
		c.Err = s.lastErr
	}
	s.mu.Unlock()
	return c
}

// Changes implements the agent's configSource.
func (s *configSource) Changes() <-chan struct{} { return s.changes }

// Run re-resolves on every change of the NodeSLO or the node's labels until
// ctx is done. A version that validates but breaks a rule once this node's
// overrides apply is rejected here; the last good Config stays.
func (s *configSource) Run(ctx context.Context) error {
	var sloChanges, labelChanges <-chan struct{}
	if s.src != nil {
		sloChanges = s.src.Changes()
	}
	if s.labels != nil {
		labelChanges = s.labels.Changes()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sloChanges:
		case <-labelChanges:
		}
		s.mu.Lock()
		if err := s.resolve(); err != nil {
			s.lastErr = err.Error()
			s.logger.Warn("node SLO rejected for this node", "err", err)
		} else {
			s.lastErr = ""
			s.logger.Info("node SLO in force", "version", s.cur.Load().Version)
		}
		s.mu.Unlock()
		select {
		case s.changes <- struct{}{}:
		default:
		}
	}
}
