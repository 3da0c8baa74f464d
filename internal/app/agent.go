// Package app wires bigbox's parts into the programs of cmd/: it builds the
// metrics registry, opens the cgroup hierarchy, starts the config watcher,
// the control loops and the HTTP server, and owns the errgroup they run in.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"
	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/internal/agent"
	"github.com/bigbox-dev/bigbox/internal/config"
	"github.com/bigbox-dev/bigbox/internal/executor"
	"github.com/bigbox-dev/bigbox/internal/forecast"
	"github.com/bigbox-dev/bigbox/internal/host"
	"github.com/bigbox-dev/bigbox/internal/sampler"
	"github.com/bigbox-dev/bigbox/internal/server"
	"github.com/bigbox-dev/bigbox/internal/statefile"
	"github.com/bigbox-dev/bigbox/pkg/cgroup"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// AgentOptions are the agent's flags.
type AgentOptions struct {
	Standalone bool
	// ConfigPath is the NodeSLO file; empty runs on the built-in defaults.
	ConfigPath string
	// KubepodsCgroup is the kubepods parent relative to each hierarchy
	// root; empty detects "kubepods" or "kubepods.slice".
	KubepodsCgroup string
	Listen         string
	// Roots of the machine's cgroup, proc and sys file systems.
	CgroupRoot, ProcRoot, SysRoot string
	NodeName                      string
	// NodeLabels choose the per-node overrides of the NodeSLO.
	NodeLabels                                   map[string]string
	CPUInterval, MemoryInterval, PodScanInterval time.Duration
	// StateFile keeps the eviction cooldown across restarts; empty keeps
	// it in memory only.
	StateFile string
	// ForecastStateFile keeps what the online peak predictors learnt across
	// restarts; empty keeps it in memory only.
	ForecastStateFile string
	// DevicePluginDir is the kubelet's device-plugin directory; empty runs
	// no device plugin (the default standalone). PodResourcesSocket is the
	// kubelet's PodResources API, read for what running pods hold.
	DevicePluginDir, PodResourcesSocket string
	// Kubeconfig is the API server's kubeconfig outside a pod (empty: in
	// cluster); Namespace holds the NodeSLO ConfigMap. Kubernetes mode only.
	Kubeconfig, Namespace string
}

// RunAgent runs the node agent until ctx is done. On return the big box has
// been restored (or the returned error says why not).
func RunAgent(ctx context.Context, o AgentOptions, logger *slog.Logger) (err error) {
	clk := clock.RealClock{}
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return fmt.Errorf("register go collector: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return fmt.Errorf("register process collector: %w", err)
	}

	// The group starts before set-up is done (the informers must sync
	// before the first decision); a failed set-up stops and waits for it.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(runCtx)
	started := false
	defer func() {
		if !started {
			cancel()
			err = errors.Join(err, g.Wait())
		}
	}()

	var (
		cfgSrc *configSource
		kp     *kubeParts
	)
	if o.Standalone {
		var w *config.Watcher
		if cfgSrc, w, err = newFileConfigSource(o.ConfigPath, o.NodeLabels, logger, reg); err != nil {
			return err
		}
		if w != nil {
			g.Go(func() error { return w.Run(gctx) })
		}
	} else {
		if kp, err = newKubeParts(o, logger, reg); err != nil {
			return err
		}
		kp.run(gctx, g)
		kp.waitSynced(gctx, 30*time.Second, logger)
		if cfgSrc, err = newConfigSource(kp.slo, nodeLabels{kp.node}, nil, logger); err != nil {
			return err
		}
	}

	cg, err := cgroup.Open(o.CgroupRoot)
	if err != nil {
		return fmt.Errorf("open cgroup hierarchy: %w", err)
	}
	layout, err := cgroup.DetectLayout(cg, o.KubepodsCgroup)
	if err != nil {
		return fmt.Errorf("find the kubepods cgroup: %w", err)
	}
	hr := host.New(o.ProcRoot, o.SysRoot)
	defer func() { err = errors.Join(err, hr.Close()) }()
	smp := sampler.New(cg, hr, layout, clk, logger)
	defer func() { err = errors.Join(err, smp.Close()) }()
	exec, err := executor.New(cg, hr, layout.Besteffort, reg, clk, logger)
	if err != nil {
		return fmt.Errorf("start executor: %w", err)
	}
	c0 := cfgSrc.Config()
	fset, err := forecast.NewSet(c0.CPUPredictor, c0.MemoryPredictor)
	if err != nil {
		return fmt.Errorf("build forecasters: %w", err)
	}
	if o.ForecastStateFile != "" {
		if err := fset.Load(o.ForecastStateFile); err != nil {
			logger.Warn("forecast state not restored, predictors start afresh", "err", err)
		}
	}
	var lend *lender
	if o.DevicePluginDir != "" {
		slo := cfgSrc.slo()
		u := slo.UnitSizes()
		lend, err = newLender(o.DevicePluginDir, o.PodResourcesSocket, unitSizes{cpuMilli: u.CPUMilli, memoryBytes: u.MemoryBytes}, clk, logger)
		if err != nil {
			return err
		}
	}
	var saver *statefile.File
	if o.StateFile != "" {
		saver = statefile.New(o.StateFile)
	}
	var evictor agent.Evictor = agent.NewCgroupKiller(cg)
	full := fullAdapter{s: smp}
	if kp != nil {
		evictor, full.offline = kp.evictor, kp.pods.Offline
	}
	ag, err := agent.New(agent.Options{
		Node:            o.NodeName,
		CPUInterval:     o.CPUInterval,
		MemoryInterval:  o.MemoryInterval,
		PodScanInterval: o.PodScanInterval,
		CgroupVersion:   int(cg.Version()),
		CgroupDriver:    string(layout.Driver),
		BigBoxGroup:     layout.Besteffort,
	}, agent.Parts{
		Config:  cfgSrc,
		CPU:     cpuAdapter{smp},
		Full:    full,
		Exec:    exec,
		Evictor: evictor,
		State:   stateSaver(saver),
		Lender:  agentLender(lend),
		// Both always set: the "none" predictor forecasts nothing.
		CPUForecast:    fset.CPU,
		MemoryForecast: fset.Memory,
		Clock:          clk,
		Logger:         logger.With("component", "agent"),
	}, reg)
	if err != nil {
		return err
	}
	if saver != nil {
		st, err := saver.Load()
		if err != nil {
			logger.Warn("state file unreadable, starting without a cooldown", "err", err)
		}
		ag.RestoreCooldown(st.CooldownUntil)
	}
	srv, err := server.New(o.Listen, reg, ag, logger.With("component", "server"))
	if err != nil {
		return err
	}
	logger.Info("agent started", "listen", srv.Addr().String(), "cgroup_version", int(cg.Version()),
		"driver", layout.Driver, "bigbox_cgroup", layout.Besteffort, "config_version", cfgSrc.Config().Version)

	started = true
	g.Go(func() error { return cfgSrc.Run(gctx) })
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error { return ag.Run(gctx) })
	if lend != nil {
		g.Go(func() error { return lend.Run(gctx) })
	}
	if o.ForecastStateFile != "" {
		g.Go(func() error {
			return fset.Run(gctx, o.ForecastStateFile, time.Minute, clk, logger.With("component", "forecast"))
		})
	}
	return g.Wait()
}

// agentLender keeps a nil *lender from becoming a non-nil interface.
func agentLender(l *lender) interface {
	Held() (float64, float64)
	Advertise(float64, float64)
} {
	if l == nil {
		return nil
	}
	return l
}

// stateSaver keeps a nil *statefile.File from becoming a non-nil interface.
func stateSaver(f *statefile.File) interface{ Save(qos.State) error } {
	if f == nil {
		return nil
	}
	return f
}
