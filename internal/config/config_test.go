package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// productExample is the NodeSLO of PRODUCT.md.
const productExample = `enabled: true                  # the one-click switch
cpu:
  reclaimWatermarkPercent: 65  # online + system + lent may reach this share of capacity
  evictWatermarkPercent: 90    # node usage above this evicts offline pods
memory:
  reclaimWatermarkPercent: 70
  evictWatermarkPercent: 90
evictionCooldown: 10m          # after an eviction, lend nothing new for this long
timeWindows:                   # when colocation is allowed; empty = always
  - days: [Mon, Tue, Wed, Thu, Fri]
    start: "00:30"
    end: "08:00"
    grace: 30m                 # stop lending this long before the end, let running work finish
nodes:                         # per-node overrides, chosen by node label selector
  - selector: {matchLabels: {pool: transcoding}}
    cpu: {reclaimWatermarkPercent: 75}
`

func TestParseValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		doc   string
		check func(t *testing.T, n *NodeSLO)
	}{
		{
			name: "empty document is all defaults",
			doc:  "",
			check: func(t *testing.T, n *NodeSLO) {
				if !*n.Enabled || *n.CPU.ReclaimWatermarkPercent != 65 || *n.Memory.EvictWatermarkPercent != 90 ||
					time.Duration(*n.EvictionCooldown) != 10*time.Minute || *n.TimeZone != "Local" ||
					time.Duration(*n.CFSPeriod) != 100*time.Millisecond || *n.Units.CPUMilli != 100 ||
					n.Units.MemoryBytes.Value() != 64<<20 || len(n.TimeWindows) != 0 || len(n.Nodes) != 0 {
					t.Errorf("defaults not applied: %+v", n)
				}
			},
		},
		{
			name: "comments only",
			doc:  "# nothing here\n\n",
			check: func(t *testing.T, n *NodeSLO) {
				if !*n.Enabled {
					t.Error("enabled = false, want the default true")
				}
			},
		},
		{
			name: "PRODUCT.md example",
			doc:  productExample,
			check: func(t *testing.T, n *NodeSLO) {
				if len(n.TimeWindows) != 1 || n.TimeWindows[0].Start != "00:30" || time.Duration(*n.TimeWindows[0].Grace) != 30*time.Minute {
					t.Errorf("time windows = %+v", n.TimeWindows)
				}
				if len(n.Nodes) != 1 || n.Nodes[0].Selector.MatchLabels["pool"] != "transcoding" || *n.Nodes[0].CPU.ReclaimWatermarkPercent != 75 {
					t.Errorf("nodes = %+v", n.Nodes)
				}
				if n.Nodes[0].CPU.EvictWatermarkPercent != nil {
					t.Error("override gained a field it does not set")
				}
			},
		},
		{
			name: "cpu quantities as number and string",
			doc:  "cpu: {systemReserved: 0.5, minLimit: \"200m\"}\nmemory: {systemReserved: 1Gi, minLimit: 268435456}",
			check: func(t *testing.T, n *NodeSLO) {
				if n.CPU.SystemReserved.MilliValue() != 500 || n.CPU.MinLimit.MilliValue() != 200 {
					t.Errorf("cpu = %s, %s", n.CPU.SystemReserved, n.CPU.MinLimit)
				}
				if n.Memory.SystemReserved.Value() != 1<<30 || n.Memory.MinLimit.Value() != 256<<20 {
					t.Errorf("memory = %s, %s", n.Memory.SystemReserved, n.Memory.MinLimit)
				}
			},
		},
		{
			name: "disabled, zone, window over midnight, full day names",
			doc: "enabled: false\ntimeZone: Asia/Shanghai\ncfsPeriod: 50ms\n" +
				"timeWindows: [{days: [saturday, SUN], start: \"22:00\", end: \"6:00\", grace: 1h}]",
			check: func(t *testing.T, n *NodeSLO) {
				if *n.Enabled || *n.TimeZone != "Asia/Shanghai" || time.Duration(*n.CFSPeriod) != 50*time.Millisecond {
					t.Errorf("got %+v", n)
				}
			},
		},
		{
			name: "selector with matchExpressions",
			doc: "nodes:\n- selector:\n    matchExpressions:\n    - {key: pool, operator: In, values: [a, b]}\n" +
				"    - {key: gpu, operator: DoesNotExist}\n  enabled: false",
			check: func(t *testing.T, n *NodeSLO) {
				if len(n.Nodes[0].Selector.MatchExpressions) != 2 || *n.Nodes[0].Enabled {
					t.Errorf("nodes = %+v", n.Nodes)
				}
			},
		},
		{
			name: "reclaim equal to evict is fine",
			doc:  "cpu: {reclaimWatermarkPercent: 90, evictWatermarkPercent: 90, evictReleasePercent: 90}",
			check: func(t *testing.T, n *NodeSLO) {
				if *n.CPU.ReclaimWatermarkPercent != 90 {
					t.Error("reclaim not kept")
				}
			},
		},
		{
			name: "override sets an empty window list",
			doc:  "timeWindows: [{start: \"01:00\", end: \"02:00\"}]\nnodes: [{selector: {}, timeWindows: []}]",
			check: func(t *testing.T, n *NodeSLO) {
				if n.Nodes[0].TimeWindows == nil || len(*n.Nodes[0].TimeWindows) != 0 {
					t.Errorf("override windows = %v", n.Nodes[0].TimeWindows)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n.Version() != Version([]byte(tt.doc)) {
				t.Errorf("Version() = %q, want the hash of the document", n.Version())
			}
			tt.check(t, n)
		})
	}
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		// want are substrings the error must contain, each naming its path.
		want []string
	}{
		{"unknown field", "cpu: {reclaimWatermarkPrecent: 60}", []string{`cpu: unknown field "reclaimWatermarkPrecent"`}},
		{"unknown top-level field", "predictor: {}", []string{`document: unknown field "predictor"`}},
		{"unknown field in override", "nodes: [{selector: {}, memory: {foo: 1}}]", []string{`nodes[0].memory: unknown field "foo"`}},
		{"unknown field in selector", "nodes: [{selector: {matchLabel: {a: b}}}]", []string{`nodes[0].selector: unknown field "matchLabel"`}},
		{"not a mapping", "just text", []string{"document: expected a mapping"}},
		{"bad YAML", "cpu: [", []string{"yaml:"}},
		{"duplicate key", "enabled: true\nenabled: false", []string{`"enabled" already set`}},
		{"percent not a number", "cpu: {reclaimWatermarkPercent: high}", []string{`cpu.reclaimWatermarkPercent: expected a number, got the string "high"`}},
		{"enabled not a boolean", "enabled: [1]", []string{"enabled: expected a boolean, got a list"}},
		{"bad duration", "evictionCooldown: 10 minutes", []string{`evictionCooldown: "10 minutes" is not a duration`}},
		{"duration as number", "cpuEvictAfter: 30", []string{"cpuEvictAfter: 30 is not a duration string"}},
		{"bad quantity", "memory: {systemReserved: lots}", []string{`memory.systemReserved: "lots" is not a quantity`}},
		{"quantity with an extreme exponent", "cpu: {minLimit: \"1e-999999999\"}", []string{`cpu.minLimit: "1e-999999999" has an exponent beyond ±30`}},
		{"quantity too long", "memory: {minLimit: \"0.0000000000000000000000000000000000000000000000000000000000000000000001\"}",
			[]string{"memory.minLimit:", "too long for a quantity"}},
		{"cpuMilli fractional", "units: {cpuMilli: 1.5}", []string{"units.cpuMilli: expected a whole number, got the number 1.5"}},
		{"timeWindows not a list", "timeWindows: {start: \"01:00\"}", []string{"timeWindows: expected a list, got a mapping"}},
		{"several decode problems at once", "cpu: {x: 1}\nmemory: {growAfter: soon}\nnodes: [{selector: {}}, {cpu: {deadbandPercent: no}}]",
			[]string{`cpu: unknown field "x"`, `memory.growAfter: "soon"`, "nodes[1].cpu.deadbandPercent: expected a number"}},

		{"reclaim above 100", "cpu: {reclaimWatermarkPercent: 120}", []string{"cpu.reclaimWatermarkPercent: 120 is not within 0–100"}},
		{"evict negative", "memory: {evictWatermarkPercent: -1}", []string{"memory.evictWatermarkPercent: -1 is not within 0–100"}},
		{"release above 100", "cpu: {evictReleasePercent: 100.5}", []string{"cpu.evictReleasePercent: 100.5 is not within 0–100"}},
		{"deadband above 100", "memory: {deadbandPercent: 101}", []string{"memory.deadbandPercent: 101 is not within 0–100"}},
		{"reclaim above evict", "cpu: {reclaimWatermarkPercent: 80, evictWatermarkPercent: 70}",
			[]string{"cpu.reclaimWatermarkPercent: 80 is above cpu.evictWatermarkPercent (70)"}},
		{"release above evict", "memory: {evictWatermarkPercent: 70, reclaimWatermarkPercent: 50, evictReleasePercent: 75}",
			[]string{"memory.evictReleasePercent: 75 is above memory.evictWatermarkPercent (70)"}},
		{"negative system reserved", "cpu: {systemReserved: -100m}", []string{"cpu.systemReserved: -100m is negative"}},
		{"zero min limit", "memory: {minLimit: 0}", []string{"memory.minLimit: 0 is not above zero"}},
		{"huge cpu", "cpu: {systemReserved: 2e6}", []string{"cpu.systemReserved: 2M cores is more than 1000000"}},
		{"huge memory", "memory: {systemReserved: 2Ei}", []string{"memory.systemReserved: 2Ei is more than 1Ei"}},
		{"negative growAfter", "cpu: {growAfter: -5s}", []string{"cpu.growAfter: -5s is negative"}},
		{"negative cooldown", "evictionCooldown: -1m", []string{"evictionCooldown: -1m0s is negative"}},
		{"negative cpuEvictAfter", "cpuEvictAfter: -1s", []string{"cpuEvictAfter: -1s is negative"}},
		{"cfs period too long", "cfsPeriod: 2s", []string{"cfsPeriod: 2s is not within 1ms–1s"}},
		{"quota below 1ms", "cfsPeriod: 10ms\ncpu: {minLimit: 50m}", []string{"cpu.minLimit: 50m × cfsPeriod 10ms is a CFS quota of 500µs"}},
		{"bad start", "timeWindows: [{start: \"01:00\", end: \"02:00\"}, {start: \"25:00\", end: \"02:00\"}]",
			[]string{`timeWindows[1].start: "25:00" is not HH:MM`}},
		{"bad end", "timeWindows: [{start: \"01:00\", end: \"2pm\"}]", []string{`timeWindows[0].end: "2pm" is not HH:MM`}},
		{"missing end", "timeWindows: [{start: \"01:00\"}]", []string{`timeWindows[0].end: "" is not HH:MM`}},
		{"unknown day", "timeWindows: [{days: [Mon, Funday], start: \"01:00\", end: \"02:00\"}]",
			[]string{`timeWindows[0].days[1]: "Funday" is not a day`}},
		{"grace as long as the window", "timeWindows: [{start: \"01:00\", end: \"02:00\", grace: 1h}]",
			[]string{"timeWindows[0].grace: 1h0m0s is not shorter than the window (1h0m0s)"}},
		{"grace over midnight too long", "timeWindows: [{start: \"23:00\", end: \"01:00\", grace: 3h}]",
			[]string{"timeWindows[0].grace: 3h0m0s is not shorter than the window (2h0m0s)"}},
		{"negative grace", "timeWindows: [{start: \"01:00\", end: \"02:00\", grace: -1m}]", []string{"timeWindows[0].grace: -1m0s is negative"}},
		{"unknown time zone", "timeZone: Mars/Olympus", []string{`timeZone: "Mars/Olympus" cannot be loaded`}},
		{"units cpu zero", "units: {cpuMilli: 0}", []string{"units.cpuMilli: 0 is not within 1–1000000"}},
		{"units memory fractional", "units: {memoryBytes: 0.5}", []string{"units.memoryBytes: 500m is not a whole number of bytes"}},
		{"units memory huge", "units: {memoryBytes: 2Ti}", []string{"units.memoryBytes: 2Ti is not within 1–1Ti"}},
		{"missing selector", "nodes: [{cpu: {reclaimWatermarkPercent: 50}}]", []string{"nodes[0].selector: required"}},
		{"bad selector operator", "nodes: [{selector: {matchExpressions: [{key: a, operator: Near}]}}]",
			[]string{`nodes[0].selector: "Near" is not a valid label selector operator`}},
		{"bad selector label", "nodes: [{selector: {matchLabels: {\"bad key!\": x}}}]", []string{"nodes[0].selector:"}},
		{"In without values", "nodes: [{selector: {matchExpressions: [{key: a, operator: In}]}}]", []string{"nodes[0].selector:"}},
		{"override out of range", "nodes: [{selector: {}, cpu: {evictWatermarkPercent: 150}}]",
			[]string{"nodes[0].cpu.evictWatermarkPercent: 150 is not within 0–100"}},
		{"override window", "nodes: [{selector: {}, timeWindows: [{start: \"1\", end: \"02:00\"}]}]",
			[]string{`nodes[0].timeWindows[0].start: "1" is not HH:MM`}},
		{"override breaks reclaim ≤ evict", "nodes: [{selector: {}}, {selector: {}, cpu: {reclaimWatermarkPercent: 95}}]",
			[]string{"nodes[1]: with this override, cpu.reclaimWatermarkPercent: 95 is above cpu.evictWatermarkPercent (90)"}},
		{"all problems reported", "cpu: {reclaimWatermarkPercent: 120}\ntimeZone: Nowhere/City\ncfsPeriod: 0s\nnodes: [{}]",
			[]string{"cpu.reclaimWatermarkPercent: 120", "timeZone:", "cfsPeriod: 0s", "nodes[0].selector: required"}},
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

func TestOverrideReportedOnce(t *testing.T) {
	t.Parallel()
	// The top level breaks the rule already; the override that leaves the
	// fields alone must not repeat it.
	_, err := Parse([]byte("cpu: {reclaimWatermarkPercent: 95}\nnodes: [{selector: {}, enabled: false}]"))
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	if got := strings.Count(err.Error(), "is above"); got != 1 {
		t.Errorf("rule reported %d times, want once:\n%v", got, err)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	a, b := Version([]byte(productExample)), Version([]byte(productExample+"\n"))
	if len(a) != 12 || a == b || a != Version([]byte(productExample)) {
		t.Errorf("Version: %q, %q", a, b)
	}
	// sha256("") starts with e3b0c44298fc.
	if got := Default().Version(); got != "e3b0c44298fc" {
		t.Errorf("Default().Version() = %q", got)
	}
}

func TestReadAndLoad(t *testing.T) {
	t.Parallel()
	n, err := Read(strings.NewReader(productExample))
	if err != nil || *n.Nodes[0].CPU.ReclaimWatermarkPercent != 75 {
		t.Fatalf("Read: %v", err)
	}
	path := t.TempDir() + "/nodeslo.yaml"
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Load of a missing file: %v", err)
	}
	if err := os.WriteFile(path, []byte("cpu: {reclaimWatermarkPercent: 101}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "cpu.reclaimWatermarkPercent") {
		t.Errorf("Load of an invalid file: %v", err)
	}
}

func TestUnitSizes(t *testing.T) {
	t.Parallel()
	n, err := Parse([]byte("units: {cpuMilli: 250, memoryBytes: 128Mi}"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n.UnitSizes(), (UnitSizes{CPUMilli: 250, MemoryBytes: 128 << 20}); got != want {
		t.Errorf("UnitSizes() = %+v, want %+v", got, want)
	}
	if got, want := (&NodeSLO{}).UnitSizes(), (UnitSizes{CPUMilli: 100, MemoryBytes: 64 << 20}); got != want {
		t.Errorf("UnitSizes() of an empty NodeSLO = %+v, want %+v", got, want)
	}
}

func TestExampleFileParses(t *testing.T) {
	t.Parallel()
	n, err := Load("../../deploy/nodeslo-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Nodes) == 0 || len(n.TimeWindows) == 0 {
		t.Errorf("the example should show overrides and windows: %+v", n)
	}
	want := resource.MustParse("64Mi")
	if n.Units.MemoryBytes.Cmp(want) != 0 {
		t.Errorf("units.memoryBytes = %s", n.Units.MemoryBytes)
	}
}

func BenchmarkParse(b *testing.B) {
	data := []byte(productExample)
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
