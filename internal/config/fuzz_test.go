package config

import (
	"math"
	"reflect"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/bigbox-dev/bigbox/pkg/predict"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// FuzzParse feeds arbitrary documents to Parse. Invariants: no panic; a
// document Parse accepts gives a valid policy for a node without labels; and
// marshalling the parsed NodeSLO and parsing that again gives the same
// document and the same policy. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(productExample))
	f.Add([]byte(""))
	f.Add([]byte("\x00\xff garbage: [ {"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Parse(data)
		if err != nil {
			return
		}
		p, loc, err := n.ForNode(nil)
		if err != nil {
			// Every override that matches nil labels has an empty or
			// negative-only selector; two of them can still combine into
			// an invalid policy. Anything else is a bug.
			if len(n.Nodes) < 2 {
				t.Fatalf("ForNode(nil) after a successful Parse: %v", err)
			}
			return
		}
		if loc == nil {
			t.Fatal("ForNode returned no location")
		}
		checkPolicy(t, p)
		cpu, memory, err := n.PredictorsForNode(nil)
		if err != nil {
			t.Fatalf("PredictorsForNode(nil) where ForNode(nil) succeeded: %v", err)
		}
		checkPredictor(t, cpu)
		checkPredictor(t, memory)

		out, err := yaml.Marshal(n)
		if err != nil {
			t.Fatalf("marshal parsed NodeSLO: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("parse of marshalled NodeSLO: %v\n%s", err, out)
		}
		out2, err := yaml.Marshal(again)
		if err != nil {
			t.Fatalf("marshal re-parsed NodeSLO: %v", err)
		}
		if string(out) != string(out2) {
			t.Fatalf("round trip changed the document:\n%s\n---\n%s", out, out2)
		}
		p2, _, err := again.ForNode(nil)
		if err != nil {
			t.Fatalf("ForNode after the round trip: %v", err)
		}
		if !reflect.DeepEqual(p, p2) {
			t.Fatalf("round trip changed the policy:\n%+v\n%+v", p, p2)
		}
	})
}

// checkPredictor asserts the ranges validation promises: predict.New (or
// "none") takes the spec.
func checkPredictor(t *testing.T, s PredictorSpec) {
	t.Helper()
	if s.Horizon < time.Second || s.Horizon > 7*24*time.Hour || !(s.Knob >= 0 && s.Knob <= 1) {
		t.Fatalf("predictor out of range: %+v", s)
	}
	if s.Name == PredictorNone {
		return
	}
	if _, err := predict.New(s.Name, s.Knob, s.Horizon); err != nil {
		t.Fatalf("predict.New refuses a validated spec %+v: %v", s, err)
	}
}

// checkPolicy asserts the ranges validation promises.
func checkPolicy(t *testing.T, p qos.Policy) {
	t.Helper()
	for name, r := range map[string]qos.ResourcePolicy{"cpu": p.CPU, "memory": p.Memory} {
		for _, v := range []float64{r.ReclaimWatermarkPercent, r.EvictWatermarkPercent, r.EvictReleasePercent, r.DeadbandPercent} {
			if !(v >= 0 && v <= 100) {
				t.Fatalf("%s: percent %v out of range: %+v", name, v, r)
			}
		}
		if r.ReclaimWatermarkPercent > r.EvictWatermarkPercent || r.EvictReleasePercent > r.EvictWatermarkPercent {
			t.Fatalf("%s: watermarks out of order: %+v", name, r)
		}
		for _, v := range []float64{r.SystemReserved, r.MinLimit} {
			if v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				t.Fatalf("%s: amount %v out of range", name, v)
			}
		}
		if r.MinLimit <= 0 || r.GrowAfter < 0 {
			t.Fatalf("%s: %+v", name, r)
		}
	}
	if p.EvictionCooldown < 0 || p.CPUEvictAfter < 0 || p.CFSPeriod < time.Millisecond || p.CFSPeriod > time.Second {
		t.Fatalf("durations out of range: %+v", p)
	}
	if time.Duration(p.CPU.MinLimit*float64(p.CFSPeriod)) < time.Millisecond {
		t.Fatalf("minimum quota below 1ms: %+v", p)
	}
	for i, w := range p.Windows {
		if w.Start < 0 || w.Start >= 24*time.Hour || w.End < 0 || w.End >= 24*time.Hour {
			t.Fatalf("window %d out of the day: %+v", i, w)
		}
		if w.Grace < 0 || w.Grace >= windowLength(w.Start, w.End) {
			t.Fatalf("window %d grace out of range: %+v", i, w)
		}
		for _, d := range w.Days {
			if d < time.Sunday || d > time.Saturday {
				t.Fatalf("window %d day %d", i, d)
			}
		}
	}
}
