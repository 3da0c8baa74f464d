//go:build integration

package chart

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// Environment of hack/kube-up.sh used here.
const (
	envKubeRun    = "BIGBOX_KUBE_RUN"
	envKubeNode   = "BIGBOX_KUBE_NODE"
	envPauseImage = "BIGBOX_KUBE_PAUSE_IMAGE"
)

// TestAgentPod runs the agent as the chart deploys it, on the test cluster's
// node: an image with the real binary, the pod template of the chart's
// DaemonSet (its security context, host PID namespace, host paths, service
// account), and the chart's RBAC. It checks that those privileges are
// enough: the agent becomes Ready in Kubernetes mode, registers its device
// plugin (the node gets bigbox.dev/cpu and bigbox.dev/memory), writes the
// big box cgroup and a non-root offline pod's oom_score_adj without errors.
//
// The test cluster has no controller-manager (no DaemonSet controller) and no
// pod network, so the test makes the pod itself from the template, on the
// host network with the API server's address in KUBERNETES_SERVICE_HOST;
// everything that concerns privileges is the chart's. This machine runs
// neither AppArmor nor SELinux, so seLinuxOptions is not exercised.
func TestAgentPod(t *testing.T) {
	if runtime.GOOS != "linux" || os.Getuid() != 0 {
		t.Skip("needs root on Linux (imports an image into the test cluster's containerd)")
	}
	for _, e := range []string{envKubeRun, envKubeNode, envPauseImage} {
		if os.Getenv(e) == "" {
			t.Fatalf("%s is not set: start the test cluster with eval \"$(KUBE_UP_HELM=1 hack/kube-up.sh)\"", e)
		}
	}
	k := newKube(t)
	ctx := t.Context()
	node := os.Getenv(envKubeNode)
	image := "localhost/bigbox/agent-chart-test:" + utilrand.String(6)
	importImage(t, image)

	ns := "bigbox-agentpod-" + utilrand.String(5)
	const release = "bigbox"
	repo, tag, _ := strings.Cut(image, ":")
	if _, err := helm(ctx, t, "install", release, chartDir, "--namespace", ns, "--create-namespace",
		"--set", "image.repository="+repo, "--set", "image.tag="+tag, "--set", "image.pullPolicy=Never",
		"--set", "webhook.enabled=false", "--set", "agent.logLevel=debug"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := helm(context.Background(), t, "uninstall", release, "--namespace", ns); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if err := k.client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("cleanup: delete namespace %s: %v", ns, err)
		}
	})
	// No controller-manager: make the default ServiceAccount (for the
	// offline pod) and the CA ConfigMap the kubelet mounts into every pod
	// with a service account token.
	if _, err := k.client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt"},
		Data:       map[string]string{"ca.crt": string(k.config.CAData)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	ds, err := k.client.AppsV1().DaemonSets(ns).Get(ctx, "bigbox-agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	api, err := url.Parse(k.config.Host)
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "bigbox-agent-test", Namespace: ns, Labels: ds.Spec.Template.Labels},
		Spec:       *ds.Spec.Template.Spec.DeepCopy(),
	}
	pod.Spec.NodeName = node
	// Test-only changes: no pod network and no Service proxy here.
	pod.Spec.HostNetwork = true
	c := &pod.Spec.Containers[0]
	for i, a := range c.Args {
		if strings.HasPrefix(a, "--listen=") {
			c.Args[i] = "--listen=127.0.0.1:" + strconv.Itoa(port)
		}
	}
	c.Ports[0].ContainerPort = int32(port)
	c.Env = append(c.Env,
		corev1.EnvVar{Name: "KUBERNETES_SERVICE_HOST", Value: api.Hostname()},
		corev1.EnvVar{Name: "KUBERNETES_SERVICE_PORT", Value: api.Port()})
	// Probes on 127.0.0.1 (the kubelet probes the pod IP, here the node's).
	c.ReadinessProbe.HTTPGet.Host = "127.0.0.1"
	c.LivenessProbe.HTTPGet.Host = "127.0.0.1"

	before := bigBoxFiles(t)
	if _, err := k.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create the agent pod: %v", err)
	}
	t.Cleanup(func() {
		logs := podLog(t, k, ns, pod.Name)
		if testing.Verbose() {
			t.Logf("agent log:\n%s", logs)
		}
		deletePod(t, k, ns, pod.Name)
		// On SIGTERM the agent puts the big box back as it found it.
		if after := bigBoxFiles(t); !maps.Equal(before, after) {
			t.Errorf("big box not restored after the agent pod stopped:\nbefore %v\nafter  %v\nagent log:\n%s", before, after, logs)
		}
	})

	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := k.client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			return false, fmt.Errorf("agent pod %s", p.Status.Phase)
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.RestartCount > 0 {
				return false, fmt.Errorf("agent container restarted: %+v", cs.LastTerminationState)
			}
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("agent pod not Ready: %v\n%s", err, podLog(t, k, ns, pod.Name))
	}

	// The device plugin registered through the host path: the node offers
	// the extended resources.
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		n, err := k.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		_, cpu := n.Status.Capacity["bigbox.dev/cpu"]
		_, mem := n.Status.Capacity["bigbox.dev/memory"]
		return cpu && mem, nil
	})
	if err != nil {
		t.Errorf("node %s never got bigbox.dev/cpu and bigbox.dev/memory: %v\n%s", node, err, podLog(t, k, ns, pod.Name))
	}

	// An offline pod running as a non-root user: its process's
	// oom_score_adj belongs to that user, so writing it needs DAC_OVERRIDE.
	offline := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "offline-" + utilrand.String(5), Namespace: ns,
			Labels: map[string]string{"bigbox.dev/colocation": "true"}}, // no webhook here to convert it
		Spec: corev1.PodSpec{
			NodeName:                     node,
			HostNetwork:                  true,
			AutomountServiceAccountToken: ptr.To(false),
			SecurityContext:              &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](65534), RunAsGroup: ptr.To[int64](65534)},
			Containers: []corev1.Container{{
				Name: "pause", Image: os.Getenv(envPauseImage), ImagePullPolicy: corev1.PullNever,
			}},
		},
	}
	if _, err := k.client.CoreV1().Pods(ns).Create(ctx, offline, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create offline pod: %v", err)
	}
	t.Cleanup(func() { deletePod(t, k, ns, offline.Name) })
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := k.client.CoreV1().Pods(ns).Get(ctx, offline.Name, metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})
	if err != nil {
		t.Fatalf("offline pod not running: %v", err)
	}

	// Wait until the agent has seen the offline pod (its pod scan) and then
	// check that no cgroup or oom_score_adj write failed.
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	var last string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		fams, err := scrape(ctx, metricsURL)
		if err != nil {
			return false, err
		}
		pods := gaugeValue(fams, "bigbox_offline_pods", nil)
		last = fmt.Sprintf("offline pods %v", pods)
		return pods >= 1, nil
	})
	if err != nil {
		t.Fatalf("the agent never saw the offline pod (%s): %v\n%s", last, err, podLog(t, k, ns, pod.Name))
	}
	fams, err := scrape(ctx, metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	if mf, ok := fams["bigbox_cgroup_write_errors_total"]; ok {
		for _, m := range mf.GetMetric() {
			if v := m.GetCounter().GetValue(); v != 0 {
				t.Errorf("bigbox_cgroup_write_errors_total%v = %v", m.GetLabel(), v)
			}
		}
	} else {
		t.Error("no bigbox_cgroup_write_errors_total")
	}
	if v := gaugeValue(fams, "bigbox_besteffort_limit", map[string]string{"resource": "cpu"}); v <= 0 {
		t.Errorf("big box CPU limit %v: the agent did not set a quota", v)
	}
	logs := podLog(t, k, ns, pod.Name)
	for _, bad := range []string{"permission denied", "forbidden", "operation not permitted", "read-only file system"} {
		if strings.Contains(strings.ToLower(logs), bad) {
			t.Errorf("agent log mentions %q:\n%s", bad, logs)
		}
	}
}

// gaugeValue is the value of the first sample of family name whose labels
// include want; NaN-free -1 when there is none.
func gaugeValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	mf, ok := fams[name]
	if !ok {
		return -1
	}
	for _, m := range mf.GetMetric() {
		match := true
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			match = match && found
		}
		if match {
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

// bigBoxFiles reads the big box cgroup's files the agent changes, from the
// host (this test runs on the test cluster's node); cgroup v1 or v2.
func bigBoxFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, f := range []string{
		"cpu/kubepods/besteffort/cpu.cfs_quota_us", "cpuset/kubepods/besteffort/cpuset.cpus",
		"memory/kubepods/besteffort/memory.limit_in_bytes",
		"kubepods/besteffort/cpu.max", "kubepods/besteffort/cpuset.cpus", "kubepods/besteffort/memory.max",
	} {
		b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", f))
		if err == nil {
			files[f] = strings.TrimSpace(string(b))
		}
	}
	if len(files) == 0 {
		t.Fatal("no big box cgroup files under /sys/fs/cgroup/{cpu,cpuset,memory,}/kubepods/besteffort")
	}
	return files
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// deletePod deletes a pod and waits until the kubelet has stopped it (the
// agent restores the big box on SIGTERM).
func deletePod(t *testing.T, k *kube, ns, name string) {
	t.Helper()
	ctx := context.Background()
	err := k.client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return
	}
	if err != nil {
		t.Errorf("cleanup: delete pod %s/%s: %v", ns, name, err)
		return
	}
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := k.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		t.Errorf("cleanup: pod %s/%s not gone: %v", ns, name, err)
	}
}

// podLog reads the container logs of a pod from the kubelet's log
// directory (the API server cannot fetch them here: the kubelet's API
// takes no credentials in the test cluster).
func podLog(t *testing.T, k *kube, ns, name string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(os.Getenv(envKubeRun), "pod-logs", ns+"_"+name+"_*", "*", "*.log"))
	if err != nil || len(files) == 0 {
		return fmt.Sprintf("(no log files for %s/%s: %v)", ns, name, err)
	}
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(&b, "(%s: %v)\n", f, err)
			continue
		}
		b.Write(data)
	}
	return b.String()
}

// importImage builds an OCI image holding the static bigbox-agent and
// bigboxctl at /usr/local/bin (as the Dockerfile lays them out), imports it
// into the test cluster's containerd, and removes it in t.Cleanup.
func importImage(t *testing.T, image string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	build := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-o", bin+"/", "./cmd/bigbox-agent", "./cmd/bigboxctl")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for _, d := range []string{"usr/", "usr/local/", "usr/local/bin/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"bigbox-agent", "bigboxctl"} {
		b, err := os.ReadFile(filepath.Join(bin, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "usr/local/bin/" + name, Mode: 0o755, Size: int64(len(b))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	ow := tar.NewWriter(&out)
	put := func(name string, b []byte) {
		if err := ow.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b))}); err != nil {
			t.Fatal(err)
		}
		if _, err := ow.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	type desc struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int               `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	blob := func(mediaType string, b []byte) desc {
		sum := sha256.Sum256(b)
		d := desc{MediaType: mediaType, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: len(b)}
		put("blobs/sha256/"+hex.EncodeToString(sum[:]), b)
		return d
	}
	mustJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	put("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	l := blob("application/vnd.oci.image.layer.v1.tar", layer.Bytes())
	cfg := blob("application/vnd.oci.image.config.v1+json", mustJSON(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux",
		"config": map[string]any{"Entrypoint": []string{"/usr/local/bin/bigbox-agent"}, "User": "65532:65532"},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{l.Digest}},
	}))
	m := blob("application/vnd.oci.image.manifest.v1+json", mustJSON(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": cfg, "layers": []desc{l},
	}))
	m.Annotations = map[string]string{"io.containerd.image.name": image, "org.opencontainers.image.ref.name": image[strings.LastIndex(image, ":")+1:]}
	put("index.json", mustJSON(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []desc{m}}))
	if err := ow.Close(); err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(dir, "image.tar")
	if err := os.WriteFile(tarPath, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	sock := filepath.Join(os.Getenv(envKubeRun), "containerd", "containerd.sock")
	ctr := func(ctx context.Context, args ...string) error {
		cmd := exec.CommandContext(ctx, "ctr", append([]string{"--address", sock, "-n", "k8s.io"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("ctr %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := ctr(t.Context(), "images", "import", tarPath); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ctr(context.Background(), "images", "rm", image); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}
