package simulate

import (
	"time"

	"github.com/bigbox-dev/bigbox/pkg/predict"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// Node is what a replay holds fixed: the node, the policy and the horizon.
type Node struct {
	// Resource is the resource the trace stands for.
	Resource qos.Resource
	// Policy is the node SLO; only Resource's part, the switch, the time
	// windows and the eviction cooldown matter.
	Policy qos.Policy
	// Location is the time zone the policy's time windows are read in (nil:
	// UTC).
	Location *time.Location
	// Capacity of the resource in base units.
	Capacity float64
	// System is the usage outside kubepods, in base units, held constant.
	System float64
	// Horizon is how long a lent amount stays lent: violations look this far
	// ahead, predictors forecast this far, and lent memory stays held by
	// offline pods this long.
	Horizon time.Duration
}

// resourcePolicy returns the policy of n's resource.
func (n Node) resourcePolicy() qos.ResourcePolicy {
	if n.Resource == qos.Memory {
		return n.Policy.Memory
	}
	return n.Policy.CPU
}

// left is what the policy leaves to online work when lent is lent:
// capacity × reclaim watermark − max(system, system reserved) − lent.
func (n Node) left(lent float64) float64 {
	rp := n.resourcePolicy()
	return n.Capacity*rp.ReclaimWatermarkPercent/100 - max(n.System, rp.SystemReserved, 0) - lent
}

// Score is what lending by one predictor at one knob gave on one trace.
type Score struct {
	// Steps is the number of scored steps: samples with a full horizon of
	// trace after them. Every sample is replayed; only these are scored.
	Steps int `json:"steps"`
	// ReclaimedFraction is mean(lent)/capacity over the scored steps.
	ReclaimedFraction float64 `json:"reclaimed_fraction"`
	// ViolationRate is the share of scored steps that lent something and
	// after which online usage, at some sample in (t, t+horizon], exceeded
	// what the policy left to it (Node.left).
	ViolationRate float64 `json:"violation_rate"`
	// Evictions (memory only) is how many times the policy evicted offline
	// pods: node memory (system + online + offline memory still held) went
	// above the evict watermark.
	Evictions int `json:"evictions"`
}

// Track is a replay step by step, for the plot and the tests.
type Track struct {
	// Online and Predicted (the predictor's forecast) and Lent per sample,
	// in base units.
	Online, Predicted, Lent []float64
	// Violation marks scored steps counted in ViolationRate; Evicted marks
	// steps where the policy evicted.
	Violation, Evicted []bool
}

// heldMemory tracks offline memory: what the policy lent at a step is taken
// by offline pods and stays theirs for the horizon (memory is not
// compressible: it comes back only when the pods end or are evicted). Held
// memory is the largest amount lent in the last horizon, a monotonic queue.
type heldMemory struct {
	times  []time.Time
	amount []float64
	head   int
}

func (h *heldMemory) add(t time.Time, v float64) {
	for len(h.amount) > h.head && h.amount[len(h.amount)-1] <= v {
		h.amount = h.amount[:len(h.amount)-1]
		h.times = h.times[:len(h.times)-1]
	}
	h.times = append(h.times, t)
	h.amount = append(h.amount, v)
}

// at returns what is held at now: the most lent in (now − horizon, now).
func (h *heldMemory) at(now time.Time, horizon time.Duration) float64 {
	for h.head < len(h.times) && !h.times[h.head].After(now.Add(-horizon)) {
		h.head++
	}
	if h.head > 1024 && h.head*2 > len(h.times) { // compact
		h.times = append(h.times[:0], h.times[h.head:]...)
		h.amount = append(h.amount[:0], h.amount[h.head:]...)
		h.head = 0
	}
	if h.head < len(h.amount) {
		return h.amount[h.head]
	}
	return 0
}

func (h *heldMemory) clear() {
	h.times, h.amount, h.head = h.times[:0], h.amount[:0], 0
}

// violationTolerance is the relative tolerance of the violation test, so
// that online usage equal to what was left (the oracle's own forecast) is not
// counted through rounding.
const violationTolerance = 1e-9

// progressEvery is how many steps a replay reports to progress at once.
const progressEvery = 4096

// Replay runs series (online usage in base units, sorted by time) through
// pred and the policy, step by step, the way the agent does: at each sample
// the predictor observes it and forecasts the peak of the next horizon, then
// qos.Decide decides from
//
//	Usage{Capacity, System, Online: sample, PredictedOnline: forecast}
//
// with the State of the previous step (hysteresis, cooldown, time windows
// and the switch included). Nothing from the future enters a decision.
// future must be predict.FutureMax(series, n.Horizon).
//
// Memory also runs eviction: offline pods hold what was lent for the
// horizon (heldMemory), Decide sees them as one offline pod of that size
// and evicts it when system + online + held is above the evict watermark,
// which starts the cooldown; the pod's memory is then free. CPU runs no
// eviction: it is compressible, the quota takes it back at once.
//
// track, when not nil, receives every step; progress, when not nil, is
// called with the number of steps replayed since its last call.
func Replay(n Node, series []predict.Sample, future []float64, pred predict.Predictor, track *Track, progress func(int)) Score {
	var sc Score
	if len(series) == 0 {
		return sc
	}
	loc := n.Location
	if loc == nil {
		loc = time.UTC
	}
	end := series[len(series)-1].Time
	tol := violationTolerance * n.Capacity
	var (
		st         qos.State
		held       heldMemory
		lentSum    float64
		violations int
		pods       [1]qos.Pod
		pending    int
	)
	for i, s := range series {
		pred.Observe(s)
		p := pred.Predict(s.Time)
		in := qos.Input{Now: s.Time.In(loc)}
		u := qos.Usage{Capacity: n.Capacity, System: n.System, Online: s.Value, PredictedOnline: p}
		var offline float64
		if n.Resource == qos.Memory {
			offline = held.at(s.Time, n.Horizon)
			u.Offline = offline
			in.Memory = u
			if offline > 0 {
				pods[0] = qos.Pod{ID: "offline", MemoryBytes: offline}
				in.Pods = pods[:]
			}
		} else {
			in.CPU = u
		}
		var d qos.Decision
		d, st = qos.Decide(n.Policy, in, st)
		lent := d.CPU.Lent
		evicted := false
		if n.Resource == qos.Memory {
			lent = d.Memory.Lent
			for _, v := range d.Victims {
				if v.Reason == qos.ReasonMemory {
					evicted = true
				}
			}
			if evicted {
				sc.Evictions++
				held.clear()
			}
			held.add(s.Time, lent)
		}
		violated := false
		if !s.Time.Add(n.Horizon).After(end) {
			sc.Steps++
			lentSum += lent
			if lent > 0 && future[i] > n.left(lent)+tol {
				violated = true
				violations++
			}
		}
		if track != nil {
			track.Online = append(track.Online, s.Value)
			track.Predicted = append(track.Predicted, p)
			track.Lent = append(track.Lent, lent)
			track.Violation = append(track.Violation, violated)
			track.Evicted = append(track.Evicted, evicted)
		}
		if pending++; progress != nil && pending == progressEvery {
			progress(pending)
			pending = 0
		}
	}
	if progress != nil && pending > 0 {
		progress(pending)
	}
	if sc.Steps > 0 {
		sc.ReclaimedFraction = lentSum / float64(sc.Steps) / n.Capacity
		sc.ViolationRate = float64(violations) / float64(sc.Steps)
	}
	return sc
}
