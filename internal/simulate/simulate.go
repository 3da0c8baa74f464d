// Package simulate is `bigboxctl simulate`: it replays usage traces through
// the predictors of pkg/predict and the policy of pkg/qos, the very code the
// agent runs (qos.Decide, no copy of it), step by step and deciding from the
// past only, and scores what each predictor would have lent against what
// online work then used.
//
// Per trace and predictor it reports, at the predictor's configured safety
// knob, the reclaimed fraction (mean lent / capacity) and the violation rate
// (the share of steps after which online usage, within the horizon, exceeded
// what the policy left to it), and for memory the evictions that followed.
// Sweeping the knob gives the trade-off curve and the reclaimed fraction at
// 1% and 5% violations, read off the curve's upper frontier with
// predict.Curve.ReclaimedAt; slack_vs_oracle compares that with the oracle
// at the same violation rate. Lending less is always "safer", so predictors
// are compared at equal violation rates, not at equal knobs.
//
// docs/prediction.md defines every number and holds the table for the
// shared traces.
package simulate

import (
	"context"
	"fmt"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/bigbox-dev/bigbox/pkg/predict"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// Violation rates the curves are read at.
const (
	at1Pct = 0.01
	at5Pct = 0.05
)

// Options is one simulation.
type Options struct {
	// Node is the node, policy and horizon every trace is replayed on.
	Node Node
	// Traces are the traces, mapped onto the node (ReadTrace).
	Traces []Trace
	// Predictors to run, in PredictorNames order.
	Predictors []string
	// Knobs overrides DefaultKnob per predictor name.
	Knobs map[string]float64
	// Tracked are the predictors whose replay at the configured knob is
	// kept step by step (for the plot); Run returns them in Result.Tracks.
	Tracked []string
	// Workers is how many replays run at once (0: GOMAXPROCS).
	Workers int
	// Progress, when not nil, is told the total number of steps once and
	// then the steps done as they are done, from several goroutines.
	Progress Progress
}

// Progress follows a long simulation.
type Progress interface {
	Start(totalSteps int64)
	Add(steps int)
}

// Result is a simulation's outcome.
type Result struct {
	Summary Summary
	// Tracks holds, per trace (index of Options.Traces) and tracked
	// predictor, the replay at the configured knob step by step.
	Tracks []map[string]*Track
	// Steps is the number of steps replayed in all.
	Steps int64
}

// job is one replay: a predictor at one knob on one trace.
type job struct {
	trace     int
	predictor int
	point     int // index into the knob grid; -1: the configured knob
	knob      float64
	track     *Track
}

// Run replays every trace with every predictor at its configured knob and
// across its knob grid, and summarizes. It is deterministic: the same
// options give the same Summary, whatever Workers is.
func Run(ctx context.Context, opts Options) (Result, error) {
	n := opts.Node
	if err := checkNode(n); err != nil {
		return Result{}, err
	}
	if len(opts.Traces) == 0 {
		return Result{}, fmt.Errorf("simulate: no traces")
	}
	if len(opts.Predictors) == 0 {
		return Result{}, fmt.Errorf("simulate: no predictors")
	}
	knobs := make([]float64, len(opts.Predictors))
	grids := make([][]float64, len(opts.Predictors))
	for i, name := range opts.Predictors {
		k, ok := opts.Knobs[name]
		if !ok {
			k = DefaultKnob(name, n)
		}
		// Check the knob once, before any replay.
		if _, err := newPredictor(name, k, n.Horizon, nil, nil); err != nil {
			return Result{}, err
		}
		knobs[i] = k
		grids[i] = KnobGrid(name, n.Capacity)
	}

	futures := make([][]float64, len(opts.Traces))
	tracks := make([]map[string]*Track, len(opts.Traces))
	scores := make([][]Score, len(opts.Traces))   // [trace][predictor] at the knob
	curves := make([][][]Score, len(opts.Traces)) // [trace][predictor][point]
	var jobs []job
	var total int64
	for t, tr := range opts.Traces {
		futures[t] = predict.FutureMax(tr.Online, n.Horizon)
		tracks[t] = make(map[string]*Track)
		scores[t] = make([]Score, len(opts.Predictors))
		curves[t] = make([][]Score, len(opts.Predictors))
		for p, name := range opts.Predictors {
			j := job{trace: t, predictor: p, point: -1, knob: knobs[p]}
			for _, tn := range opts.Tracked {
				if tn == name {
					j.track = &Track{}
					tracks[t][name] = j.track
				}
			}
			jobs = append(jobs, j)
			curves[t][p] = make([]Score, len(grids[p]))
			for g, k := range grids[p] {
				jobs = append(jobs, job{trace: t, predictor: p, point: g, knob: k})
			}
			total += int64(len(tr.Online)) * int64(1+len(grids[p]))
		}
	}
	if opts.Progress != nil {
		opts.Progress.Start(total)
	}
	var progress func(int)
	if opts.Progress != nil {
		progress = opts.Progress.Add
	}

	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, j := range jobs {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			tr := opts.Traces[j.trace]
			name := opts.Predictors[j.predictor]
			pred, err := newPredictor(name, j.knob, n.Horizon, tr.Online, futures[j.trace])
			if err != nil {
				return err
			}
			sc := Replay(n, tr.Online, futures[j.trace], pred, j.track, progress)
			if j.point < 0 {
				scores[j.trace][j.predictor] = sc
			} else {
				curves[j.trace][j.predictor][j.point] = sc
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Result{}, fmt.Errorf("simulate: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("simulate: %w", err)
	}
	sum := summarize(opts, knobs, grids, scores, curves)
	return Result{Summary: sum, Tracks: tracks, Steps: total}, nil
}

// checkNode rejects a node no replay can run on.
func checkNode(n Node) error {
	switch {
	case n.Resource != qos.CPU && n.Resource != qos.Memory:
		return fmt.Errorf("simulate: resource %q, want cpu or memory", n.Resource)
	case !(n.Capacity > 0) || n.Capacity > 1e300:
		return fmt.Errorf("simulate: capacity %v is not a positive number", n.Capacity)
	case !(n.System >= 0) || n.System > 1e300:
		return fmt.Errorf("simulate: system usage %v is not a finite non-negative number", n.System)
	case n.Horizon <= 0:
		return fmt.Errorf("simulate: horizon %v is not positive", n.Horizon)
	}
	if err := n.Policy.Validate(); err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	return nil
}
