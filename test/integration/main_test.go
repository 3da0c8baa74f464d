//go:build integration

// Package integration tests bigbox against the real one-node Kubernetes
// cluster that hack/kube-up.sh starts on loopback (etcd, kube-apiserver,
// kube-scheduler, kubelet and containerd). Run it with hack/kube/test.sh
// (`make test-integration`), which starts the cluster, runs
// `go test -tags integration ./test/integration/` and stops it; or start the
// cluster by hand, `eval "$(hack/kube-up.sh)"`, and run go test yourself.
// See docs/test-cluster.md.
package integration

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

var cgroupRootFlag = flag.String("cgroup.root", "/sys/fs/cgroup", "cgroup mount root of the machine the test cluster runs on")

// Environment that hack/kube-up.sh prints as export lines.
const (
	envKubeconfig = "KUBECONFIG"
	envNode       = "BIGBOX_KUBE_NODE"
	envPauseImage = "BIGBOX_KUBE_PAUSE_IMAGE"
)

// wantServerVersion is what hack/kube/build.sh stamps into the components.
const wantServerVersion = "v1.37.2"

func TestMain(m *testing.M) {
	flag.Parse()
	if err := checkCluster(); err != nil {
		fmt.Fprintf(os.Stderr, "integration tests need the test cluster: %v\n"+
			"start it with: eval \"$(hack/kube-up.sh)\"  (or run hack/kube/test.sh)\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// checkCluster fails when the environment of kube-up.sh is missing or its
// API server does not answer.
func checkCluster() error {
	for _, name := range []string{envKubeconfig, envNode, envPauseImage} {
		if os.Getenv(name) == "" {
			return fmt.Errorf("%s is not set", name)
		}
	}
	client, err := newClient()
	if err != nil {
		return err
	}
	// Discovery calls take no context; the REST config's timeout bounds them.
	if _, err := client.Discovery().ServerVersion(); err != nil {
		return fmt.Errorf("ask the API server for its version: %w", err)
	}
	return nil
}

func newClient() (kubernetes.Interface, error) {
	path := os.Getenv(envKubeconfig)
	config, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", path, err)
	}
	config.Timeout = 15 * time.Second
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", config.Host, err)
	}
	return client, nil
}

// cluster is what a test needs of the running test cluster.
type cluster struct {
	client     kubernetes.Interface
	node       string
	pauseImage string
}

func newCluster(t *testing.T) cluster {
	t.Helper()
	client, err := newClient()
	if err != nil {
		t.Fatal(err)
	}
	return cluster{client: client, node: os.Getenv(envNode), pauseImage: os.Getenv(envPauseImage)}
}

// testContext bounds a test that talks to the cluster.
func testContext(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return ctx
}
