package simulate

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/bigbox-dev/bigbox/pkg/predict"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// Summary is summary.json.
type Summary struct {
	Resource qos.Resource `json:"resource"`
	// Capacity and System (usage outside kubepods, held constant) in base
	// units.
	Capacity       float64       `json:"capacity"`
	System         float64       `json:"system"`
	HorizonSeconds float64       `json:"horizon_seconds"`
	Policy         PolicySummary `json:"policy"`
	Traces         []TraceResult `json:"traces"`
	// Mean averages every trace's numbers, per predictor.
	Mean []MeanRow `json:"mean"`
	// DefaultVsStaticAt1Pct is mean reclaimed_at_1pct of "default" over that
	// of "static" (0 when either was not run or static reclaims nothing).
	DefaultVsStaticAt1Pct float64 `json:"default_vs_static_at_1pct"`
}

// PolicySummary is the part of the policy a replay depends on.
type PolicySummary struct {
	Enabled                 bool    `json:"enabled"`
	ReclaimWatermarkPercent float64 `json:"reclaim_watermark_percent"`
	EvictWatermarkPercent   float64 `json:"evict_watermark_percent"`
	SystemReserved          float64 `json:"system_reserved"`
	DeadbandPercent         float64 `json:"deadband_percent"`
	GrowAfterSeconds        float64 `json:"grow_after_seconds"`
	EvictionCooldownSeconds float64 `json:"eviction_cooldown_seconds"`
	TimeWindows             int     `json:"time_windows"`
}

// TraceResult is one trace's numbers.
type TraceResult struct {
	Trace       string            `json:"trace"`
	Column      string            `json:"column"`
	Samples     int               `json:"samples"`
	StepSeconds float64           `json:"step_seconds"`
	Predictors  []PredictorResult `json:"predictors"`
}

// PredictorResult is one predictor on one trace.
type PredictorResult struct {
	Predictor string `json:"predictor"`
	// Knob is the configured safety knob (a margin in base units, or a
	// percentile); Steps, ReclaimedFraction, ViolationRate and Evictions
	// are at that knob.
	Knob              float64 `json:"knob"`
	Steps             int     `json:"steps"`
	ReclaimedFraction float64 `json:"reclaimed_fraction"`
	ViolationRate     float64 `json:"violation_rate"`
	// Evictions is set for memory only.
	Evictions *int `json:"evictions,omitempty"`
	// Curve is the knob sweep, knobs ascending.
	Curve []CurvePoint `json:"curve"`
	// ReclaimedAt1Pct and ReclaimedAt5Pct are read off the curve's upper
	// frontier (predict.Curve.ReclaimedAt), linearly interpolated.
	ReclaimedAt1Pct float64 `json:"reclaimed_at_1pct"`
	ReclaimedAt5Pct float64 `json:"reclaimed_at_5pct"`
	// SlackVsOracle is nil when the oracle was not run.
	SlackVsOracle *Slack `json:"slack_vs_oracle,omitempty"`
}

// CurvePoint is the predictor at one knob of the sweep.
type CurvePoint struct {
	Knob              float64 `json:"knob"`
	ReclaimedFraction float64 `json:"reclaimed_fraction"`
	ViolationRate     float64 `json:"violation_rate"`
	Evictions         *int    `json:"evictions,omitempty"`
}

// Slack is (oracle reclaimed − predictor reclaimed) / oracle reclaimed, both
// read off their curves at the same violation rate: the share of what a
// perfect forecast would lend that the predictor leaves unlent. 0 when the
// oracle reclaims nothing there.
type Slack struct {
	At1Pct float64 `json:"at_1pct"`
	At5Pct float64 `json:"at_5pct"`
}

// MeanRow is one predictor averaged over the traces (each trace weighs the
// same, whatever its length). Evictions is a sum.
type MeanRow struct {
	Predictor         string  `json:"predictor"`
	ReclaimedFraction float64 `json:"reclaimed_fraction"`
	ViolationRate     float64 `json:"violation_rate"`
	Evictions         *int    `json:"evictions,omitempty"`
	ReclaimedAt1Pct   float64 `json:"reclaimed_at_1pct"`
	ReclaimedAt5Pct   float64 `json:"reclaimed_at_5pct"`
	SlackVsOracle     *Slack  `json:"slack_vs_oracle,omitempty"`
}

// curveOf turns scores into a predict.Curve, to read it with ReclaimedAt.
func curveOf(knobs []float64, scores []Score) predict.Curve {
	c := predict.Curve{Knobs: knobs}
	for _, s := range scores {
		c.Results = append(c.Results, predict.Result{Steps: s.Steps, ReclaimedFraction: s.ReclaimedFraction, ViolationRate: s.ViolationRate})
	}
	return c
}

func slack(oracle, pred float64) float64 {
	if oracle <= 0 {
		return 0
	}
	return (oracle - pred) / oracle
}

func summarize(opts Options, knobs []float64, grids [][]float64, scores [][]Score, curves [][][]Score) Summary {
	n := opts.Node
	rp := n.resourcePolicy()
	memory := n.Resource == qos.Memory
	evictions := func(v int) *int {
		if !memory {
			return nil
		}
		return &v
	}
	s := Summary{
		Resource:       n.Resource,
		Capacity:       n.Capacity,
		System:         n.System,
		HorizonSeconds: n.Horizon.Seconds(),
		Policy: PolicySummary{
			Enabled:                 n.Policy.Enabled,
			ReclaimWatermarkPercent: rp.ReclaimWatermarkPercent,
			EvictWatermarkPercent:   rp.EvictWatermarkPercent,
			SystemReserved:          rp.SystemReserved,
			DeadbandPercent:         rp.DeadbandPercent,
			GrowAfterSeconds:        rp.GrowAfter.Seconds(),
			EvictionCooldownSeconds: n.Policy.EvictionCooldown.Seconds(),
			TimeWindows:             len(n.Policy.Windows),
		},
	}
	oracleAt := -1
	for p, name := range opts.Predictors {
		if name == Oracle {
			oracleAt = p
		}
	}
	mean := make([]MeanRow, len(opts.Predictors))
	evictSum := make([]int, len(opts.Predictors))
	nt := float64(len(opts.Traces))
	for t, tr := range opts.Traces {
		res := TraceResult{Trace: tr.Name, Column: string(tr.Column), Samples: len(tr.Online), StepSeconds: tr.Step.Seconds()}
		var o1, o5 float64
		if oracleAt >= 0 {
			c := curveOf(grids[oracleAt], curves[t][oracleAt])
			o1, o5 = c.ReclaimedAt(at1Pct), c.ReclaimedAt(at5Pct)
		}
		for p, name := range opts.Predictors {
			sc := scores[t][p]
			c := curveOf(grids[p], curves[t][p])
			pr := PredictorResult{
				Predictor:         name,
				Knob:              knobs[p],
				Steps:             sc.Steps,
				ReclaimedFraction: sc.ReclaimedFraction,
				ViolationRate:     sc.ViolationRate,
				Evictions:         evictions(sc.Evictions),
				ReclaimedAt1Pct:   c.ReclaimedAt(at1Pct),
				ReclaimedAt5Pct:   c.ReclaimedAt(at5Pct),
			}
			for g, k := range grids[p] {
				cs := curves[t][p][g]
				pr.Curve = append(pr.Curve, CurvePoint{Knob: k, ReclaimedFraction: cs.ReclaimedFraction, ViolationRate: cs.ViolationRate, Evictions: evictions(cs.Evictions)})
			}
			if oracleAt >= 0 {
				pr.SlackVsOracle = &Slack{At1Pct: slack(o1, pr.ReclaimedAt1Pct), At5Pct: slack(o5, pr.ReclaimedAt5Pct)}
			}
			res.Predictors = append(res.Predictors, pr)

			m := &mean[p]
			m.Predictor = name
			m.ReclaimedFraction += pr.ReclaimedFraction / nt
			m.ViolationRate += pr.ViolationRate / nt
			m.ReclaimedAt1Pct += pr.ReclaimedAt1Pct / nt
			m.ReclaimedAt5Pct += pr.ReclaimedAt5Pct / nt
			evictSum[p] += sc.Evictions
			if pr.SlackVsOracle != nil {
				if m.SlackVsOracle == nil {
					m.SlackVsOracle = &Slack{}
				}
				m.SlackVsOracle.At1Pct += pr.SlackVsOracle.At1Pct / nt
				m.SlackVsOracle.At5Pct += pr.SlackVsOracle.At5Pct / nt
			}
		}
		s.Traces = append(s.Traces, res)
	}
	for p := range mean {
		mean[p].Evictions = evictions(evictSum[p])
	}
	s.Mean = mean
	var def, static float64
	for _, m := range mean {
		switch m.Predictor {
		case "default":
			def = m.ReclaimedAt1Pct
		case "static":
			static = m.ReclaimedAt1Pct
		}
	}
	if static > 0 && def > 0 {
		s.DefaultVsStaticAt1Pct = def / static
	}
	return s
}

// WriteJSON writes the summary as indented JSON.
func (s Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// WriteTable writes the summary as text: per trace and predictor the
// reclaimed fraction at 1% and 5% violations and the violation rate at the
// configured knob, then the means and the default/static ratio.
func (s Summary) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("%s, capacity %g, horizon %gs, reclaim watermark %g%%\n", s.Resource, s.Capacity, s.HorizonSeconds, s.Policy.ReclaimWatermarkPercent)
	ew.printf("%-36s %-20s %10s %10s %10s %10s %9s %9s\n", "trace", "predictor", "at_1pct", "at_5pct", "reclaimed", "violation", "slack_1%", "evictions")
	row := func(trace, pred string, at1, at5, rec, viol float64, sl *Slack, ev *int) {
		slk, evs := "-", "-"
		if sl != nil {
			slk = fmt.Sprintf("%.3f", sl.At1Pct)
		}
		if ev != nil {
			evs = strconv.Itoa(*ev)
		}
		ew.printf("%-36s %-20s %10.4f %10.4f %10.4f %10.4f %9s %9s\n", trace, pred, at1, at5, rec, viol, slk, evs)
	}
	for _, t := range s.Traces {
		for _, p := range t.Predictors {
			row(t.Trace, p.Predictor, p.ReclaimedAt1Pct, p.ReclaimedAt5Pct, p.ReclaimedFraction, p.ViolationRate, p.SlackVsOracle, p.Evictions)
		}
	}
	for _, m := range s.Mean {
		row("mean", m.Predictor, m.ReclaimedAt1Pct, m.ReclaimedAt5Pct, m.ReclaimedFraction, m.ViolationRate, m.SlackVsOracle, m.Evictions)
	}
	if s.DefaultVsStaticAt1Pct > 0 && !math.IsInf(s.DefaultVsStaticAt1Pct, 0) {
		ew.printf("default/static reclaimed at 1%% violations: %.3f\n", s.DefaultVsStaticAt1Pct)
	}
	return ew.err
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, a ...any) {
	if e.err != nil {
		return
	}
	if _, err := fmt.Fprintf(e.w, format, a...); err != nil {
		e.err = fmt.Errorf("write table: %w", err)
	}
}
