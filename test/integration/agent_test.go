//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/bigbox-dev/bigbox/internal/app"
)

const (
	resCPU    corev1.ResourceName = "bigbox.dev/cpu"
	resMemory corev1.ResourceName = "bigbox.dev/memory"
)

// agentEnv is one bigbox agent in Kubernetes mode, run in the test process
// against the test cluster, with its own namespace for the NodeSLO.
type agentEnv struct {
	c         cluster
	started   time.Time
	namespace string
	done      chan struct{}
	err       error
	cancel    context.CancelFunc
}

// startAgent creates a namespace with the NodeSLO ConfigMap slo and runs the
// agent until the test ends; the agent's stop (and its restore) is checked.
func startAgent(t *testing.T, c cluster, slo string) *agentEnv {
	t.Helper()
	ctx := testContext(t, time.Minute)
	ns := "bigbox-it-" + randomSuffix(t)
	if _, err := c.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
		defer cancel()
		if err := c.client.CoreV1().Namespaces().Delete(dctx, ns, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete namespace %s: %v", ns, err)
		}
	})
	e := &agentEnv{c: c, namespace: ns, done: make(chan struct{}), started: time.Now()}
	e.setConfig(t, slo)

	runCtx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	e.cancel = cancel
	dir := t.TempDir()
	go func() {
		defer close(e.done)
		e.err = app.RunAgent(runCtx, app.AgentOptions{
			Kubeconfig: os.Getenv(envKubeconfig), Namespace: ns, NodeName: c.node,
			Listen: "127.0.0.1:0", CgroupRoot: *cgroupRootFlag, ProcRoot: "/proc", SysRoot: "/sys",
			CPUInterval: 50 * time.Millisecond, MemoryInterval: 500 * time.Millisecond, PodScanInterval: 2 * time.Second,
			StateFile: filepath.Join(dir, "state.json"),
			// The kubelet of hack/kube-up.sh keeps its default paths.
			DevicePluginDir:    "/var/lib/kubelet/device-plugins",
			PodResourcesSocket: "/var/lib/kubelet/pod-resources/kubelet.sock",
		}, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})))
	}()
	t.Cleanup(e.stop)
	return e
}

func (e *agentEnv) stop() {
	e.cancel()
	<-e.done
}

func (e *agentEnv) setConfig(t *testing.T, slo string) {
	t.Helper()
	ctx := testContext(t, 30*time.Second)
	cms := e.c.client.CoreV1().ConfigMaps(e.namespace)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "bigbox-nodeslo", Namespace: e.namespace},
		Data:       map[string]string{"nodeslo.yaml": slo},
	}
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create NodeSLO: %v", err)
		}
	} else if err != nil {
		t.Fatalf("update NodeSLO: %v", err)
	}
}

// eventually polls cond every 200ms until it holds, the agent stops or d
// passes.
func (e *agentEnv) eventually(t *testing.T, what string, d time.Duration, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, d, true, func(ctx context.Context) (bool, error) {
		select {
		case <-e.done:
			return false, errors.Join(errors.New("agent stopped"), e.err)
		default:
		}
		return cond(ctx)
	})
	if err != nil {
		t.Fatalf("%s: not within %s: %v", what, d, err)
	}
}

// waitAdvertised waits until the node's status, written by the kubelet
// after since plus a few status periods (2s here), shows more than one unit
// of bigbox.dev/cpu and some bigbox.dev/memory. A status from before may
// still show what an earlier agent advertised, and the scheduler would
// place pods the kubelet then rejects.
func (e *agentEnv) waitAdvertised(t *testing.T, since time.Time) {
	t.Helper()
	e.eventually(t, "node advertises bigbox resources", time.Minute, func(ctx context.Context) (bool, error) {
		n, err := e.c.client.CoreV1().Nodes().Get(ctx, e.c.node, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		var beat time.Time
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				beat = cond.LastHeartbeatTime.Time
			}
		}
		cpu, mem := n.Status.Allocatable[resCPU], n.Status.Allocatable[resMemory]
		return beat.After(since.Add(5*time.Second)) && cpu.Value() > 1 && mem.Value() > 0, nil
	})
}

func (e *agentEnv) allocatable(ctx context.Context, name corev1.ResourceName) (int64, error) {
	n, err := e.c.client.CoreV1().Nodes().Get(ctx, e.c.node, metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	q := n.Status.Allocatable[name]
	return q.Value(), nil
}

// offlinePod asks for bigbox resources only and is placed by the scheduler.
func offlinePod(t *testing.T, c cluster, cpuUnits, memUnits int64) *corev1.Pod {
	t.Helper()
	p := bestEffortPod(t, c)
	p.Spec.NodeName = "" // the scheduler places it by the extended resources
	p.Labels["bigbox.dev/colocation"] = "true"
	p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{
		resCPU:    *resource.NewQuantity(cpuUnits, resource.DecimalSI),
		resMemory: *resource.NewQuantity(memUnits, resource.DecimalSI),
	}
	return p
}

func podEvents(ctx context.Context, e *agentEnv, kind, name, reason string) ([]corev1.Event, error) {
	ns := metav1.NamespaceDefault
	if kind == "Node" {
		ns = metav1.NamespaceDefault // node events go to the default namespace
	}
	if kind == "ConfigMap" {
		ns = e.namespace
	}
	list, err := e.c.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.kind": kind, "involvedObject.name": name, "reason": reason}.String(),
	})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

func readCgroup(t *testing.T, ctrl, group, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(*cgroupRootFlag, ctrl, group, file))
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	return strings.TrimSpace(string(b))
}

// fastSLO lends after 1s, follows current usage (no peak predictor, which
// would hold a burst for its 1h horizon) and never evicts for CPU: these
// tests share two CPUs with whatever else the machine runs, and only memory
// and the rules under test should evict.
const fastSLO = `
cpu: {growAfter: 1s, reclaimWatermarkPercent: 100, evictWatermarkPercent: 100, predictor: {name: none}}
memory: {growAfter: 1s, predictor: {name: none}}
evictionCooldown: 1m
`

// TestAgentLendsEvictsAndDisables walks the agent's life on a real node:
// its device plugins register and the node's allocatable follows what is
// lent; the scheduler places an offline pod on the extended resources and
// the kubelet runs it in the big box; a memory watermark breach evicts it
// through the Eviction API with Events and a cooldown; a bad NodeSLO is
// rejected with an Event while the last good one stays; enabled: false
// restores the big box.
func TestAgentLendsEvictsAndDisables(t *testing.T) {
	c := newCluster(t)
	e := startAgent(t, c, fastSLO)
	e.waitAdvertised(t, e.started)

	pod := runPod(t, c, offlinePod(t, c, 1, 1))
	if pod.Spec.NodeName != c.node {
		t.Fatalf("offline pod placed on %q, want %q", pod.Spec.NodeName, c.node)
	}
	e.eventually(t, "big box fenced", 30*time.Second, func(context.Context) (bool, error) {
		return readCgroup(t, "cpu", "kubepods/besteffort", "cpu.cfs_quota_us") != "-1" &&
			readCgroup(t, "cpu", "kubepods/besteffort", "cpu.shares") == "2", nil
	})

	// A NodeSLO that does not validate is rejected with an Event on the
	// ConfigMap; the last good one stays in force.
	e.setConfig(t, "cpu: {reclaimWatermarkPercent: 120}\n")
	e.eventually(t, "rejected NodeSLO Event", 30*time.Second, func(ctx context.Context) (bool, error) {
		evs, err := podEvents(ctx, e, "ConfigMap", "bigbox-nodeslo", "BigboxConfigRejected")
		return len(evs) > 0, err
	})
	if got := readCgroup(t, "cpu", "kubepods/besteffort", "cpu.shares"); got != "2" {
		t.Errorf("after a rejected NodeSLO cpu.shares = %s, want 2 (last good version in force)", got)
	}

	// Node memory far above a 1% evict watermark: the offline pod goes
	// through the Eviction API, with Events naming the watermark.
	e.setConfig(t, `
cpu: {growAfter: 1s, reclaimWatermarkPercent: 100, evictWatermarkPercent: 100, predictor: {name: none}}
memory: {growAfter: 1s, reclaimWatermarkPercent: 1, evictWatermarkPercent: 2, evictReleasePercent: 1, predictor: {name: none}}
evictionCooldown: 1m
`)
	e.eventually(t, "offline pod evicted", time.Minute, func(ctx context.Context) (bool, error) {
		p, err := c.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return err == nil && p.DeletionTimestamp != nil, err
	})
	e.eventually(t, "eviction Events on the pod and the node", 30*time.Second, func(ctx context.Context) (bool, error) {
		onPod, err := podEvents(ctx, e, "Pod", pod.Name, "BigboxEvicted")
		if err != nil {
			return false, err
		}
		onNode, err := podEvents(ctx, e, "Node", c.node, "BigboxEvicted")
		if err != nil {
			return false, err
		}
		if len(onPod) == 0 || len(onNode) == 0 {
			return false, nil
		}
		if !strings.Contains(onPod[0].Message, "evict watermark") {
			t.Errorf("pod Event message %q does not name the watermark", onPod[0].Message)
		}
		return true, nil
	})
	// In the cooldown nothing new is lent: advertised = held (nothing now).
	e.eventually(t, "advertise only what is held in the cooldown", 30*time.Second, func(ctx context.Context) (bool, error) {
		cpu, err := e.allocatable(ctx, resCPU)
		return cpu == 0, err
	})

	// The one-click switch restores the big box.
	e.setConfig(t, "enabled: false\n")
	e.eventually(t, "big box restored on disable", 30*time.Second, func(context.Context) (bool, error) {
		return readCgroup(t, "cpu", "kubepods/besteffort", "cpu.cfs_quota_us") == "-1", nil
	})

	e.stop()
	if e.err != nil && !errors.Is(e.err, context.Canceled) {
		t.Errorf("agent: %v", e.err)
	}
	if got := readCgroup(t, "cpu", "kubepods/besteffort", "cpu.cfs_quota_us"); got != "-1" {
		t.Errorf("quota after the agent stopped = %s, want -1", got)
	}
}

// stillRunning fails when the offline pod is no longer Running, e.g. the
// kubelet rejected it after a restart (UnexpectedAdmissionError).
func stillRunning(ctx context.Context, c cluster, pod *corev1.Pod) (bool, error) {
	p, err := c.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	if p.Status.Phase != corev1.PodRunning {
		return false, fmt.Errorf("offline pod is %s (%s: %s) after the kubelet restart", p.Status.Phase, p.Status.Reason, p.Status.Message)
	}
	return true, nil
}

// restartKubelet stops the test cluster's kubelet by its recorded PID and
// starts it again with hack/kube-up.sh, which starts what is missing.
func restartKubelet(t *testing.T) {
	t.Helper()
	run := os.Getenv("BIGBOX_KUBE_RUN")
	b, err := os.ReadFile(filepath.Join(run, "pids", "kubelet.pid"))
	if err != nil {
		t.Fatalf("kubelet pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil {
		t.Fatalf("kubelet pid %q: %v", b, err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("stop kubelet %d: %v", pid, err)
	}
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		_, err := os.Stat(fmt.Sprintf("/proc/%d/exe", pid))
		return errors.Is(err, fs.ErrNotExist), nil
	})
	if err != nil {
		t.Fatalf("kubelet %d did not stop: %v", pid, err)
	}
	cmd := exec.CommandContext(t.Context(), "../../hack/kube-up.sh")
	cmd.Stderr = t.Output()
	if err := cmd.Run(); err != nil {
		t.Fatalf("start the kubelet again: %v", err)
	}
}

// TestKubeletRestart: the kubelet deletes every socket in its device-plugin
// directory when it starts; bigbox's plugins must register again within
// seconds, and the offline pod that holds devices must not be rejected.
func TestKubeletRestart(t *testing.T) {
	c := newCluster(t)
	e := startAgent(t, c, fastSLO)
	e.waitAdvertised(t, e.started)
	pod := runPod(t, c, offlinePod(t, c, 1, 1))

	restarted := time.Now()
	restartKubelet(t)
	e.waitAdvertised(t, restarted)
	t.Logf("bigbox resources back in node status %s after the kubelet restart began", time.Since(restarted).Round(100*time.Millisecond))
	// A new offline pod is admitted on the re-registered plugins.
	runPod(t, c, offlinePod(t, c, 1, 1))
	// The kubelet re-admits running pods at start; watch a few status
	// updates for a rejection of one that lost its devices.
	since := time.Now()
	e.eventually(t, "offline pod running for 5s after the restart", 30*time.Second, func(ctx context.Context) (bool, error) {
		if ok, err := stillRunning(ctx, c, pod); !ok {
			return false, err
		}
		return time.Since(since) > 5*time.Second, nil
	})
}

// TestTimeWindowGraceAndEnd: inside a window's grace nothing new is lent
// (advertised = held); at the window's end the offline pod is evicted.
func TestTimeWindowGraceAndEnd(t *testing.T) {
	c := newCluster(t)
	now := time.Now().UTC()
	// Windows are set in whole minutes: this one ends 2–3 minutes from now,
	// so its grace starts 1–2 minutes from now, after the agent has lent.
	start, end := now.Add(-time.Hour).Truncate(time.Minute), now.Add(3*time.Minute).Truncate(time.Minute)
	slo := fmt.Sprintf(`
cpu: {growAfter: 1s, reclaimWatermarkPercent: 100, evictWatermarkPercent: 100, predictor: {name: none}}
memory: {growAfter: 1s, predictor: {name: none}}
evictionCooldown: 1m
timeZone: UTC
timeWindows:
  - start: "%s"
    end: "%s"
    grace: 1m
`, start.Format("15:04"), end.Format("15:04"))
	e := startAgent(t, c, slo)
	e.waitAdvertised(t, e.started)
	pod := runPod(t, c, offlinePod(t, c, 1, 1))
	e.eventually(t, "grace: advertise only what is held", 3*time.Minute, func(ctx context.Context) (bool, error) {
		cpu, err := e.allocatable(ctx, resCPU)
		return cpu == 1, err
	})
	if time.Now().UTC().Before(end.Add(-time.Minute - 5*time.Second)) {
		t.Errorf("lending stopped at %s, before the grace began at %s", time.Now().UTC().Format(time.TimeOnly), end.Add(-time.Minute).Format(time.TimeOnly))
	}
	if ok, err := stillRunning(t.Context(), c, pod); !ok {
		t.Fatalf("offline pod evicted during the grace: %v", err)
	}
	e.eventually(t, "offline pod evicted at the window's end", 2*time.Minute, func(ctx context.Context) (bool, error) {
		evs, err := podEvents(ctx, e, "Pod", pod.Name, "BigboxEvicted")
		if err != nil || len(evs) == 0 {
			return false, err
		}
		if !strings.Contains(evs[0].Message, "time window") {
			t.Errorf("eviction Event %q does not name the time window", evs[0].Message)
		}
		return true, nil
	})
	if time.Now().UTC().Before(end) {
		t.Errorf("evicted at %s, before the window ended at %s", time.Now().UTC().Format(time.TimeOnly), end.Format(time.TimeOnly))
	}
}

// busyIn starts a CPU spinner in group (relative to every v1 controller,
// here the kubelet's own QoS cgroups) and kills it on cleanup or stop.
func busyIn(t *testing.T, group string) (stop func()) {
	t.Helper()
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start spinner: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // a killed spinner's exit status says nothing
		close(done)
	}()
	stop = func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill() // gone already is fine
		}
		<-done
	}
	t.Cleanup(stop)
	for _, ctrl := range []string{"cpu", "cpuacct", "memory"} {
		p := filepath.Join(*cgroupRootFlag, ctrl, group, "cgroup.procs")
		if err := os.WriteFile(p, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
			t.Fatalf("move spinner into %s: %v", p, err)
		}
	}
	return stop
}

// TestAdvertisedFollowsOnlineLoad: a core of online work (a spinner in the
// kubelet's burstable cgroup) takes about ten 100m devices off what the node
// advertises; when it stops, they come back.
func TestAdvertisedFollowsOnlineLoad(t *testing.T) {
	c := newCluster(t)
	e := startAgent(t, c, fastSLO)
	e.waitAdvertised(t, e.started)
	var before int64
	e.eventually(t, "at least 8 devices advertised", time.Minute, func(ctx context.Context) (bool, error) {
		v, err := e.allocatable(ctx, resCPU)
		before = v
		return v >= 8, err
	})
	stop := busyIn(t, "kubepods/burstable")
	e.eventually(t, "advertised cpu falls under online load", time.Minute, func(ctx context.Context) (bool, error) {
		v, err := e.allocatable(ctx, resCPU)
		return v <= before-6, err
	})
	stop()
	var last int64
	e.eventually(t, "advertised cpu comes back", time.Minute, func(ctx context.Context) (bool, error) {
		v, err := e.allocatable(ctx, resCPU)
		if v != last {
			t.Logf("advertised bigbox.dev/cpu: %d (before the load: %d)", v, before)
			last = v
		}
		return v >= before-3, err
	})
}

// TestDisableEvictsOfflinePods: `enabled: false` evicts every offline pod
// through the Eviction API, naming the switch, and restores the big box.
func TestDisableEvictsOfflinePods(t *testing.T) {
	c := newCluster(t)
	e := startAgent(t, c, fastSLO)
	e.waitAdvertised(t, e.started)
	pods := []*corev1.Pod{runPod(t, c, offlinePod(t, c, 1, 1)), runPod(t, c, offlinePod(t, c, 1, 1))}
	e.setConfig(t, "enabled: false\n")
	for _, pod := range pods {
		e.eventually(t, "offline pod "+pod.Name+" evicted on disable", time.Minute, func(ctx context.Context) (bool, error) {
			evs, err := podEvents(ctx, e, "Pod", pod.Name, "BigboxEvicted")
			if err != nil || len(evs) == 0 {
				return false, err
			}
			if !strings.Contains(evs[0].Message, "disabled") {
				t.Errorf("eviction Event %q does not name the switch", evs[0].Message)
			}
			return true, nil
		})
	}
	e.eventually(t, "big box restored", 30*time.Second, func(context.Context) (bool, error) {
		return readCgroup(t, "cpu", "kubepods/besteffort", "cpu.cfs_quota_us") == "-1", nil
	})
	e.eventually(t, "nothing advertised once the pods are gone", time.Minute, func(ctx context.Context) (bool, error) {
		v, err := e.allocatable(ctx, resCPU)
		return v == 0, err
	})
}
