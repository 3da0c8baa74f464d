//go:build integration

package integration

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/internal/config"
	"github.com/bigbox-dev/bigbox/internal/ctl"
	"github.com/bigbox-dev/bigbox/internal/kube"
)

// ctlNamespace creates a namespace of its own for the NodeSLO ConfigMap,
// deleted when the test ends.
func ctlNamespace(t *testing.T, c cluster) string {
	t.Helper()
	ctx := testContext(t, time.Minute)
	ns := "bigbox-ctl-" + randomSuffix(t)
	if _, err := c.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
		defer cancel()
		if err := c.client.CoreV1().Namespaces().Delete(dctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s: %v", ns, err)
		}
	})
	return ns
}

// runCtl runs a bigboxctl command the way main does, against the test
// cluster through its kubeconfig, and returns its output.
func runCtl(ctx context.Context, args ...string) (string, error) {
	var out bytes.Buffer
	env := ctl.Env{
		Stdout: &out, Stderr: io.Discard, Clock: clock.RealClock{}, Program: "kubectl-bigbox",
		Getenv: func(string) string { return "" }, Addr: "127.0.0.1:1", RequestTimeout: 5 * time.Second,
	}
	args = append(args[:1:1], append([]string{"--kubeconfig", os.Getenv(envKubeconfig)}, args[1:]...)...)
	err := ctl.Run(ctx, args[0], args[1:], env)
	return out.String(), err
}

func nodeSLO(ctx context.Context, t *testing.T, c cluster, ns string) string {
	t.Helper()
	cm, err := c.client.CoreV1().ConfigMaps(ns).Get(ctx, kube.ConfigMapName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get NodeSLO: %v", err)
	}
	return cm.Data[kube.ConfigMapKey]
}

// TestCtlDisableEnable works the one-click switch against the real API
// server: per node, then cluster-wide, then back, checking the ConfigMap
// after each step. No agent runs here, so the node's state is whatever
// other tests left; the progress must report it as ObserveNodes sees it.
func TestCtlDisableEnable(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	ctx := testContext(t, 2*time.Minute)
	ns := ctlNamespace(t, c)
	node, err := c.client.CoreV1().Nodes().Get(ctx, c.node, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get node: %v", err)
	}
	const original = "# the prod NodeSLO\ncpu:\n  reclaimWatermarkPercent: 60 # measured\n"
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: kube.ConfigMapName, Namespace: ns},
		Data:       map[string]string{kube.ConfigMapKey: original, "notes": "kept"},
	}
	if _, err := c.client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create NodeSLO: %v", err)
	}

	// Per node, with the progress: the wait may end (the node is clean) or
	// time out (another test's agent lends on it); either way it names the
	// node's state.
	before, err := ctl.ObserveNodes(ctx, c.client, []string{c.node})
	if err != nil {
		t.Fatalf("observe node: %v", err)
	}
	out, err := runCtl(ctx, "disable", "--node", c.node, "--namespace", ns, "--timeout", "3s")
	switch {
	case err == nil:
		if !strings.Contains(out, "node "+c.node+": clean") || !strings.HasSuffix(out, "done\n") {
			t.Errorf("disable ended without reporting a clean node:\n%s", out)
		}
	case strings.Contains(err.Error(), "not done after 3s: node "+c.node):
		if before[0].Clean() {
			t.Logf("node became busy during the wait: %v", err)
		}
	default:
		t.Fatalf("disable --node: %v\n%s", err, out)
	}
	t.Logf("disable --node:\n%s", out)
	if !strings.Contains(out, "node "+c.node+": ") {
		t.Errorf("progress does not report node %s:\n%s", c.node, out)
	}
	doc := nodeSLO(ctx, t, c, ns)
	if !strings.Contains(doc, "# the prod NodeSLO") || !strings.Contains(doc, "reclaimWatermarkPercent: 60 # measured") {
		t.Errorf("the edit lost the comments:\n%s", doc)
	}
	checkEnabled(t, doc, node.Labels, false, true)

	// Cluster-wide, without waiting, then enabling the node alone.
	if out, err := runCtl(ctx, "disable", "--namespace", ns, "--wait=false"); err != nil {
		t.Fatalf("disable: %v\n%s", err, out)
	}
	checkEnabled(t, nodeSLO(ctx, t, c, ns), node.Labels, false, false)
	if out, err := runCtl(ctx, "enable", "--node", c.node, "--namespace", ns); err != nil || !strings.Contains(out, "enabled (the cluster-wide switch") {
		t.Fatalf("enable --node: %v\n%s", err, out)
	}
	checkEnabled(t, nodeSLO(ctx, t, c, ns), node.Labels, true, false)

	// Back to where it started, but for the explicit switch.
	if out, err := runCtl(ctx, "enable", "--namespace", ns); err != nil {
		t.Fatalf("enable: %v\n%s", err, out)
	}
	if out, err := runCtl(ctx, "disable", "--node", c.node, "--namespace", ns, "--wait=false"); err != nil {
		t.Fatalf("disable --node: %v\n%s", err, out)
	}
	if out, err := runCtl(ctx, "enable", "--node", c.node, "--namespace", ns); err != nil {
		t.Fatalf("enable --node: %v\n%s", err, out)
	}
	want := "# the prod NodeSLO\nenabled: true\ncpu:\n  reclaimWatermarkPercent: 60 # measured\n"
	if got := nodeSLO(ctx, t, c, ns); got != want {
		t.Errorf("NodeSLO after the round trip =\n%s\nwant\n%s", got, want)
	}
	got, err := c.client.CoreV1().ConfigMaps(ns).Get(ctx, kube.ConfigMapName, metav1.GetOptions{})
	if err != nil || got.Data["notes"] != "kept" {
		t.Errorf("other keys of the ConfigMap: %v, %v", got.Data, err)
	}
}

// checkEnabled parses doc and checks the switch for the node and at the top.
func checkEnabled(t *testing.T, doc string, labels map[string]string, wantNode, wantTop bool) {
	t.Helper()
	slo, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("NodeSLO written does not parse: %v\n%s", err, doc)
	}
	on, err := ctl.EnabledOn(slo, labels)
	if err != nil {
		t.Fatal(err)
	}
	if on != wantNode || *slo.Enabled != wantTop {
		t.Errorf("node enabled = %t, top-level enabled = %t; want %t, %t\n%s", on, *slo.Enabled, wantNode, wantTop, doc)
	}
}

// TestCtlDisableCreatesConfigMap disables in a namespace without a NodeSLO:
// the ConfigMap is created with the switch alone.
func TestCtlDisableCreatesConfigMap(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	ctx := testContext(t, time.Minute)
	ns := ctlNamespace(t, c)
	out, err := runCtl(ctx, "disable", "--namespace", ns, "--wait=false")
	if err != nil {
		t.Fatalf("disable: %v\n%s", err, out)
	}
	if !strings.Contains(out, "ConfigMap "+ns+"/"+kube.ConfigMapName+" created") {
		t.Errorf("output does not say the ConfigMap was created:\n%s", out)
	}
	if got := nodeSLO(ctx, t, c, ns); got != "enabled: false\n" {
		t.Errorf("NodeSLO = %q, want %q", got, "enabled: false\n")
	}
}

// TestCtlStatusAllNodes lists the node with what the API server says it
// advertises.
func TestCtlStatusAllNodes(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	ctx := testContext(t, time.Minute)
	ns := ctlNamespace(t, c)
	out, err := runCtl(ctx, "status", "--all-nodes", "--namespace", ns)
	if err != nil {
		t.Fatalf("status --all-nodes: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "NODE") {
		t.Fatalf("status --all-nodes printed no table:\n%s", out)
	}
	var row []string
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 0 && f[0] == c.node {
			row = f
		}
	}
	if len(row) != 11 {
		t.Fatalf("no row of 11 columns for node %s:\n%s", c.node, out)
	}
	if row[1] != "enabled" || row[5] != "-" || row[9] != "-" {
		t.Errorf("row %q: want the switch enabled (no NodeSLO here) and no usage without --addr-template", row)
	}
}
