package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/bigbox-dev/bigbox/pkg/cgroup"
)

var cgroupRoot = flag.String("cgroup.root", "/sys/fs/cgroup", "cgroup mount root for the real-hierarchy tests")

// realTree makes a unique kubelet-shaped tree on the machine's cgroup v1
// hierarchy and removes it, with every process the test started, on
// cleanup.
func realTree(t *testing.T) (*cgroup.FS, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("real cgroup test: skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("real cgroup test: needs root")
	}
	if _, err := os.Stat(filepath.Join(*cgroupRoot, "cpu")); err != nil {
		t.Skipf("real cgroup test: no cgroup v1 cpu hierarchy at %s", *cgroupRoot)
	}
	cg, err := cgroup.Open(*cgroupRoot)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	parent := "bigbox-test-" + hex.EncodeToString(b)
	for _, g := range []string{parent, parent + "/kubepods", parent + "/kubepods/burstable", parent + "/kubepods/besteffort"} {
		if err := cg.Create(g); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if err := cg.Remove(parent); err != nil {
			t.Errorf("remove test tree %s: %v", parent, err)
		}
	})
	return cg, parent
}

// startIn starts a process the test owns in group and kills it on cleanup.
func startIn(t *testing.T, cg *cgroup.FS, group string) *exec.Cmd {
	t.Helper()
	if err := cg.Create(group); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status of a killed sleep says nothing
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // already gone when the agent evicted it
		<-done
	})
	if err := cg.AddProc(group, cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestAgentOnRealCgroups runs the whole standalone agent on a real cgroup
// v1 tree: it must fence the big box, take oom_score_adj up, and on
// `enabled: false` evict the offline pod and restore the big box; on stop
// restore it again.
func TestAgentOnRealCgroups(t *testing.T) {
	cg, parent := realTree(t)
	besteffort := parent + "/kubepods/besteffort"
	offline := startIn(t, cg, besteffort+"/pod11111111-2222-3333-4444-555555555555")
	startIn(t, cg, parent+"/kubepods/burstable/pod66666666-7777-8888-9999-000000000000")
	path := func(ctrl, file string) string { return filepath.Join(cg.Path(ctrl, besteffort), file) }
	origShares := readFile(t, path("cpu", "cpu.shares"))
	origCPUs := readFile(t, path("cpuset", "cpuset.cpus"))

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "nodeslo.yaml")
	writeConfig := func(enabled bool) {
		t.Helper()
		doc := fmt.Sprintf("enabled: %v\ncpu: {growAfter: 0s}\nmemory: {growAfter: 0s}\n", enabled)
		tmp := cfgPath + ".tmp"
		if err := os.WriteFile(tmp, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, cfgPath); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(true)

	ctx, cancel := context.WithCancel(t.Context())
	// done is closed when RunAgent returns, with its error in runErr.
	done := make(chan struct{})
	var runErr error
	listen := "127.0.0.1:0"
	go func() {
		defer close(done)
		runErr = RunAgent(ctx, AgentOptions{
			Standalone: true, ConfigPath: cfgPath, KubepodsCgroup: parent + "/kubepods",
			Listen: listen, CgroupRoot: *cgroupRoot, ProcRoot: "/proc", SysRoot: "/sys",
			NodeName: "test", CPUInterval: 20 * time.Millisecond, MemoryInterval: 100 * time.Millisecond,
			StateFile: filepath.Join(dir, "state.json"),
		}, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})))
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	// eventually polls cond every 10ms until it holds or d passes.
	eventually := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, d, true, func(context.Context) (bool, error) {
			select {
			case <-done:
				return false, fmt.Errorf("agent stopped: %w", runErr)
			default:
			}
			return cond(), nil
		})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	eventually("big box fenced", 10*time.Second, func() bool {
		return readFile(t, path("cpu", "cpu.shares")) == "2" &&
			readFile(t, path("cpu", "cpu.cfs_quota_us")) != "-1" &&
			readFile(t, path("memory", "memory.limit_in_bytes")) != readFile(t, filepath.Join(cg.Path("memory", parent), "memory.limit_in_bytes"))
	})
	eventually("oom_score_adj raised", 10*time.Second, func() bool {
		return readFile(t, fmt.Sprintf("/proc/%d/oom_score_adj", offline.Process.Pid)) == "1000"
	})

	writeConfig(false)
	start := time.Now()
	eventually("big box restored on disable", 5*time.Second, func() bool {
		return readFile(t, path("cpu", "cpu.cfs_quota_us")) == "-1" &&
			readFile(t, path("cpu", "cpu.shares")) == origShares &&
			readFile(t, path("cpuset", "cpuset.cpus")) == origCPUs
	})
	t.Logf("restored %s after the config change", time.Since(start).Round(time.Millisecond))
	eventually("offline pod evicted on disable", 5*time.Second, func() bool {
		pids, err := cg.Procs(besteffort, true)
		return err == nil && len(pids) == 0
	})

	writeConfig(true)
	eventually("big box fenced again", 10*time.Second, func() bool {
		return readFile(t, path("cpu", "cpu.shares")) == "2"
	})
	cancel()
	stopped := time.Now()
	<-done
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		t.Fatalf("agent: %v", runErr)
	}
	if d := time.Since(stopped); d > time.Second {
		t.Errorf("agent took %s to stop and restore, want under 1s", d)
	}
	if got := readFile(t, path("cpu", "cpu.cfs_quota_us")); got != "-1" {
		t.Errorf("quota after stop = %s, want -1", got)
	}
	if got := readFile(t, path("cpu", "cpu.shares")); got != origShares {
		t.Errorf("cpu.shares after stop = %s, want %s", got, origShares)
	}
	if got := readFile(t, path("memory", "memory.limit_in_bytes")); got != readFile(t, filepath.Join(cg.Path("memory", parent), "memory.limit_in_bytes")) {
		t.Errorf("memory limit after stop = %s, want the parent's (unlimited)", got)
	}
}
