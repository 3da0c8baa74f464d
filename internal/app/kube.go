package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/bigbox-dev/bigbox/internal/kube"
)

// kubeParts are the Kubernetes-mode collaborators: this node's pods, the
// NodeSLO ConfigMap, the node's labels, Events and the Eviction API.
type kubeParts struct {
	recorder *kube.Recorder
	pods     *kube.PodWatcher
	slo      *kube.ConfigMapSource
	node     *kube.NodeWatcher
	evictor  *kube.Evictor
}

// restConfig is the in-cluster config, or the kubeconfig file when given.
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		c, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
		}
		return c, nil
	}
	c, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("in-cluster config (pass --kubeconfig outside a pod, or --standalone): %w", err)
	}
	return c, nil
}

func newKubeParts(o AgentOptions, logger *slog.Logger, reg prometheus.Registerer) (*kubeParts, error) {
	if o.NodeName == "" {
		return nil, errors.New("--node-name is required in Kubernetes mode")
	}
	if o.Namespace == "" {
		return nil, errors.New("--namespace is required in Kubernetes mode (the NodeSLO ConfigMap lives there)")
	}
	rc, err := restConfig(o.Kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.UserAgent = "bigbox-agent/" + o.NodeName
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	kp := &kubeParts{recorder: kube.NewRecorder(client, o.NodeName, logger)}
	kp.pods = kube.NewPodWatcher(client, o.NodeName, logger)
	if kp.slo, err = kube.NewConfigMapSource(client, o.Namespace, kube.ConfigMapName, kube.ConfigMapKey, kp.recorder, logger, reg); err != nil {
		return nil, err
	}
	if kp.node, err = kube.NewNodeWatcher(client, o.NodeName, logger); err != nil {
		return nil, err
	}
	kp.evictor = kube.NewEvictor(client, kp.pods, kp.recorder, o.NodeName, logger)
	return kp, nil
}

// run starts the informers and the recorder in g.
func (kp *kubeParts) run(ctx context.Context, g *errgroup.Group) {
	g.Go(func() error { return kp.recorder.Run(ctx) })
	g.Go(func() error { return kp.pods.Run(ctx) })
	g.Go(func() error { return kp.slo.Run(ctx) })
	g.Go(func() error { return kp.node.Run(ctx) })
}

// waitSynced waits, at most timeout, for the NodeSLO and the node's labels,
// so the first decisions use the cluster's config rather than the defaults.
// The pod cache need not be synced: until it is, no pod counts as offline
// and none can be evicted.
func (kp *kubeParts) waitSynced(ctx context.Context, timeout time.Duration, logger *slog.Logger) {
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return kp.slo.HasSynced() && kp.node.HasSynced(), nil
	})
	if err != nil {
		logger.Warn("API server not synced, starting on the built-in NodeSLO", "timeout", timeout, "err", err)
	}
}

// nodeLabels adapts the node watcher to the config source.
type nodeLabels struct{ w *kube.NodeWatcher }

func (n nodeLabels) Labels() map[string]string {
	l, _ := n.w.Labels() // before the first sync: no labels, no overrides
	return l
}

func (n nodeLabels) Changes() <-chan struct{} { return n.w.Changes() }
