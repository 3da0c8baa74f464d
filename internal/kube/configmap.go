package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	corev1informers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/bigbox-dev/bigbox/internal/config"
)

// The NodeSLO ConfigMap's conventional name and key (PRODUCT.md).
const (
	ConfigMapName = "bigbox-nodeslo"
	ConfigMapKey  = "nodeslo.yaml"
)

// ConfigMapSource keeps the NodeSLO of one key of one ConfigMap current. It
// has the methods of config.Watcher (Run, Current, Version, LastError,
// Changes), so the agent treats a file and a ConfigMap alike.
//
// The informer is restricted to the one object by the field selector
// metadata.name=<name>, so RBAC can grant get, list and watch on that
// object alone (resourceNames). A version that does not parse or validate
// is rejected: it is logged, counted in bigbox_config_errors_total,
// recorded as a Warning Event BigboxConfigRejected on the ConfigMap and
// kept as LastError, and the last good version stays in force. The same
// bad content is reported once. A missing ConfigMap, at start or deleted
// later, means the defaults, as it would for an agent started afterwards.
//
// Before the informer's first sync Current is the defaults; the agent should
// wait for HasSynced (bounded) before it lends anything.
type ConfigMapSource struct {
	namespace, name, key string
	informer             cache.SharedIndexInformer
	handler              cache.ResourceEventHandlerRegistration
	events               eventRecorder // nil: no Events
	logger               *slog.Logger

	current atomic.Pointer[config.NodeSLO]
	changes chan struct{}

	mu sync.Mutex // guards what follows
	// resourceVersion of the ConfigMap in force ("" for the defaults).
	resourceVersion string
	lastErr         error
	// rejected identifies the last rejected content, so a re-delivery of
	// it (a relist) is not reported again.
	rejected string

	metrics *config.Metrics
}

// NewConfigMapSource returns a source for key of the ConfigMap
// namespace/name, starting at the defaults, and registers its metrics on reg
// (nil: none). events may be nil. It does no I/O until Run.
//
// The metrics have the names and help of config.Watcher's
// (bigbox_config_errors_total, bigbox_config_version_info); only one of the
// two runs in an agent.
func NewConfigMapSource(client kubernetes.Interface, namespace, name, key string, events eventRecorder, logger *slog.Logger, reg prometheus.Registerer) (*ConfigMapSource, error) {
	s := &ConfigMapSource{
		namespace: namespace,
		name:      name,
		key:       key,
		events:    events,
		logger:    logger.With("component", "config", "configmap", namespace+"/"+name, "key", key),
		changes:   make(chan struct{}, 1),
	}
	def := config.Default()
	s.current.Store(def)
	var err error
	if s.metrics, err = config.NewMetrics(reg, def.Version()); err != nil {
		return nil, err
	}
	s.informer = corev1informers.NewFilteredConfigMapInformer(client, namespace, 0, cache.Indexers{},
		func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		})
	h, err := s.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.onObject,
		UpdateFunc: func(_, obj any) { s.onObject(obj) },
		DeleteFunc: s.onDelete,
	})
	if err != nil {
		return nil, fmt.Errorf("configmap informer: %w", err)
	}
	s.handler = h
	return s, nil
}

// Run runs the informer until ctx is done.
func (s *ConfigMapSource) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { s.informer.RunWithContext(ctx) })
	if cache.WaitForCacheSync(ctx.Done(), s.HasSynced) {
		if _, exists, err := s.informer.GetStore().GetByKey(s.namespace + "/" + s.name); err == nil && !exists {
			s.logger.Info("configmap not found, the defaults are in force")
		}
	}
	wg.Wait()
	return nil
}

// HasSynced reports whether the ConfigMap as first listed (or its absence)
// has been handled: from then on Current and LastError reflect it.
func (s *ConfigMapSource) HasSynced() bool { return s.handler.HasSynced() }

// Current is the NodeSLO in force: the last valid version read, or the
// defaults.
func (s *ConfigMapSource) Current() *config.NodeSLO { return s.current.Load() }

// Version identifies the NodeSLO in force: its content hash, then "@" and
// the resourceVersion of the ConfigMap it came from (no suffix for the
// defaults of a missing ConfigMap).
func (s *ConfigMapSource) Version() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.current.Load().Version()
	if s.resourceVersion != "" {
		v += "@" + s.resourceVersion
	}
	return v
}

// LastError is why the ConfigMap as it is now was rejected, nil when it is
// in force.
func (s *ConfigMapSource) LastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Changes receives a value after Current or LastError changed. It holds at
// most one value; read Current and LastError after receiving.
func (s *ConfigMapSource) Changes() <-chan struct{} { return s.changes }

// onObject handles an added or updated ConfigMap.
func (s *ConfigMapSource) onObject(obj any) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		s.logger.Error("configmap informer delivered something else", "type", fmt.Sprintf("%T", obj))
		return
	}
	if !s.ours(cm.Namespace, cm.Name) {
		return
	}
	data, ok := cm.Data[s.key]
	if !ok {
		if b, inBinary := cm.BinaryData[s.key]; inBinary {
			data, ok = string(b), true
		}
	}
	if !ok {
		s.reject(cm, "missing-key", fmt.Errorf("configmap %s/%s (resourceVersion %s) has no key %q",
			cm.Namespace, cm.Name, cm.ResourceVersion, s.key))
		return
	}
	n, err := config.Parse([]byte(data))
	if err != nil {
		s.reject(cm, config.Version([]byte(data)), fmt.Errorf("configmap %s/%s key %s (resourceVersion %s): %w",
			cm.Namespace, cm.Name, s.key, cm.ResourceVersion, err))
		return
	}
	s.accept(n, cm.ResourceVersion)
}

// onDelete falls back to the defaults.
func (s *ConfigMapSource) onDelete(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if cm, ok := obj.(*corev1.ConfigMap); ok && !s.ours(cm.Namespace, cm.Name) {
		return
	}
	s.logger.Info("configmap deleted, the defaults are in force")
	s.accept(config.Default(), "")
}

// ours reports whether namespace/name is the watched ConfigMap. The field
// selector already says so; checking again guards against a server (or a
// test fake) that ignores it.
func (s *ConfigMapSource) ours(namespace, name string) bool {
	return namespace == s.namespace && name == s.name
}

// accept puts n in force.
func (s *ConfigMapSource) accept(n *config.NodeSLO, resourceVersion string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.current.Load()
	hadErr := s.lastErr != nil
	s.lastErr, s.rejected, s.resourceVersion = nil, "", resourceVersion
	if n.Version() == old.Version() {
		// The same document (a metadata-only update, a relist): nothing
		// changes but a cleared error.
		if hadErr {
			s.notify()
		}
		return
	}
	s.current.Store(n)
	s.metrics.InForce(old.Version(), n.Version())
	s.logger.Info("config loaded", "version", n.Version(), "previous", old.Version(), "resource_version", resourceVersion)
	s.notify()
}

// reject reports a bad version identified by id, once.
func (s *ConfigMapSource) reject(cm *corev1.ConfigMap, id string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == s.rejected && s.lastErr != nil {
		return
	}
	s.rejected, s.lastErr = id, err
	s.metrics.Rejected()
	s.logger.Warn("config rejected, keeping the last good version", "version", s.current.Load().Version(), "err", err)
	if s.events != nil {
		s.events.Event(ConfigMapRef(cm), corev1.EventTypeWarning, ReasonConfigRejected, rejectMessage(err))
	}
	s.notify()
}

// rejectMessage is the Event message: the validation error without the
// wrapping that names the ConfigMap, which the Event already does.
func rejectMessage(err error) string {
	if u := errors.Unwrap(err); u != nil {
		return u.Error()
	}
	return err.Error()
}

// notify wakes a receiver of Changes without blocking.
func (s *ConfigMapSource) notify() {
	select {
	case s.changes <- struct{}{}:
	default:
	}
}
