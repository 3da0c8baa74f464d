package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/internal/api"
)

// NodeSLOYAML is the NodeSLO the demo gives the agent: the product's
// watermarks, but a short growAfter and eviction cooldown so a two-minute
// run shows the big box follow the load.
const NodeSLOYAML = `# Written by the bigbox demo (internal/demo): the usual watermarks, with
# short hysteresis and cooldown so a run of a few minutes shows movement.
# No peak predictor: the demo replays a day in a minute, while predictors
# learn over real hours (their peak over a 1h horizon would hold the first
# burst for the whole run).
enabled: true
cpu:
  reclaimWatermarkPercent: 65
  evictWatermarkPercent: 90
  growAfter: 3s
  predictor: {name: none}
memory:
  reclaimWatermarkPercent: 70
  evictWatermarkPercent: 90
  growAfter: 3s
  predictor: {name: none}
evictionCooldown: 30s
`

// agentReadyTimeout bounds the wait for the agent's first status.
const agentReadyTimeout = 15 * time.Second

// agentPoll is how often the agent's status is tried while waiting.
const agentPoll = 200 * time.Millisecond

// statusTimeout bounds one status request.
const statusTimeout = 500 * time.Millisecond

// agentSpec says how to run the agent standalone on the demo's tree.
type agentSpec struct {
	path       string
	configPath string
	kubepods   string
	cgroupRoot string
	procRoot   string
	sysRoot    string
	logPath    string
}

// agent is the running agent and a client of its status API.
type agent struct {
	proc   *proc
	url    string
	client *http.Client
}

// freeLoopbackAddr returns a loopback address with a port free right now.
// Another process could take the port before the agent binds it; the agent
// would then fail to start and the demo say so.
func freeLoopbackAddr(ctx context.Context) (string, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	return addr, nil
}

// startAgent writes the NodeSLO, starts the agent and waits until its
// status answers. On failure nothing is left running.
func startAgent(ctx context.Context, spec agentSpec, clk clock.WithTicker) (*agent, error) {
	if _, err := os.Stat(spec.path); err != nil {
		return nil, fmt.Errorf("agent binary: %w (build it with `go build -o bin/ ./cmd/...`)", err)
	}
	if err := os.WriteFile(spec.configPath, []byte(NodeSLOYAML), 0o644); err != nil {
		return nil, fmt.Errorf("write nodeslo: %w", err)
	}
	listen, err := freeLoopbackAddr(ctx)
	if err != nil {
		return nil, err
	}
	p, err := startProc(procSpec{
		name: "bigbox-agent",
		argv: []string{
			spec.path, "--standalone",
			"--config", spec.configPath,
			"--kubepods-cgroup", spec.kubepods,
			"--listen", listen,
			"--cgroup-root", spec.cgroupRoot,
			"--proc-root", spec.procRoot,
			"--sys-root", spec.sysRoot,
		},
		logPath:     spec.logPath,
		deathSignal: syscall.SIGTERM,
	})
	if err != nil {
		return nil, err
	}
	a := &agent{
		proc:   p,
		url:    "http://" + listen + api.StatusPath,
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
	}
	if err := a.waitReady(ctx, clk); err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), agentStopTimeout)
		defer cancel()
		return nil, errors.Join(err, a.stop(stopCtx))
	}
	return a, nil
}

// waitReady polls the status until it answers, the agent exits or
// agentReadyTimeout passes.
func (a *agent) waitReady(ctx context.Context, clk clock.WithTicker) error {
	start := clk.Now()
	t := clk.NewTicker(agentPoll)
	defer t.Stop()
	for {
		_, err := a.status(ctx)
		if err == nil {
			return nil
		}
		if a.proc.exited() {
			return fmt.Errorf("agent exited at start (%v); see %s", a.proc.err, a.proc.log.Name())
		}
		if clk.Since(start) > agentReadyTimeout {
			return fmt.Errorf("agent status not answering after %v: %w; see %s", agentReadyTimeout, err, a.proc.log.Name())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
		}
	}
}

// status reads the agent's /v1/status.
func (a *agent) status(ctx context.Context) (api.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url, nil)
	if err != nil {
		return api.Status{}, fmt.Errorf("agent status: %w", err)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return api.Status{}, fmt.Errorf("agent status: %w", err)
	}
	defer resp.Body.Close() // read-only body; its close error says nothing new
	if resp.StatusCode != http.StatusOK {
		return api.Status{}, fmt.Errorf("agent status: %s", resp.Status)
	}
	var st api.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return api.Status{}, fmt.Errorf("agent status: decode: %w", err)
	}
	return st, nil
}

// agentStopTimeout is how long the agent gets after SIGTERM to restore the
// big box before it is killed.
const agentStopTimeout = 5 * time.Second

// stop sends SIGTERM, so the agent restores what it changed, and kills it
// when ctx ends first.
func (a *agent) stop(ctx context.Context) error {
	a.client.CloseIdleConnections()
	return a.proc.stop(ctx, syscall.SIGTERM)
}
