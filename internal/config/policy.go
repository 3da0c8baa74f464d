package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// ForNode returns the policy of the node with the given labels (nil when
// there are none, as in standalone mode without --node-labels) and the time
// zone its windows are read in. Every override whose selector matches is
// applied in order, a later one winning field by field; fields nothing sets
// take the defaults. Overrides are valid one at a time after Parse, but two
// of them together can still break a rule (reclaim above evict), which is an
// error here.
func (n *NodeSLO) ForNode(nodeLabels map[string]string) (qos.Policy, *time.Location, error) {
	eff, err := n.forNode(nodeLabels)
	if err != nil {
		return qos.Policy{}, nil, err
	}
	loc, err := time.LoadLocation(*eff.TimeZone)
	if err != nil { // validate loaded it already; the zone files may have gone since
		return qos.Policy{}, nil, fmt.Errorf("load time zone %q: %w", *eff.TimeZone, err)
	}
	p := qos.Policy{
		Enabled:          *eff.Enabled,
		CPU:              resourcePolicy(eff.CPU, cpuKind),
		Memory:           resourcePolicy(eff.Memory, memoryKind),
		EvictionCooldown: time.Duration(*eff.EvictionCooldown),
		CPUEvictAfter:    time.Duration(*eff.CPUEvictAfter),
		CFSPeriod:        time.Duration(*eff.CFSPeriod),
	}
	for _, w := range eff.TimeWindows {
		tw, err := timeWindow(w)
		if err != nil {
			return qos.Policy{}, nil, err
		}
		p.Windows = append(p.Windows, tw)
	}
	return p, loc, nil
}

// PredictorsForNode returns the online-peak predictors of the node with the
// given labels, the overrides applied as in ForNode (and refused in the same
// cases). A knob the document leaves out is the named predictor's default.
func (n *NodeSLO) PredictorsForNode(nodeLabels map[string]string) (cpu, memory PredictorSpec, err error) {
	eff, err := n.forNode(nodeLabels)
	if err != nil {
		return PredictorSpec{}, PredictorSpec{}, err
	}
	return predictorSpec(eff.CPU.Predictor), predictorSpec(eff.Memory.Predictor), nil
}

// forNode returns the document with every override matching the labels
// applied, in order, and validated.
func (n *NodeSLO) forNode(nodeLabels map[string]string) (NodeSLO, error) {
	eff := *n
	eff.Nodes = nil
	eff.setDefaults()
	set := labels.Set(nodeLabels)
	var applied []string
	for i, o := range n.Nodes {
		sel, err := metav1.LabelSelectorAsSelector(o.Selector)
		if err != nil {
			return NodeSLO{}, fmt.Errorf("nodes[%d].selector: %w", i, err)
		}
		if !sel.Matches(set) {
			continue
		}
		applied = append(applied, fmt.Sprintf("nodes[%d]", i))
		if o.Enabled != nil {
			eff.Enabled = o.Enabled
		}
		eff.CPU = eff.CPU.merge(o.CPU)
		eff.Memory = eff.Memory.merge(o.Memory)
		if o.TimeWindows != nil {
			eff.TimeWindows = *o.TimeWindows
		}
	}
	if err := eff.validate(); err != nil {
		if len(applied) > 0 {
			return NodeSLO{}, fmt.Errorf("NodeSLO with %s applied: %w", strings.Join(applied, ", "), err)
		}
		return NodeSLO{}, fmt.Errorf("NodeSLO: %w", err)
	}
	// An override that names another predictor without a knob leaves the
	// knob to that predictor's default.
	eff.CPU.Predictor = eff.CPU.Predictor.withDefaults()
	eff.Memory.Predictor = eff.Memory.Predictor.withDefaults()
	return eff, nil
}

// predictorSpec converts a fully set Predictor.
func predictorSpec(p *Predictor) PredictorSpec {
	return PredictorSpec{Name: *p.Name, Knob: *p.Knob, Horizon: time.Duration(*p.Horizon)}
}

// resourcePolicy converts a fully set ResourceSLO; quantities become cores
// (CPU) or bytes (memory).
func resourcePolicy(r ResourceSLO, kind resourceKind) qos.ResourcePolicy {
	amount := func(q interface {
		MilliValue() int64
		Value() int64
	}) float64 {
		if kind == cpuKind {
			return float64(q.MilliValue()) / 1000
		}
		return float64(q.Value())
	}
	return qos.ResourcePolicy{
		ReclaimWatermarkPercent: *r.ReclaimWatermarkPercent,
		EvictWatermarkPercent:   *r.EvictWatermarkPercent,
		EvictReleasePercent:     *r.EvictReleasePercent,
		SystemReserved:          amount(r.SystemReserved),
		MinLimit:                amount(r.MinLimit),
		DeadbandPercent:         *r.DeadbandPercent,
		GrowAfter:               time.Duration(*r.GrowAfter),
	}
}

// timeWindow converts a validated window.
func timeWindow(w TimeWindow) (qos.TimeWindow, error) {
	start, okStart := clockTime(w.Start)
	end, okEnd := clockTime(w.End)
	if !okStart || !okEnd {
		return qos.TimeWindow{}, errors.New("time window not validated") // validate rejects these
	}
	tw := qos.TimeWindow{Start: start, End: end}
	if w.Grace != nil {
		tw.Grace = time.Duration(*w.Grace)
	}
	for _, d := range w.Days {
		wd, ok := parseDay(d)
		if !ok {
			return qos.TimeWindow{}, fmt.Errorf("day %q not validated", d)
		}
		tw.Days = append(tw.Days, wd)
	}
	return tw, nil
}
