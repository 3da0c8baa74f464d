package config

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/pkg/predict"
)

func TestPredictorsForNode(t *testing.T) {
	t.Parallel()
	def := DefaultPredictorSpec()
	spec := func(name string, knob float64, horizon time.Duration) PredictorSpec {
		return PredictorSpec{Name: name, Knob: knob, Horizon: horizon}
	}
	const overrides = `
cpu: {predictor: {name: seasonal, knob: 0.1, horizon: 2h}}
nodes:
- selector: {matchLabels: {pool: batch}}
  cpu: {predictor: {knob: 0.2}}
  memory: {predictor: {name: none}}
- selector: {matchLabels: {pool: histogram}}
  cpu: {predictor: {name: decaying-histogram}}
- selector: {matchLabels: {pool: same-name}}
  cpu: {predictor: {name: seasonal, horizon: 30m}}
- selector: {matchLabels: {zone: a}}
  cpu: {predictor: {knob: 0.95}}
`
	tests := []struct {
		name        string
		doc         string
		labels      map[string]string
		cpu, memory PredictorSpec
	}{
		{name: "empty document", doc: "", cpu: def, memory: def},
		{name: "the default is default, 5% of capacity, 1h", doc: "",
			cpu: spec("default", predict.DefaultMarginFraction, time.Hour), memory: spec("default", 0.05, time.Hour)},
		{name: "every field", doc: "memory: {predictor: {name: burst-guard, knob: 0.15, horizon: 90m}}",
			cpu: def, memory: spec("burst-guard", 0.15, 90*time.Minute)},
		{name: "name only: knob of that predictor", doc: "cpu: {predictor: {name: decaying-histogram}}\nmemory: {predictor: {name: static}}",
			cpu: spec("decaying-histogram", predict.DefaultPercentile, time.Hour), memory: spec("static", 0.05, time.Hour)},
		{name: "none", doc: "cpu: {predictor: {name: none}}", cpu: spec("none", 0, time.Hour), memory: def},
		{name: "knob zero margin", doc: "cpu: {predictor: {name: window-max, knob: 0}}", cpu: spec("window-max", 0, time.Hour), memory: def},
		{name: "horizon at the bounds", doc: "cpu: {predictor: {horizon: 1s}}\nmemory: {predictor: {horizon: 168h}}",
			cpu: spec("default", 0.05, time.Second), memory: spec("default", 0.05, 7*24*time.Hour)},
		{name: "top level, no override matches", doc: overrides, labels: map[string]string{"pool": "web"},
			cpu: spec("seasonal", 0.1, 2*time.Hour), memory: def},
		{name: "override field by field", doc: overrides, labels: map[string]string{"pool": "batch"},
			cpu: spec("seasonal", 0.2, 2*time.Hour), memory: spec("none", 0, time.Hour)},
		{name: "override names another predictor: its default knob", doc: overrides, labels: map[string]string{"pool": "histogram"},
			cpu: spec("decaying-histogram", 0.99, 2*time.Hour), memory: def},
		{name: "override repeats the name: knob kept", doc: overrides, labels: map[string]string{"pool": "same-name"},
			cpu: spec("seasonal", 0.1, 30*time.Minute), memory: def},
		{name: "docs/configuration.md example", labels: map[string]string{"pool": "spiky"},
			doc: "cpu:\n  predictor: {name: default, knob: 0.1}\nmemory:\n  predictor: {name: none}\nnodes:\n" +
				"  - selector: {matchLabels: {pool: spiky}}\n    cpu: {predictor: {name: burst-guard}}\n",
			cpu: spec("burst-guard", 0.05, time.Hour), memory: spec("none", 0, time.Hour)},
		{name: "later override wins", doc: overrides, labels: map[string]string{"pool": "histogram", "zone": "a"},
			cpu: spec("decaying-histogram", 0.95, 2*time.Hour), memory: def},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			cpu, memory, err := n.PredictorsForNode(tt.labels)
			if err != nil {
				t.Fatalf("PredictorsForNode: %v", err)
			}
			if cpu != tt.cpu || memory != tt.memory {
				t.Errorf("PredictorsForNode(%v) = %+v, %+v; want %+v, %+v", tt.labels, cpu, memory, tt.cpu, tt.memory)
			}
		})
	}
}

func TestPredictorInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"unknown name", "cpu: {predictor: {name: crystal-ball}}",
			[]string{`cpu.predictor.name: "crystal-ball" is not a predictor (default, decaying-histogram, seasonal, burst-guard, static, window-max, none)`}},
		{"oracle is not for the agent", "memory: {predictor: {name: oracle}}", []string{`memory.predictor.name: "oracle" is not a predictor`}},
		{"knob above 1", "cpu: {predictor: {knob: 1.5}}", []string{"cpu.predictor.knob: 1.5 is not within 0–1"}},
		{"knob negative", "memory: {predictor: {name: static, knob: -0.1}}", []string{"memory.predictor.knob: -0.1 is not within 0–1"}},
		{"percentile zero", "cpu: {predictor: {name: decaying-histogram, knob: 0}}",
			[]string{"cpu.predictor.knob: 0 is not a percentile within (0, 1] (decaying-histogram)"}},
		{"horizon zero", "cpu: {predictor: {horizon: 0s}}", []string{"cpu.predictor.horizon: 0s is not within 1s–168h0m0s (7 days)"}},
		{"horizon negative", "memory: {predictor: {horizon: -1h}}", []string{"memory.predictor.horizon: -1h0m0s is not within"}},
		{"horizon beyond 7 days", "cpu: {predictor: {horizon: 169h}}", []string{"cpu.predictor.horizon: 169h0m0s is not within 1s–168h0m0s"}},
		{"horizon without unit", "cpu: {predictor: {horizon: 3600}}", []string{"cpu.predictor.horizon: 3600 is not a duration string"}},
		{"knob not a number", "cpu: {predictor: {knob: high}}", []string{`cpu.predictor.knob: expected a number, got the string "high"`}},
		{"unknown field", "cpu: {predictor: {margin: 0.1}}", []string{`cpu.predictor: unknown field "margin"`}},
		{"predictor not a mapping", "cpu: {predictor: seasonal}", []string{"cpu.predictor: expected a mapping"}},
		{"override field", "nodes: [{selector: {}, memory: {predictor: {name: nope}}}]", []string{`nodes[0].memory.predictor.name: "nope" is not a predictor`}},
		{"override knob", "nodes: [{selector: {}, cpu: {predictor: {knob: 2}}}]", []string{"nodes[0].cpu.predictor.knob: 2 is not within 0–1"}},
		{"override gives a percentile predictor a zero knob", "cpu: {predictor: {name: decaying-histogram}}\nnodes: [{selector: {}, cpu: {predictor: {knob: 0}}}]",
			[]string{"nodes[0]: with this override, cpu.predictor.knob: 0 is not a percentile"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", n)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestPredictorsForNodeCombinedOverridesInvalid(t *testing.T) {
	t.Parallel()
	// Each override is fine alone; together they give a percentile predictor
	// a knob of zero.
	n, err := Parse([]byte(`
nodes:
- selector: {matchLabels: {a: x}}
  cpu: {predictor: {name: decaying-histogram}}
- selector: {matchLabels: {b: x}}
  cpu: {predictor: {knob: 0}}
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	_, _, err = n.PredictorsForNode(map[string]string{"a": "x", "b": "x"})
	if err == nil || !strings.Contains(err.Error(), "nodes[0], nodes[1] applied") || !strings.Contains(err.Error(), "cpu.predictor.knob: 0 is not a percentile") {
		t.Errorf("PredictorsForNode: %v", err)
	}
	// The same combination also refuses the policy: the node keeps its
	// previous config as a whole.
	if _, _, err := n.ForNode(map[string]string{"a": "x", "b": "x"}); err == nil {
		t.Error("ForNode accepted the combination")
	}
}

func TestPredictorsForNodeBuiltInCode(t *testing.T) {
	t.Parallel()
	cpu, memory, err := (&NodeSLO{Memory: ResourceSLO{Predictor: &Predictor{Name: ptr("seasonal")}}}).PredictorsForNode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cpu != DefaultPredictorSpec() || memory != (PredictorSpec{Name: "seasonal", Knob: 0.05, Horizon: time.Hour}) {
		t.Errorf("PredictorsForNode = %+v, %+v", cpu, memory)
	}
	if !(PredictorSpec{Name: "decaying-histogram"}).PercentileKnob() || DefaultPredictorSpec().PercentileKnob() {
		t.Error("PercentileKnob")
	}
}

func TestPredictorSpecValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec PredictorSpec
		want string // "" for valid
	}{
		{"default", DefaultPredictorSpec(), ""},
		{"none", PredictorSpec{Name: "none", Horizon: time.Hour}, ""},
		{"percentile 1", PredictorSpec{Name: "decaying-histogram", Knob: 1, Horizon: time.Hour}, ""},
		{"unknown name", PredictorSpec{Name: "oracle", Knob: 0.05, Horizon: time.Hour}, `predictor.name: "oracle" is not a predictor`},
		{"knob NaN", PredictorSpec{Name: "static", Knob: math.NaN(), Horizon: time.Hour}, "predictor.knob: NaN is not within 0–1"},
		{"percentile 0", PredictorSpec{Name: "decaying-histogram", Horizon: time.Hour}, "predictor.knob: 0 is not a percentile"},
		{"zero horizon", PredictorSpec{Name: "default", Knob: 0.05}, "predictor.horizon: 0s is not within"},
		{"horizon of years", PredictorSpec{Name: "seasonal", Knob: 0.05, Horizon: 1 << 62}, "predictor.horizon: 1281023h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.spec.Validate()
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}
