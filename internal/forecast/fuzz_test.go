package forecast

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/internal/config"
)

// FuzzLoad feeds arbitrary state files to the parser and restore. Seeds are
// in testdata/fuzz/FuzzLoad (saved states of every predictor, corrupt
// variants). Invariants: no panic; a document that parses restores into a
// set of its own specs or fails with an error, and either way the set then
// forecasts finite, non-negative values; what the set holds then saves,
// parses and restores again, and the two sets forecast the same.
func FuzzLoad(f *testing.F) {
	f.Add(savedDocument(f, config.DefaultPredictorSpec(), spec(config.PredictorNone, 0)))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte("\x00{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ReadDocument(bytes.NewReader(b))
		if err != nil {
			return
		}
		cpu, err := d.CPU.Spec.PredictorSpec()
		if err != nil {
			t.Fatalf("ReadDocument accepted a spec it cannot convert: %v", err)
		}
		memory, err := d.Memory.Spec.PredictorSpec()
		if err != nil {
			t.Fatalf("ReadDocument accepted a spec it cannot convert: %v", err)
		}
		s, err := NewSet(cpu, memory)
		if err != nil {
			return // not a spec the NodeSLO allows
		}
		if _, err := s.CPU.Configure(cpu, cpuCores); err != nil {
			t.Fatalf("Configure after NewSet: %v", err)
		}
		if _, err := s.Memory.Configure(memory, memoryBytes); err != nil {
			t.Fatalf("Configure after NewSet: %v", err)
		}
		_ = s.Restore(d) // refused or not, the invariants below hold
		d2, err := s.Document()
		if err != nil {
			t.Fatalf("Document after Restore: %v", err)
		}
		out, err := json.Marshal(d2)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := ReadDocument(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("ReadDocument of a saved state: %v\n%s", err, out)
		}
		s2, err := NewSet(cpu, memory)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s2.CPU.Configure(cpu, cpuCores); err != nil {
			t.Fatal(err)
		}
		if _, err := s2.Memory.Configure(memory, memoryBytes); err != nil {
			t.Fatal(err)
		}
		if err := s2.Restore(again); err != nil {
			t.Fatalf("Restore of a saved state: %v\n%s", err, out)
		}
		now := t0
		for i := range 5 {
			now = now.Add(time.Second)
			for _, p := range []struct{ a, b *Forecaster }{{s.CPU, s2.CPU}, {s.Memory, s2.Memory}} {
				p.a.Observe(now, float64(i))
				p.b.Observe(now, float64(i))
				pa, pb := p.a.Predict(now), p.b.Predict(now)
				if pa != pb && !(math.IsNaN(pa) && math.IsNaN(pb)) {
					t.Fatalf("step %d: %v vs %v after the round trip", i, pa, pb)
				}
				if !(pa >= 0) || math.IsInf(pa, 0) {
					t.Fatalf("step %d: forecast %v", i, pa)
				}
			}
		}
	})
}
