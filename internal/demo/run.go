package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/internal/host"
	"github.com/bigbox-dev/bigbox/internal/trace"
	"github.com/bigbox-dev/bigbox/pkg/cgroup"
)

// limitWriter resets the big box between phases.
type limitWriter interface {
	SetCPUQuota(group string, quotaMicros, periodMicros int64) error
	SetCPUWeight(group string, weight uint64) error
	SetCPUs(group string, cpus []int) error
	SetMemoryLimit(group string, limitBytes int64) error
}

// Cgroups is what the demo needs of the cgroup hierarchy; *cgroup.FS has
// it all. The demo makes, measures, resets and removes its own tree.
type Cgroups interface {
	treeCgroups
	procLister
	usageReader
	limitWriter
}

// Host reads the machine's CPU time and capacity; *host.Reader has both.
type Host interface {
	nodeCPU
	Capacity() (host.Capacity, error)
}

// Config is one demo run. Run fills nothing in: main sets the defaults.
type Config struct {
	Cgroups Cgroups
	Host    Host
	Clock   clock.WithTicker
	Logger  *slog.Logger
	// Out receives the live view and the closing summary.
	Out io.Writer

	// CgroupRoot, ProcRoot and SysRoot are passed on to the agent.
	CgroupRoot, ProcRoot, SysRoot string

	// Duration of the whole run, split evenly between Phases (a subsequence
	// of AllPhases, in that order).
	Duration time.Duration
	Phases   []Phase
	// OutDir receives summary.json, samples.json, report.png, nodeslo.yaml
	// and logs/.
	OutDir string
	// AgentPath is the bigbox-agent binary.
	AgentPath string
	// TracePath is the load curve (see testdata/traces/README.md);
	// TraceDay picks the day, SmoothSamples the moving-average window.
	TracePath     string
	TraceDay      int
	SmoothSamples int
	// PeakCores is the CPU the online service uses at the curve's peak;
	// Work the CPU time of one request.
	PeakCores float64
	Work      time.Duration
	// CPUBurners is the number of CPU burner processes (one per CPU is
	// usual); MemoryBurnerBytes the memory burner's size.
	CPUBurners        int
	MemoryBurnerBytes int64
	// ChildCommand starts the demo binary as a child: argv before the
	// child kind, normally [<this executable>, ChildArg].
	ChildCommand []string
}

func (c Config) validate() error {
	var errs []error
	if c.Cgroups == nil || c.Host == nil || c.Clock == nil || c.Logger == nil || c.Out == nil {
		errs = append(errs, errors.New("cgroups, host, clock, logger and out are required"))
	}
	if len(c.Phases) == 0 {
		errs = append(errs, errors.New("no phases"))
	}
	// Phases must keep the order of AllPhases: burners start after the
	// alone phase and are never stopped in between.
	last := -1
	for _, p := range c.Phases {
		i := slices.Index(AllPhases(), p)
		if i < 0 {
			errs = append(errs, fmt.Errorf("unknown phase %q", p))
			continue
		}
		if i <= last {
			errs = append(errs, fmt.Errorf("phase %q out of order or repeated, want a subsequence of %v", p, AllPhases()))
		}
		last = i
	}
	if c.Duration < time.Duration(len(c.Phases))*time.Second {
		errs = append(errs, fmt.Errorf("duration %v is less than a second per phase", c.Duration))
	}
	if c.PeakCores <= 0 || c.Work <= 0 {
		errs = append(errs, fmt.Errorf("peak cores %g and work %v must be positive", c.PeakCores, c.Work))
	}
	if c.CPUBurners < 0 || c.MemoryBurnerBytes < 0 {
		errs = append(errs, errors.New("burner counts and sizes must not be negative"))
	}
	if len(c.ChildCommand) == 0 || c.OutDir == "" || c.TracePath == "" {
		errs = append(errs, errors.New("child command, out dir and trace are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	return nil
}

// Load generator settings: a tick short enough for about one request per
// tick at a peak of a few hundred per second, a cap well above what the
// service has in flight when healthy, and a timeout far above any healthy
// latency.
const (
	loadTick        = 2 * time.Millisecond
	loadMaxInFlight = 64
	loadTimeout     = 2 * time.Second
)

// childStartTimeout bounds the wait for the online service's address.
const childStartTimeout = 10 * time.Second

// cleanupTimeout bounds the whole cleanup: stopping the agent (which
// restores the big box), killing the children and removing the tree.
const cleanupTimeout = 20 * time.Second

// run is the state of one demo run.
type run struct {
	cfg        Config
	log        *slog.Logger
	curve      Curve
	iterations int
	workCost   time.Duration
	peakRPS    float64
	capacity   host.Capacity
	start      time.Time

	tree     podTree
	children []*proc
	burners  []*proc
	agent    *agent
	client   *http.Client
	load     LoadGen
	sampler  *sampler
	defaults cgroup.Limits
}

// Run runs the demo: it builds the cgroup tree, starts the online service,
// replays the day curve once per phase while printing a line a second,
// cleans up everything it made, and writes summary.json, samples.json and
// report.png to cfg.OutDir. When ctx ends early it still cleans up and
// writes what it measured, marked interrupted, and returns ctx's error.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	if err := cfg.validate(); err != nil {
		return Summary{}, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.OutDir, "logs"), 0o755); err != nil {
		return Summary{}, fmt.Errorf("make output dir: %w", err)
	}
	r := &run{cfg: cfg, log: cfg.Logger.With("component", "demo")}
	if err := r.prepare(); err != nil {
		return Summary{}, err
	}
	results, runErr := r.execute(ctx)

	sum := Summarize(results, r.capacity.Cores)
	sum.Interrupted = runErr != nil
	sum.CgroupParent = r.tree.Parent
	sum.Trace = filepath.Base(cfg.TracePath)
	sum.TraceDay = cfg.TraceDay
	sum.PeakRPS = r.peakRPS
	sum.WorkMillis = millis(r.workCost)
	outErr := r.writeOutputs(sum, results)
	if err := writeHumanSummary(cfg.Out, sum, cfg.OutDir); err != nil {
		outErr = errors.Join(outErr, fmt.Errorf("print summary: %w", err))
	}
	return sum, errors.Join(runErr, outErr)
}

// prepare reads the curve, calibrates the request work and reads the
// capacity: nothing to clean up yet.
func (r *run) prepare() error {
	f, err := os.Open(r.cfg.TracePath)
	if err != nil {
		return fmt.Errorf("open trace: %w", err)
	}
	s, err := trace.Parse(f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("read trace %s: %w", r.cfg.TracePath, err)
	}
	if r.curve, err = DayCurve(s, r.cfg.TraceDay, r.cfg.SmoothSamples); err != nil {
		return fmt.Errorf("trace %s: %w", r.cfg.TracePath, err)
	}
	if r.iterations, r.workCost, err = calibrate(r.cfg.Clock, r.cfg.Work); err != nil {
		return err
	}
	r.peakRPS = r.cfg.PeakCores / r.workCost.Seconds()
	if r.capacity, err = r.cfg.Host.Capacity(); err != nil {
		return fmt.Errorf("node capacity: %w", err)
	}
	r.log.Info("calibrated online work", "iterations", r.iterations, "work_ms", millis(r.workCost), "peak_rps", r.peakRPS, "capacity_cores", r.capacity.Cores)
	return nil
}

// execute makes the tree, runs the phases and always cleans up.
func (r *run) execute(ctx context.Context) (results []PhaseResult, err error) {
	if r.tree, err = newPodTree(); err != nil {
		return nil, err
	}
	defer func() {
		// A fresh context: ctx may be what ended the run.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		err = errors.Join(err, r.cleanup(cctx))
	}()
	r.log.Info("creating cgroup tree", "parent", r.tree.Parent)
	if err := r.tree.create(r.cfg.Cgroups); err != nil {
		return nil, err
	}
	be := r.tree.Layout.Besteffort
	// The kubelet gives the besteffort QoS group the least CPU weight.
	if err := r.cfg.Cgroups.SetCPUWeight(be, cgroup.MinCPUWeight); err != nil {
		return nil, fmt.Errorf("set besteffort weight: %w", err)
	}
	if r.defaults, err = r.cfg.Cgroups.Limits(be); err != nil {
		return nil, fmt.Errorf("read besteffort defaults: %w", err)
	}
	if err := r.startOnline(ctx); err != nil {
		return nil, err
	}
	r.sampler = &sampler{
		cg: r.cfg.Cgroups, node: r.cfg.Host,
		online: r.tree.Layout.Burstable, offline: be,
		capacityCores: r.capacity.Cores,
	}
	d := phaseLength(r.cfg.Duration, len(r.cfg.Phases))
	r.start = r.cfg.Clock.Now()
	for _, ph := range r.cfg.Phases {
		res, err := r.runPhase(ctx, ph, d)
		results = append(results, res)
		if err != nil {
			return results, fmt.Errorf("phase %s: %w", ph, err)
		}
	}
	return results, nil
}

// startOnline starts the online service in its burstable pod and a client
// for it.
func (r *run) startOnline(ctx context.Context) error {
	p, err := r.startChild("online", r.tree.Online, []string{childServe, "-iterations", strconv.Itoa(r.iterations)}, true, nil)
	if err != nil {
		return err
	}
	addr, err := readAddr(p, r.cfg.Clock.Now().Add(childStartTimeout))
	if err != nil {
		return err
	}
	r.log.Info("online service up", "addr", addr, "cgroup", r.tree.Online)
	r.client = &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: loadMaxInFlight,
		MaxConnsPerHost:     loadMaxInFlight,
		DisableCompression:  true,
	}}
	r.load = LoadGen{
		Clock:       r.cfg.Clock,
		Request:     HTTPRequest(r.client, "http://"+addr+WorkPath),
		Tick:        loadTick,
		MaxInFlight: loadMaxInFlight,
		Timeout:     loadTimeout,
	}
	// One request through the whole path before measuring anything.
	rctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	if err := r.load.Request(rctx); err != nil {
		return fmt.Errorf("online service: first request: %w", err)
	}
	return nil
}

// readAddr reads the online service's "addr host:port" line.
func readAddr(p *proc, deadline time.Time) (string, error) {
	f, ok := p.stdout.(*os.File)
	if ok {
		if err := f.SetReadDeadline(deadline); err != nil {
			return "", fmt.Errorf("online service: %w", err)
		}
	}
	line, err := bufio.NewReader(p.stdout).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("online service: read its address: %w (see %s)", err, p.log.Name())
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), addrPrefix)
	if !ok {
		return "", fmt.Errorf("online service: said %q, want its address", line)
	}
	return addr, nil
}

// startChild starts the demo binary as a child of the given kind, moves it
// into group and lets it start.
func (r *run) startChild(name, group string, args []string, pipeStdout bool, env []string) (*proc, error) {
	argv := append(slices.Clone(r.cfg.ChildCommand), args...)
	p, err := startProc(procSpec{
		name:        name,
		argv:        argv,
		env:         env,
		logPath:     filepath.Join(r.cfg.OutDir, "logs", name+".log"),
		pipeStdin:   true,
		pipeStdout:  pipeStdout,
		deathSignal: syscall.SIGKILL,
	})
	if err != nil {
		return nil, err
	}
	// Tracked before anything else can fail, so cleanup stops it.
	r.children = append(r.children, p)
	if err := r.cfg.Cgroups.AddProc(group, p.pid()); err != nil {
		return nil, fmt.Errorf("move %s into %s: %w", name, group, err)
	}
	if _, err := io.WriteString(p.stdin, goLine+"\n"); err != nil {
		return nil, fmt.Errorf("start %s: %w (see %s)", name, err, p.log.Name())
	}
	return p, nil
}

// startBurners starts the offline burners in their besteffort pods, once.
func (r *run) startBurners() error {
	if len(r.burners) > 0 {
		return nil
	}
	onePerCPU := []string{"GOMAXPROCS=1"}
	for i := range r.cfg.CPUBurners {
		p, err := r.startChild(fmt.Sprintf("cpu-burner-%d", i), r.tree.CPU, []string{childCPU}, false, onePerCPU)
		if err != nil {
			return err
		}
		r.burners = append(r.burners, p)
	}
	if r.cfg.MemoryBurnerBytes > 0 {
		p, err := r.startChild("memory-burner", r.tree.Memory, []string{childMemory, "-bytes", strconv.FormatInt(r.cfg.MemoryBurnerBytes, 10)}, false, onePerCPU)
		if err != nil {
			return err
		}
		r.burners = append(r.burners, p)
	}
	r.log.Info("offline burners started", "cpu_burners", r.cfg.CPUBurners, "memory_bytes", r.cfg.MemoryBurnerBytes)
	return nil
}

// burnersAlive counts the burners still running (the agent may evict).
func (r *run) burnersAlive() int {
	n := 0
	for _, p := range r.burners {
		if !p.exited() {
			n++
		}
	}
	return n
}

// resetBigBox puts the kubelet's defaults back on the besteffort group and
// its pods: all CPUs (parent first, as v1 refuses a child cpuset wider than
// its parent's), no quota, no memory limit, the least weight.
func (r *run) resetBigBox() error {
	cg, be := r.cfg.Cgroups, r.tree.Layout.Besteffort
	var errs []error
	errs = append(errs, cg.SetCPUs(be, r.defaults.CPUs))
	for _, pod := range []string{r.tree.CPU, r.tree.Memory} {
		errs = append(errs, cg.SetCPUs(pod, r.defaults.CPUs))
	}
	errs = append(errs,
		cg.SetCPUQuota(be, cgroup.Unlimited, r.defaults.CPUPeriodMicros),
		cg.SetMemoryLimit(be, cgroup.Unlimited),
		cg.SetCPUWeight(be, cgroup.MinCPUWeight),
	)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reset big box: %w", err)
	}
	return nil
}

// phaseText says what runs in a phase.
func phaseText(p Phase) string {
	switch p {
	case PhaseAlone:
		return "online service alone"
	case PhaseBurners:
		return "online service + offline burners, no agent"
	default:
		return "online service + offline burners + bigbox-agent"
	}
}

// runPhase prepares and runs one phase: the day curve replayed over d, a
// sample a second.
func (r *run) runPhase(ctx context.Context, ph Phase, d time.Duration) (PhaseResult, error) {
	res := PhaseResult{Phase: ph}
	if ph != PhaseAlone {
		if err := r.resetBigBox(); err != nil {
			return res, err
		}
		if err := r.startBurners(); err != nil {
			return res, err
		}
	}
	if ph == PhaseAgent {
		a, err := startAgent(ctx, agentSpec{
			path:       r.cfg.AgentPath,
			configPath: filepath.Join(r.cfg.OutDir, "nodeslo.yaml"),
			kubepods:   r.tree.Layout.Kubepods,
			cgroupRoot: r.cfg.CgroupRoot,
			procRoot:   r.cfg.ProcRoot,
			sysRoot:    r.cfg.SysRoot,
			logPath:    filepath.Join(r.cfg.OutDir, "logs", "bigbox-agent.log"),
		}, r.cfg.Clock)
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.AgentError = err.Error()
			r.log.Warn("agent unavailable; the phase runs without it", "err", err)
		}
		r.agent = a
	}
	fmt.Fprintf(r.cfg.Out, "--- %s: %s, %v ---\n", ph, phaseText(ph), d)
	if err := writeViewHeader(r.cfg.Out); err != nil {
		return res, fmt.Errorf("print: %w", err)
	}

	var rec Recorder
	rate := r.curve.Rate(r.peakRPS, d)
	phaseStart := r.cfg.Clock.Now()
	if err := r.sampler.start(phaseStart); err != nil {
		return res, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.load.Run(gctx, d, rate, &rec) })
	g.Go(func() error {
		var err error
		res.Samples, err = r.sampleLoop(gctx, ph, d, phaseStart, rate, &rec)
		return err
	})
	err := g.Wait()
	res.Latencies, res.Requests, res.Errors = rec.Total()

	if r.agent != nil {
		// Stopped under a fresh context, so the agent restores the big box
		// even when ctx ended the phase.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), agentStopTimeout)
		serr := r.agent.stop(sctx)
		cancel()
		r.agent = nil
		if serr != nil {
			err = errors.Join(err, fmt.Errorf("stop agent: %w", serr))
		}
	}
	return res, err
}

// sampleLoop takes a sample a second for d and prints each.
func (r *run) sampleLoop(ctx context.Context, ph Phase, d time.Duration, phaseStart time.Time, rate func(time.Duration) float64, rec *Recorder) ([]Sample, error) {
	t := r.cfg.Clock.NewTicker(time.Second)
	defer t.Stop()
	n := int(d / time.Second)
	samples := make([]Sample, 0, n)
	agentDown := false
	for range n {
		select {
		case <-ctx.Done():
			return samples, ctx.Err()
		case <-t.C():
		}
		now := r.cfg.Clock.Now()
		s, err := r.sampler.sample(now)
		if err != nil {
			r.log.Warn("sample failed; the next one covers this second", "err", err)
			continue
		}
		s.Seconds = now.Sub(r.start).Seconds()
		s.Phase = ph
		s.LoadRPS = rate(now.Sub(phaseStart))
		h, errs := rec.Take()
		s.Requests = h.Count() + errs
		s.Errors = errs
		s.P50Millis = millis(h.Quantile(0.5))
		s.P99Millis = millis(h.Quantile(0.99))
		if r.agent != nil {
			st, err := r.agent.status(ctx)
			switch {
			case err == nil:
				s = withStatus(s, st)
				agentDown = false
			case !agentDown:
				r.log.Warn("agent status unavailable", "err", err)
				agentDown = true
			}
		}
		samples = append(samples, s)
		if _, err := fmt.Fprintln(r.cfg.Out, viewLine(s, r.burnersAlive())); err != nil {
			return samples, fmt.Errorf("print: %w", err)
		}
	}
	return samples, nil
}

// cleanup stops the agent (so it restores the big box), kills every child
// by its process group, waits until all are reaped and removes the whole
// cgroup tree. It moves no process and touches no group outside the tree.
func (r *run) cleanup(ctx context.Context) error {
	var errs []error
	if r.agent != nil {
		errs = append(errs, r.agent.stop(ctx))
		r.agent = nil
	}
	for _, p := range r.children {
		errs = append(errs, p.kill())
	}
	for _, p := range r.children {
		errs = append(errs, p.stop(ctx, 0))
	}
	if r.client != nil {
		r.client.CloseIdleConnections()
	}
	if r.tree.Parent != "" {
		errs = append(errs, r.tree.remove(ctx, r.cfg.Cgroups, r.cfg.Clock))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	r.log.Info("cleaned up", "cgroup_tree", r.tree.Parent, "processes", len(r.children))
	return nil
}

// writeOutputs writes summary.json, samples.json and report.png.
func (r *run) writeOutputs(sum Summary, results []PhaseResult) error {
	var samples []Sample
	for _, res := range results {
		samples = append(samples, res.Samples...)
	}
	var errs []error
	errs = append(errs, writeJSON(filepath.Join(r.cfg.OutDir, "summary.json"), sum))
	errs = append(errs, writeJSON(filepath.Join(r.cfg.OutDir, "samples.json"), samples))
	if len(samples) > 0 {
		errs = append(errs, writeFileWith(filepath.Join(r.cfg.OutDir, "report.png"), func(w io.Writer) error {
			return WriteReport(w, samples, r.capacity.Cores)
		}))
	}
	return errors.Join(errs...)
}

func writeJSON(path string, v any) error {
	return writeFileWith(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// writeFileWith writes path through fn, via a temporary file renamed into
// place, so a reader never sees half a file.
func writeFileWith(path string, fn func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	werr := fn(f)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", path, err), os.Remove(tmp))
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
