// Command demo is `make demo`: it runs bigbox on this machine's real cgroups
// with an online service, offline burners and the agent in standalone mode,
// prints a live view and writes demo-out/summary.json and report.png. See
// docs/demo.md. Run it as root; it cleans up everything it made, also on
// Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/internal/demo"
	"github.com/bigbox-dev/bigbox/internal/host"
	"github.com/bigbox-dev/bigbox/pkg/cgroup"
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	if len(os.Args) > 1 && os.Args[1] == demo.ChildArg {
		if err := demo.RunChild(ctx, os.Args[2:], os.Stdin, os.Stdout, clock.RealClock{}, logger); err != nil {
			logger.Error("demo child failed", "err", err)
			return 1
		}
		return 0
	}

	exe, err := os.Executable()
	if err != nil {
		logger.Error("find own executable", "err", err)
		return 1
	}
	defaultSeconds := 120
	if v := os.Getenv("DEMO_SECONDS"); v != "" {
		if defaultSeconds, err = strconv.Atoi(v); err != nil || defaultSeconds <= 0 {
			logger.Error("DEMO_SECONDS must be a positive whole number of seconds", "value", v)
			return 2
		}
	}
	var (
		cfg     demo.Config
		seconds int
		phases  string
		work    time.Duration
		memMiB  int64
		level   slog.Level
	)
	flag.IntVar(&seconds, "seconds", defaultSeconds, "length of the whole run, split evenly between the phases (default from DEMO_SECONDS, else 120)")
	flag.StringVar(&phases, "phases", "alone,burners,agent", "phases to run, in this order: alone, burners, agent")
	flag.StringVar(&cfg.CgroupRoot, "cgroup-root", "/sys/fs/cgroup", "cgroup file system root")
	flag.StringVar(&cfg.ProcRoot, "proc-root", "/proc", "proc file system root")
	flag.StringVar(&cfg.SysRoot, "sys-root", "/sys", "sys file system root")
	flag.StringVar(&cfg.OutDir, "out", "demo-out", "output directory, relative to the working directory")
	flag.StringVar(&cfg.AgentPath, "agent", filepath.Join(filepath.Dir(exe), "bigbox-agent"), "bigbox-agent binary")
	flag.StringVar(&cfg.TracePath, "trace", filepath.Join("testdata", "traces", "crane-input0.csv"), "usage trace whose daily curve drives the load")
	flag.IntVar(&cfg.TraceDay, "trace-day", 0, "day of the trace to replay (0 = first)")
	flag.IntVar(&cfg.SmoothSamples, "smooth", 15, "moving-average window over the trace, in samples")
	flag.Float64Var(&cfg.PeakCores, "peak-cores", 0.65, "CPU the online service uses at the curve's peak, in cores")
	flag.DurationVar(&work, "work", 1500*time.Microsecond, "CPU time of one online request")
	flag.IntVar(&cfg.CPUBurners, "cpu-burners", runtime.NumCPU(), "CPU burner processes (default one per CPU)")
	flag.Int64Var(&memMiB, "memory-burner-mib", 768, "memory the memory burner keeps touching, in MiB (0 = none)")
	flag.TextVar(&level, "log-level", slog.LevelInfo, "log level (debug, info, warn, error)")
	flag.Parse()
	logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if os.Geteuid() != 0 {
		logger.Error("the demo writes cgroups: run it as root")
		return 2
	}
	for _, p := range strings.Split(phases, ",") {
		cfg.Phases = append(cfg.Phases, demo.Phase(strings.TrimSpace(p)))
	}
	cgfs, err := cgroup.Open(cfg.CgroupRoot)
	if err != nil {
		logger.Error("open cgroups", "root", cfg.CgroupRoot, "err", err)
		return 1
	}
	hostReader := host.New(cfg.ProcRoot, cfg.SysRoot)
	defer hostReader.Close() // read-only /proc/stat: a close error loses nothing

	cfg.Cgroups = cgfs
	cfg.Host = hostReader
	cfg.Clock = clock.RealClock{}
	cfg.Logger = logger
	cfg.Out = os.Stdout
	cfg.Duration = time.Duration(seconds) * time.Second
	cfg.Work = work
	cfg.MemoryBurnerBytes = memMiB << 20
	cfg.ChildCommand = []string{exe, demo.ChildArg}

	if _, err := demo.Run(ctx, cfg); err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "demo interrupted; everything it started was stopped and removed")
			return 130
		}
		logger.Error("demo failed", "err", err)
		return 1
	}
	return 0
}
