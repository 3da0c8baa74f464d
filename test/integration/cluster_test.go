//go:build integration

package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

const (
	pollInterval = 200 * time.Millisecond
	// podTimeout covers a sandbox start on a busy 2-CPU machine.
	podTimeout = 90 * time.Second
)

func TestServerVersion(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	v, err := c.client.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	if v.GitVersion != wantServerVersion {
		t.Errorf("server version = %q, want %q (version ldflags of hack/kube/build.sh)", v.GitVersion, wantServerVersion)
	}
}

func TestNodeReady(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	ctx := testContext(t, time.Minute)
	node, err := c.client.CoreV1().Nodes().Get(ctx, c.node, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get node %s: %v", c.node, err)
	}
	if got := nodeCondition(node, corev1.NodeReady); got != corev1.ConditionTrue {
		t.Errorf("node %s Ready = %q, want True; conditions: %+v", c.node, got, node.Status.Conditions)
	}
	for _, taint := range node.Spec.Taints {
		if taint.Effect == corev1.TaintEffectNoSchedule || taint.Effect == corev1.TaintEffectNoExecute {
			t.Errorf("node %s has taint %s: kube-scheduler could not place pods", c.node, taint.ToString())
		}
	}
	if node.Status.Allocatable.Cpu().IsZero() {
		t.Errorf("node %s allocatable cpu is zero", c.node)
	}
}

// TestBestEffortPodEviction runs a pod the way bigbox's offline pods run (no
// native requests: BestEffort), checks that the kubelet puts it under
// kubepods/besteffort, and evicts it through the Eviction subresource, as
// the agent does.
func TestBestEffortPodEviction(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	ctx := testContext(t, 4*podTimeout)
	pods := c.client.CoreV1().Pods(metav1.NamespaceDefault)

	pod := runPod(t, c, bestEffortPod(t, c))
	if pod.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("pod QoS class = %q, want %q", pod.Status.QOSClass, corev1.PodQOSBestEffort)
	}

	dir := besteffortPodCgroup(*cgroupRootFlag, pod.UID)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("cgroup of running pod: %v", err)
	}

	eviction := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace}}
	if err := pods.EvictV1(ctx, eviction); err != nil {
		t.Fatalf("evict pod %s: %v", pod.Name, err)
	}
	err := wait.PollUntilContextTimeout(ctx, pollInterval, podTimeout, true, func(ctx context.Context) (bool, error) {
		_, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		t.Fatalf("evicted pod %s still there after %v: %v", pod.Name, podTimeout, err)
	}
	// The kubelet removes the cgroups of pods that are gone in its housekeeping.
	err = wait.PollUntilContextTimeout(ctx, pollInterval, podTimeout, true, func(context.Context) (bool, error) {
		_, err := os.Stat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		t.Errorf("cgroup %s of evicted pod still there after %v: %v", dir, podTimeout, err)
	}
}

// TestSchedulerPlacesPod checks that kube-scheduler runs and the node takes
// pods: kube-up.sh lifts the not-ready taint no controller-manager would.
func TestSchedulerPlacesPod(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	pod := bestEffortPod(t, c)
	pod.Spec.NodeName = ""
	pod = runPod(t, c, pod)
	if pod.Spec.NodeName != c.node {
		t.Errorf("pod scheduled to node %q, want %q", pod.Spec.NodeName, c.node)
	}
}

// runPod creates pod, deletes it in t.Cleanup and waits until it is Ready.
func runPod(t *testing.T, c cluster, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	ctx := testContext(t, podTimeout)
	created, err := c.client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
	t.Cleanup(func() { deletePod(t, c, created.Name) })
	return waitForPod(t, c, created.Name, "Ready", func(p *corev1.Pod) (bool, error) {
		if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			return false, fmt.Errorf("pod ended in phase %s: %s", p.Status.Phase, p.Status.Message)
		}
		return podCondition(p, corev1.PodReady) == corev1.ConditionTrue, nil
	})
}

// bestEffortPod is a pod of the local pause image that needs neither a
// scheduler, a pod network, a registry nor a token controller.
func bestEffortPod(t *testing.T, c cluster) *corev1.Pod {
	t.Helper()
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "bigbox-it-" + randomSuffix(t),
			Namespace: metav1.NamespaceDefault,
			Labels:    map[string]string{"app.kubernetes.io/part-of": "bigbox-integration-test"},
		},
		Spec: corev1.PodSpec{
			NodeName:                      c.node,
			HostNetwork:                   true,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](5),
			Containers: []corev1.Container{{
				Name:            "pause",
				Image:           c.pauseImage,
				ImagePullPolicy: corev1.PullNever,
			}},
		},
	}
}

// besteffortPodCgroup is where the kubelet (cgroupfs driver) puts a
// BestEffort pod: under the cpu controller on cgroup v1, in the unified
// tree on cgroup v2.
func besteffortPodCgroup(root string, uid types.UID) string {
	pod := "pod" + string(uid)
	if _, err := os.Stat(filepath.Join(root, "cpu")); err == nil {
		return filepath.Join(root, "cpu", "kubepods", "besteffort", pod)
	}
	return filepath.Join(root, "kubepods", "besteffort", pod)
}

func waitForPod(t *testing.T, c cluster, name, what string, done func(*corev1.Pod) (bool, error)) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(t.Context(), pollInterval, podTimeout, true, func(ctx context.Context) (bool, error) {
		p, err := c.client.CoreV1().Pods(metav1.NamespaceDefault).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = p
		return done(p)
	})
	if err != nil {
		status := "never read"
		if last != nil {
			status = fmt.Sprintf("phase %s, conditions %+v, containers %+v", last.Status.Phase, last.Status.Conditions, last.Status.ContainerStatuses)
		}
		t.Fatalf("pod %s not %s within %v: %v; last status: %s", name, what, podTimeout, err, status)
	}
	return last
}

// deletePod removes a pod a test made, at once; gone already is fine.
func deletePod(t *testing.T, c cluster, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.client.CoreV1().Pods(metav1.NamespaceDefault).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("clean up pod %s: %v", name, err)
	}
}

func nodeCondition(node *corev1.Node, kind corev1.NodeConditionType) corev1.ConditionStatus {
	for _, c := range node.Status.Conditions {
		if c.Type == kind {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

func podCondition(pod *corev1.Pod, kind corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range pod.Status.Conditions {
		if c.Type == kind {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random name: %v", err)
	}
	return hex.EncodeToString(b)
}
