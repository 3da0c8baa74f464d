// Command bigbox-agent is bigbox's node agent: it measures what online pods
// use, lends the rest to offline work in the besteffort cgroup (the big box)
// and resizes that cgroup continuously. See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bigbox-dev/bigbox/internal/app"
)

func main() {
	var (
		o        app.AgentOptions
		labels   string
		logLevel slog.Level
	)
	host, _ := os.Hostname() // only a default; --node-name overrides it
	flag.BoolVar(&o.Standalone, "standalone", false, "run without an API server, on the cgroup tree of this machine")
	flag.StringVar(&o.ConfigPath, "config", "", "NodeSLO YAML file, reloaded when it changes (empty: built-in defaults)")
	flag.StringVar(&o.KubepodsCgroup, "kubepods-cgroup", "", `kubepods parent cgroup relative to each hierarchy root (empty: detect "kubepods" or "kubepods.slice")`)
	flag.StringVar(&o.Listen, "listen", ":9560", "address of /metrics, /healthz, /readyz and /v1/status")
	flag.StringVar(&o.CgroupRoot, "cgroup-root", "/sys/fs/cgroup", "cgroup file system root")
	flag.StringVar(&o.ProcRoot, "proc-root", "/proc", "proc file system root")
	flag.StringVar(&o.SysRoot, "sys-root", "/sys", "sys file system root")
	flag.StringVar(&o.NodeName, "node-name", host, "name of this node")
	flag.StringVar(&labels, "node-labels", "", "labels of this node for NodeSLO overrides in standalone mode (k=v,k2=v2)")
	flag.DurationVar(&o.CPUInterval, "cpu-interval", 50*time.Millisecond, "period of the fast CPU loop")
	flag.DurationVar(&o.MemoryInterval, "memory-interval", time.Second, "period of the node scan, memory and eviction loop")
	flag.DurationVar(&o.PodScanInterval, "pod-scan-interval", 30*time.Second, "period of the per-pod scan (pods are also read at once when victims may be needed)")
	flag.StringVar(&o.StateFile, "state-file", "/var/lib/bigbox/state.json", "file that keeps the eviction cooldown across restarts (empty: memory only)")
	flag.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig of the API server (empty: in-cluster); Kubernetes mode")
	flag.StringVar(&o.Namespace, "namespace", os.Getenv("POD_NAMESPACE"), "namespace of the bigbox-nodeslo ConfigMap (default $POD_NAMESPACE); Kubernetes mode")
	flag.StringVar(&o.ForecastStateFile, "forecast-state-file", "/var/lib/bigbox/forecast.json", "file that keeps what the online peak predictors learnt across restarts (empty: memory only)")
	flag.StringVar(&o.DevicePluginDir, "device-plugin-dir", "/var/lib/kubelet/device-plugins", "kubelet device-plugin directory (with --standalone only when given)")
	flag.StringVar(&o.PodResourcesSocket, "pod-resources-socket", "/var/lib/kubelet/pod-resources/kubelet.sock", "kubelet PodResources API socket, read for what running pods hold")
	flag.TextVar(&logLevel, "log-level", slog.LevelInfo, "log level (debug, info, warn, error)")
	flag.Parse()
	if o.Standalone && !flagGiven("device-plugin-dir") {
		o.DevicePluginDir = "" // standalone lends through cgroups only unless asked
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))
	var err error
	if o.NodeLabels, err = parseLabels(labels); err != nil {
		fmt.Fprintln(os.Stderr, "bigbox-agent: --node-labels:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := app.RunAgent(ctx, o, logger); err != nil {
		logger.Error("agent stopped", "err", err)
		os.Exit(1)
	}
	logger.Info("agent stopped")
}

func parseLabels(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		m[k] = v
	}
	return m, nil
}

func flagGiven(name string) bool {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
