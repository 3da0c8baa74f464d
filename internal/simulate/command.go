package simulate

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/internal/config"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// Output file names in --out.
const (
	SummaryFile = "summary.json"
	ReportFile  = "report.png"
)

// Env is what the command takes from main.
type Env struct {
	Stdout, Stderr io.Writer
	// Clock times the replay (steps per second) and the progress bar.
	Clock clock.PassiveClock
	// Terminal says stderr is a terminal: the progress bar is drawn.
	Terminal bool
}

const usage = `usage: bigboxctl simulate --out DIR [flags] TRACE.csv...

Replays usage traces (CSV: timestamp_s,cpu_util or timestamp_s,value) through
the predictors and the policy the agent runs, and writes DIR/summary.json and
DIR/report.png. docs/prediction.md explains the numbers.

flags:
`

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// Command runs `bigboxctl simulate` with args (the arguments after
// "simulate").
func Command(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var traces, knobs stringList
	fs.Var(&traces, "trace", "trace CSV file (repeatable; files may also be given as arguments)")
	configPath := fs.String("config", "", "NodeSLO YAML; default: the built-in policy (qos.DefaultPolicy)")
	predictors := fs.String("predictor", "all", "predictors to run: all, or names separated by commas, from "+strings.Join(PredictorNames(), ", "))
	fs.Var(&knobs, "knob", "safety knob: NAME=VALUE for one predictor, or VALUE for every margin predictor (base units; repeatable)")
	horizon := fs.Duration("horizon", time.Hour, "how long lent capacity stays lent: the forecast and violation horizon")
	resource := fs.String("resource", "cpu", "resource the traces stand for: cpu or memory")
	peak := fs.Float64("peak-fraction", 0.6, "share of capacity a unit-less value trace's peak is mapped to")
	capacity := fs.Float64("capacity", 1, "node capacity of the resource in base units (cores, bytes); cpu_util traces are fractions of it")
	system := fs.Float64("system", 0, "usage outside kubepods in base units, held constant")
	step := fs.Duration("step", 0, "resample the traces to this interval (maximum per interval); 0 keeps each trace's own")
	out := fs.String("out", "", "output directory (required)")
	plotList := fs.String("plot", "", "predictors drawn in the report (names separated by commas); default: those run, or default,static,window-max,oracle with --predictor all")
	progress := fs.Bool("progress", false, "draw the progress bar even when stderr is not a terminal")
	workers := fs.Int("workers", 0, "replays run at once (0: GOMAXPROCS)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	traces = append(traces, fs.Args()...)
	if len(traces) == 0 {
		return errors.New("simulate: no trace given (--trace FILE or files as arguments)")
	}
	if *out == "" {
		return errors.New("simulate: --out DIR is required")
	}

	n := Node{Resource: qos.Resource(*resource), Capacity: *capacity, System: *system, Horizon: *horizon, Policy: qos.DefaultPolicy()}
	if *configPath != "" {
		slo, err := config.Load(*configPath)
		if err != nil {
			return fmt.Errorf("simulate: %w", err)
		}
		p, loc, err := slo.ForNode(nil)
		if err != nil {
			return fmt.Errorf("simulate: %s: %w", *configPath, err)
		}
		n.Policy, n.Location = p, loc
	}
	if err := checkNode(n); err != nil {
		return err
	}
	names, err := ParsePredictors(*predictors)
	if err != nil {
		return fmt.Errorf("simulate: --predictor: %w", err)
	}
	knobOf, err := parseKnobs(knobs, names)
	if err != nil {
		return fmt.Errorf("simulate: --knob: %w", err)
	}
	plotted := names
	switch {
	case *plotList != "":
		if plotted, err = ParsePredictors(*plotList); err != nil {
			return fmt.Errorf("simulate: --plot: %w", err)
		}
		for _, p := range plotted {
			if !contains(names, p) {
				return fmt.Errorf("simulate: --plot: %s is not run (--predictor)", p)
			}
		}
	case len(names) == len(PredictorNames()):
		plotted = []string{"default", "static", "window-max", Oracle}
	}

	m := Mapping{Capacity: *capacity, PeakFraction: *peak, Step: *step}
	loaded := make([]Trace, 0, len(traces))
	for _, path := range traces {
		tr, err := loadTrace(path, m)
		if errors.Is(err, errNotTrace) {
			// A folder of traces may hold other CSV files (a manifest):
			// `DIR/*.csv` should still work.
			if _, err := fmt.Fprintf(env.Stderr, "skipped %s: %v\n", path, err); err != nil {
				return fmt.Errorf("simulate: %w", err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("simulate: %w", err)
		}
		loaded = append(loaded, tr)
	}
	if len(loaded) == 0 {
		return errors.New("simulate: none of the files is a trace")
	}

	opts := Options{Node: n, Traces: loaded, Predictors: names, Knobs: knobOf, Tracked: plotted, Workers: *workers}
	var bar *Bar
	if env.Terminal || *progress {
		bar = NewBar(env.Stderr, env.Clock)
		opts.Progress = bar
	}
	start := env.Clock.Now()
	res, err := Run(ctx, opts)
	if bar != nil {
		err = errors.Join(err, bar.Finish())
	}
	if err != nil {
		return err
	}
	elapsed := env.Clock.Since(start)

	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	if err := writeFile(filepath.Join(*out, SummaryFile), res.Summary.WriteJSON); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(*out, ReportFile), func(w io.Writer) error {
		return WriteReport(w, res.Summary, loaded, res.Tracks, plotted)
	}); err != nil {
		return err
	}
	if err := res.Summary.WriteTable(env.Stdout); err != nil {
		return err
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(res.Steps) / elapsed.Seconds()
	}
	if _, err := fmt.Fprintf(env.Stderr, "replayed %d steps in %s (%.0f steps/s); wrote %s and %s in %s\n",
		res.Steps, elapsed.Round(time.Millisecond), rate, SummaryFile, ReportFile, *out); err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	return nil
}

// parseKnobs reads the --knob values: NAME=VALUE sets one predictor's knob,
// a bare VALUE every margin predictor's (not the percentile one's, nor the
// oracle's). A later value wins.
func parseKnobs(vals []string, names []string) (map[string]float64, error) {
	out := make(map[string]float64)
	for _, v := range vals {
		name, num, named := strings.Cut(v, "=")
		if !named {
			num = v
		}
		k, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", v, err)
		}
		if named {
			if !contains(PredictorNames(), name) {
				return nil, fmt.Errorf("%q: unknown predictor %q", v, name)
			}
			out[name] = k
			continue
		}
		for _, n := range names {
			if !IsPercentile(n) && n != Oracle {
				out[n] = k
			}
		}
	}
	return out, nil
}

// errNotTrace marks a file whose header is not a trace's at all.
var errNotTrace = errors.New("not a trace: its header does not start with timestamp_s")

// loadTrace reads one trace file; its name is the file name without ".csv".
// A file whose first line does not start with "timestamp_s," is errNotTrace;
// any other problem of a trace is an error naming the line.
func loadTrace(path string, m Mapping) (Trace, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Trace{}, fmt.Errorf("open trace: %w", err)
	}
	if !bytes.HasPrefix(data, []byte("timestamp_s,")) {
		return Trace{}, errNotTrace
	}
	return ReadTrace(bytes.NewReader(data), strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), m)
}

// writeFile writes path with write, reporting the close error too.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	if err := errors.Join(write(f), f.Close()); err != nil {
		return fmt.Errorf("simulate: write %s: %w", path, err)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
