package qos_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/pkg/qos"
)

func TestDefaultPolicy(t *testing.T) {
	t.Parallel()
	p := qos.DefaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatalf("default policy invalid: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"enabled", p.Enabled, true},
		{"cpu reclaim", p.CPU.ReclaimWatermarkPercent, 65.0},
		{"cpu evict", p.CPU.EvictWatermarkPercent, 90.0},
		{"memory reclaim", p.Memory.ReclaimWatermarkPercent, 70.0},
		{"memory evict", p.Memory.EvictWatermarkPercent, 90.0},
		{"cpu release", p.CPU.EvictReleasePercent, 10.0},
		{"memory release", p.Memory.EvictReleasePercent, 10.0},
		{"cooldown", p.EvictionCooldown, 10 * time.Minute},
		{"cpu deadband", p.CPU.DeadbandPercent, 2.0},
		{"memory deadband", p.Memory.DeadbandPercent, 1.0},
		{"cpu grow after", p.CPU.GrowAfter, 10 * time.Second},
		{"memory grow after", p.Memory.GrowAfter, 60 * time.Second},
		{"cpu evict after", p.CPUEvictAfter, 10 * time.Second},
		{"cfs period", p.CFSPeriod, 100 * time.Millisecond},
		{"cpu floor", p.CPU.MinLimit, 0.1},
		{"memory floor", p.Memory.MinLimit, float64(64 << 20)},
		{"cpu reserved", p.CPU.SystemReserved, 0.0},
		{"always open", len(p.Windows), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mod    func(*qos.Policy)
		fields []string // every field the error must name; none: valid
	}{
		{name: "default is valid", mod: func(*qos.Policy) {}},
		{name: "disabled is valid", mod: func(p *qos.Policy) { p.Enabled = false }},
		{name: "zero CFS period means the default", mod: func(p *qos.Policy) { p.CFSPeriod = 0 }},
		{name: "reclaim equal to evict is valid", mod: func(p *qos.Policy) { p.CPU.ReclaimWatermarkPercent = 90 }},
		{name: "watermarks at the bounds are valid", mod: func(p *qos.Policy) {
			p.CPU.ReclaimWatermarkPercent, p.CPU.EvictWatermarkPercent, p.CPU.EvictReleasePercent = 0, 100, 100
		}},
		{name: "a sane wrapping window is valid", mod: func(p *qos.Policy) {
			p.Windows = []qos.TimeWindow{{Days: []time.Weekday{time.Friday, time.Saturday}, Start: hm(22, 0), End: hm(6, 0), Grace: 30 * time.Minute}}
		}},
		{
			name:   "reclaim above 100",
			mod:    func(p *qos.Policy) { p.CPU.ReclaimWatermarkPercent = 101 },
			fields: []string{"cpu.reclaimWatermarkPercent"},
		},
		{
			name:   "negative reclaim",
			mod:    func(p *qos.Policy) { p.Memory.ReclaimWatermarkPercent = -1 },
			fields: []string{"memory.reclaimWatermarkPercent"},
		},
		{
			name:   "NaN evict",
			mod:    func(p *qos.Policy) { p.CPU.EvictWatermarkPercent = math.NaN() },
			fields: []string{"cpu.evictWatermarkPercent"},
		},
		{
			name:   "reclaim above evict",
			mod:    func(p *qos.Policy) { p.Memory.ReclaimWatermarkPercent = 95 },
			fields: []string{"memory.reclaimWatermarkPercent"},
		},
		{
			name: "release above evict",
			mod: func(p *qos.Policy) {
				p.CPU.EvictWatermarkPercent, p.CPU.ReclaimWatermarkPercent, p.CPU.EvictReleasePercent = 50, 40, 60
			},
			fields: []string{"cpu.evictReleasePercent"},
		},
		{
			name:   "deadband out of range",
			mod:    func(p *qos.Policy) { p.CPU.DeadbandPercent = 200 },
			fields: []string{"cpu.deadbandPercent"},
		},
		{
			name:   "negative system reserved",
			mod:    func(p *qos.Policy) { p.Memory.SystemReserved = -1 },
			fields: []string{"memory.systemReserved"},
		},
		{
			name:   "zero floor",
			mod:    func(p *qos.Policy) { p.CPU.MinLimit = 0 },
			fields: []string{"cpu.minLimit"},
		},
		{
			name:   "negative durations",
			mod:    func(p *qos.Policy) { p.CPU.GrowAfter, p.EvictionCooldown, p.CPUEvictAfter = -1, -1, -1 },
			fields: []string{"cpu.growAfter", "evictionCooldown", "cpuEvictAfter"},
		},
		{
			name:   "CFS period out of the kernel range",
			mod:    func(p *qos.Policy) { p.CFSPeriod = 2 * time.Second },
			fields: []string{"cfsPeriod"},
		},
		{
			name:   "window start of 24h",
			mod:    func(p *qos.Policy) { p.Windows = []qos.TimeWindow{{Start: 24 * time.Hour, End: hm(6, 0)}} },
			fields: []string{"timeWindows[0].start"},
		},
		{
			name: "second window with negative end and bad day",
			mod: func(p *qos.Policy) {
				p.Windows = []qos.TimeWindow{{Start: 0, End: hm(6, 0)}, {Days: []time.Weekday{time.Monday, 7}, Start: 0, End: -time.Minute}}
			},
			fields: []string{"timeWindows[1].end", "timeWindows[1].days[1]"},
		},
		{
			name:   "negative grace",
			mod:    func(p *qos.Policy) { p.Windows = []qos.TimeWindow{{Start: 0, End: hm(6, 0), Grace: -time.Minute}} },
			fields: []string{"timeWindows[0].grace"},
		},
		{
			name: "grace as long as the window",
			mod: func(p *qos.Policy) {
				p.Windows = []qos.TimeWindow{{Start: hm(22, 0), End: hm(6, 0), Grace: 8 * time.Hour}}
			},
			fields: []string{"timeWindows[0].grace"},
		},
		{
			name: "every error is reported",
			mod: func(p *qos.Policy) {
				p.CPU.ReclaimWatermarkPercent, p.Memory.MinLimit = 120, -5
			},
			fields: []string{"cpu.reclaimWatermarkPercent", "memory.minLimit"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := qos.DefaultPolicy()
			tc.mod(&p)
			err := p.Validate()
			if len(tc.fields) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error naming %v", tc.fields)
			}
			if !errors.Is(err, qos.ErrInvalidPolicy) {
				t.Errorf("error %v does not wrap ErrInvalidPolicy", err)
			}
			for _, f := range tc.fields {
				if !strings.Contains(err.Error(), f+":") {
					t.Errorf("error %q does not name %s", err, f)
				}
			}
		})
	}
}
