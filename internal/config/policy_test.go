package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// defaultPolicy is the policy of an empty document, spelled out.
func defaultPolicy() qos.Policy {
	return qos.Policy{
		Enabled: true,
		CPU: qos.ResourcePolicy{
			ReclaimWatermarkPercent: 65, EvictWatermarkPercent: 90, EvictReleasePercent: 10,
			SystemReserved: 0, MinLimit: 0.1, DeadbandPercent: 2, GrowAfter: 10 * time.Second,
		},
		Memory: qos.ResourcePolicy{
			ReclaimWatermarkPercent: 70, EvictWatermarkPercent: 90, EvictReleasePercent: 10,
			SystemReserved: 0, MinLimit: 64 << 20, DeadbandPercent: 1, GrowAfter: 60 * time.Second,
		},
		EvictionCooldown: 10 * time.Minute,
		CPUEvictAfter:    10 * time.Second,
		CFSPeriod:        100 * time.Millisecond,
	}
}

func TestForNode(t *testing.T) {
	t.Parallel()
	const overrides = `
cpu: {reclaimWatermarkPercent: 60, systemReserved: 1.5, minLimit: 250m, growAfter: 5s}
memory: {systemReserved: 2Gi, minLimit: 100000000}
timeZone: UTC
timeWindows: [{days: [Mon, fri], start: "22:30", end: "06:00", grace: 15m}]
nodes:
- selector: {matchLabels: {pool: transcoding}}
  cpu: {reclaimWatermarkPercent: 75, deadbandPercent: 5}
- selector:
    matchExpressions: [{key: zone, operator: In, values: [a, b]}]
  cpu: {reclaimWatermarkPercent: 80}
  memory: {evictReleasePercent: 20}
- selector: {matchLabels: {pool: batch}}
  timeWindows: []
- selector:
    matchExpressions: [{key: bigbox.dev/off, operator: Exists}]
  enabled: false
`
	base := defaultPolicy()
	base.CPU.ReclaimWatermarkPercent = 60
	base.CPU.SystemReserved = 1.5
	base.CPU.MinLimit = 0.25
	base.CPU.GrowAfter = 5 * time.Second
	base.Memory.SystemReserved = 2 << 30
	base.Memory.MinLimit = 100000000
	base.Windows = []qos.TimeWindow{{
		Days:  []time.Weekday{time.Monday, time.Friday},
		Start: 22*time.Hour + 30*time.Minute, End: 6 * time.Hour, Grace: 15 * time.Minute,
	}}
	with := func(f func(p *qos.Policy)) qos.Policy {
		p := base
		f(&p)
		return p
	}

	tests := []struct {
		name   string
		doc    string
		labels map[string]string
		want   qos.Policy
		zone   string
	}{
		{name: "defaults", doc: "", want: defaultPolicy(), zone: "Local"},
		{name: "no labels match no selector", doc: overrides, want: base, zone: "UTC"},
		{name: "other labels", doc: overrides, labels: map[string]string{"pool": "web", "zone": "c"}, want: base, zone: "UTC"},
		{
			name: "one override", doc: overrides, labels: map[string]string{"pool": "transcoding"}, zone: "UTC",
			want: with(func(p *qos.Policy) { p.CPU.ReclaimWatermarkPercent, p.CPU.DeadbandPercent = 75, 5 }),
		},
		{
			name: "later override wins field by field", doc: overrides, labels: map[string]string{"pool": "transcoding", "zone": "b"}, zone: "UTC",
			want: with(func(p *qos.Policy) {
				p.CPU.ReclaimWatermarkPercent, p.CPU.DeadbandPercent = 80, 5
				p.Memory.EvictReleasePercent = 20
			}),
		},
		{
			name: "windows replaced by an empty list", doc: overrides, labels: map[string]string{"pool": "batch"}, zone: "UTC",
			want: with(func(p *qos.Policy) { p.Windows = nil }),
		},
		{
			name: "switched off by Exists", doc: overrides, labels: map[string]string{"bigbox.dev/off": ""}, zone: "UTC",
			want: with(func(p *qos.Policy) { p.Enabled = false }),
		},
		{
			name: "empty selector matches nil labels", doc: "nodes: [{selector: {}, enabled: false}]",
			want: func() qos.Policy { p := defaultPolicy(); p.Enabled = false; return p }(), zone: "Local",
		},
		{
			name: "window every day", doc: "timeZone: Europe/Berlin\ntimeWindows: [{start: \"0:05\", end: \"23:59\"}]", zone: "Europe/Berlin",
			want: func() qos.Policy {
				p := defaultPolicy()
				p.Windows = []qos.TimeWindow{{Start: 5 * time.Minute, End: 23*time.Hour + 59*time.Minute}}
				return p
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, loc, err := n.ForNode(tt.labels)
			if err != nil {
				t.Fatalf("ForNode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ForNode(%v) =\n%+v\nwant\n%+v", tt.labels, got, tt.want)
			}
			if loc.String() != tt.zone {
				t.Errorf("location = %s, want %s", loc, tt.zone)
			}
		})
	}
}

func TestForNodeCombinedOverridesInvalid(t *testing.T) {
	t.Parallel()
	// Each override is fine alone; together they put reclaim above evict.
	n, err := Parse([]byte(`
nodes:
- selector: {matchLabels: {a: x}}
  cpu: {reclaimWatermarkPercent: 85}
- selector: {matchLabels: {b: x}}
  cpu: {evictWatermarkPercent: 80, reclaimWatermarkPercent: 70}
- selector: {matchLabels: {c: x}}
  cpu: {reclaimWatermarkPercent: 85}
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	_, _, err = n.ForNode(map[string]string{"b": "x", "c": "x"})
	if err == nil {
		t.Fatal("ForNode succeeded")
	}
	for _, want := range []string{"nodes[1], nodes[2] applied", "cpu.reclaimWatermarkPercent: 85 is above cpu.evictWatermarkPercent (80)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestForNodeBuiltInCode(t *testing.T) {
	t.Parallel()
	// A NodeSLO not made by Parse gets the defaults too.
	got, loc, err := (&NodeSLO{CPU: ResourceSLO{ReclaimWatermarkPercent: ptr(50.0)}}).ForNode(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := defaultPolicy()
	want.CPU.ReclaimWatermarkPercent = 50
	if !reflect.DeepEqual(got, want) || loc != time.Local {
		t.Errorf("ForNode = %+v, %v", got, loc)
	}
	if _, _, err := (&NodeSLO{CPU: ResourceSLO{ReclaimWatermarkPercent: ptr(150.0)}}).ForNode(nil); err == nil {
		t.Error("ForNode accepted a reclaim watermark of 150%")
	}
}

func BenchmarkForNode(b *testing.B) {
	n, err := Parse([]byte(productExample))
	if err != nil {
		b.Fatal(err)
	}
	labels := map[string]string{"pool": "transcoding"}
	for b.Loop() {
		if _, _, err := n.ForNode(labels); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDefaultsMatchQoS: an empty NodeSLO gives exactly the policy pkg/qos
// calls its default, so the agent with no config and the simulator with no
// --config decide alike. The two sets of defaults live apart (quantities
// here, base units there); this keeps them one set.
func TestDefaultsMatchQoS(t *testing.T) {
	t.Parallel()
	got, _, err := Default().ForNode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := qos.DefaultPolicy(); !reflect.DeepEqual(got, want) {
		t.Errorf("defaults differ:\nconfig: %+v\nqos:    %+v", got, want)
	}
}
