package simulate

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/pkg/predict"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// tracesDir holds the repository's real traces, relative to this package.
const tracesDir = "../../testdata/traces"

var t0 = time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)

// plainPolicy is the default policy without hysteresis (no deadband, rises
// at once) and with a reclaim watermark of watermarkPct: lent is then
// exactly max(0, capacity × watermark − forecast), as predict.Evaluate has
// it.
func plainPolicy(watermarkPct float64) qos.Policy {
	p := qos.DefaultPolicy()
	for _, rp := range []*qos.ResourcePolicy{&p.CPU, &p.Memory} {
		rp.ReclaimWatermarkPercent = watermarkPct
		rp.DeadbandPercent = 0
		rp.GrowAfter = 0
	}
	return p
}

// minuteSeries makes a series with one sample a minute.
func minuteSeries(values ...float64) []predict.Sample {
	out := make([]predict.Sample, len(values))
	for i, v := range values {
		out[i] = predict.Sample{Time: t0.Add(time.Duration(i) * time.Minute), Value: v}
	}
	return out
}

// randomSeries is a tidal curve with noise and bursts, one sample a minute,
// in [0, 1].
func randomSeries(seed uint64, n int) []predict.Sample {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]predict.Sample, n)
	burst := 0.0
	for i := range out {
		day := 0.25 + 0.2*math.Sin(2*math.Pi*float64(i)/(24*60))
		if r.Float64() < 0.005 {
			burst = 0.1 + 0.3*r.Float64()
		}
		burst *= 0.9
		v := day + burst + 0.05*r.NormFloat64()
		out[i] = predict.Sample{Time: t0.Add(time.Duration(i) * time.Minute), Value: min(max(v, 0), 1)}
	}
	return out
}

// loadTestTraces reads every trace in testdata/traces onto a node of
// capacity 1.
func loadTestTraces(tb testing.TB) []Trace {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(tracesDir, "*.csv"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no traces in %s: %v", tracesDir, err)
	}
	var out []Trace
	for _, f := range files {
		tr, err := loadTrace(f, Mapping{Capacity: 1, PeakFraction: 0.6})
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, tr)
	}
	return out
}

func replayOne(t *testing.T, n Node, series []predict.Sample, name string, knob float64, track *Track) Score {
	t.Helper()
	future := predict.FutureMax(series, n.Horizon)
	p, err := newPredictor(name, knob, n.Horizon, series, future)
	if err != nil {
		t.Fatal(err)
	}
	return Replay(n, series, future, p, track, nil)
}

// TestReplayHandMade checks the accounting on tiny series worked out by
// hand (the numbers are derived in the comments).
func TestReplayHandMade(t *testing.T) {
	t.Parallel()
	// Watermark 50%, capacity 1, horizon 2 min, samples a minute apart.
	// Scored steps: t + 2 min ≤ the last sample.
	memPolicy := plainPolicy(50)
	memPolicy.Memory.EvictWatermarkPercent = 60
	memPolicy.Memory.EvictReleasePercent = 5
	memPolicy.EvictionCooldown = 3 * time.Minute
	tests := []struct {
		name      string
		resource  qos.Resource
		policy    qos.Policy
		series    []float64
		predictor string
		knob      float64
		want      Score
		lent      []float64
		violation []bool
	}{
		{
			// static, margin 0: lent = 0.5 − v = .4 .4 .2 .4 (.4 .4 unscored).
			// Future peaks over (t, t+2m]: .3 .3 .1 .1; left to online = v:
			// .1 .1 .3 .1, so steps 0 and 1 violate.
			name: "static cpu", resource: qos.CPU, policy: plainPolicy(50),
			series: []float64{0.1, 0.1, 0.3, 0.1, 0.1, 0.1}, predictor: "static",
			want:      Score{Steps: 4, ReclaimedFraction: 0.35, ViolationRate: 0.5},
			lent:      []float64{0.4, 0.4, 0.2, 0.4, 0.4, 0.4},
			violation: []bool{true, true, false, false, false, false},
		},
		{
			// oracle, margin 0: forecast max(v, future) = .3 .3 .3 .1, lent
			// .2 .2 .2 .4: no violation.
			name: "oracle cpu", resource: qos.CPU, policy: plainPolicy(50),
			series: []float64{0.1, 0.1, 0.3, 0.1, 0.1, 0.1}, predictor: Oracle,
			want: Score{Steps: 4, ReclaimedFraction: 0.25, ViolationRate: 0},
			lent: []float64{0.2, 0.2, 0.2, 0.4, 0.4, 0.4},
		},
		{
			// static with margin .05: lent .35 .35 .15 .35; left .15 .15 .35
			// .15 against .3 .3 .1 .1: steps 0 and 1 still violate.
			name: "static margin cpu", resource: qos.CPU, policy: plainPolicy(50),
			series: []float64{0.1, 0.1, 0.3, 0.1, 0.1, 0.1}, predictor: "static", knob: 0.05,
			want: Score{Steps: 4, ReclaimedFraction: 0.3, ViolationRate: 0.5},
		},
		{
			// Nothing lent (online at the watermark): never a violation.
			name: "nothing lent", resource: qos.CPU, policy: plainPolicy(50),
			series: []float64{0.5, 0.5, 0.9, 0.5}, predictor: "static",
			want: Score{Steps: 2, ReclaimedFraction: 0, ViolationRate: 0},
		},
		{
			// Memory, evict at 60%, cooldown 3 min. Lent .4 at 0 and 1 min.
			// At 2 min online .3 + held .4 (lent at 1 min, held for the
			// horizon) = .7 > .6: evict, cooldown to 5 min; lent falls to .2.
			// At 3 and 4 min raw is .4 but nothing new is lent: .2. At 5 min
			// the cooldown is over: .4. Scored (t ≤ 4 min): .4 .4 .2 .2 .2,
			// mean .28; steps 0 and 1 violate (left .1 < future .3).
			name: "memory eviction and cooldown", resource: qos.Memory, policy: memPolicy,
			series: []float64{0.1, 0.1, 0.3, 0.1, 0.1, 0.1, 0.1}, predictor: "static",
			want:      Score{Steps: 5, ReclaimedFraction: 0.28, ViolationRate: 0.4, Evictions: 1},
			lent:      []float64{0.4, 0.4, 0.2, 0.2, 0.2, 0.4, 0.4},
			violation: []bool{true, true, false, false, false, false, false},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := Node{Resource: tc.resource, Policy: tc.policy, Capacity: 1, Horizon: 2 * time.Minute}
			var tk Track
			got := replayOne(t, n, minuteSeries(tc.series...), tc.predictor, tc.knob, &tk)
			if got.Steps != tc.want.Steps || !near(got.ReclaimedFraction, tc.want.ReclaimedFraction) ||
				!near(got.ViolationRate, tc.want.ViolationRate) || got.Evictions != tc.want.Evictions {
				t.Errorf("Replay() = %+v, want %+v (lent %v)", got, tc.want, tk.Lent)
			}
			for i, l := range tc.lent {
				if !near(tk.Lent[i], l) {
					t.Errorf("lent[%d] = %v, want %v (all %v)", i, tk.Lent[i], l, tk.Lent)
				}
			}
			for i, v := range tc.violation {
				if tk.Violation[i] != v {
					t.Errorf("violation[%d] = %v, want %v (all %v)", i, tk.Violation[i], v, tk.Violation)
				}
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestReplayMatchesEvaluate: without hysteresis and system usage the policy
// lends exactly what predict.Evaluate assumes, so both score the same; the
// replay adds only the policy.
func TestReplayMatchesEvaluate(t *testing.T) {
	t.Parallel()
	series := randomSeries(1, 3*24*60)
	n := Node{Resource: qos.CPU, Policy: plainPolicy(65), Capacity: 1, Horizon: time.Hour}
	for _, name := range predict.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			knob := DefaultKnob(name, n)
			got := replayOne(t, n, series, name, knob, nil)
			p, err := predict.New(name, knob, n.Horizon)
			if err != nil {
				t.Fatal(err)
			}
			want := predict.Evaluate(p, series, 1, 0.65, n.Horizon)
			if got.Steps != want.Steps || !near(got.ReclaimedFraction, want.ReclaimedFraction) || !near(got.ViolationRate, want.ViolationRate) {
				t.Errorf("Replay() = %+v, Evaluate() = %+v", got, want)
			}
		})
	}
}

// TestPredictionNotBelowUsage: through the replay, every predictor's
// forecast is at least the usage it has just observed, on random series and
// on the real traces.
func TestPredictionNotBelowUsage(t *testing.T) {
	t.Parallel()
	type input struct {
		name   string
		series []predict.Sample
	}
	inputs := []input{{"random 1", randomSeries(1, 2*24*60)}, {"random 2", randomSeries(2, 2*24*60)}}
	for _, tr := range loadTestTraces(t) {
		inputs = append(inputs, input{tr.Name, tr.Online[:min(len(tr.Online), 3000)]})
	}
	n := Node{Resource: qos.CPU, Policy: qos.DefaultPolicy(), Capacity: 1, Horizon: time.Hour}
	for _, in := range inputs {
		for _, name := range PredictorNames() {
			t.Run(in.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				var tk Track
				replayOne(t, n, in.series, name, DefaultKnob(name, n), &tk)
				for i := range tk.Online {
					if tk.Predicted[i] < tk.Online[i] {
						t.Fatalf("step %d: forecast %v below usage %v", i, tk.Predicted[i], tk.Online[i])
					}
				}
			})
		}
	}
}

// TestOracleDominates: at every step where a predictor did not violate, it
// lent no more than the oracle (margin 0) did; without hysteresis this holds
// by construction, so any failure is a bug in the replay or the oracle.
func TestOracleDominates(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 4; seed++ {
		series := randomSeries(seed, 2*24*60)
		n := Node{Resource: qos.CPU, Policy: plainPolicy(65), Capacity: 1, Horizon: time.Hour}
		var oracle Track
		oracleScore := replayOne(t, n, series, Oracle, 0, &oracle)
		if oracleScore.ViolationRate != 0 {
			t.Errorf("seed %d: oracle violation rate %v, want 0", seed, oracleScore.ViolationRate)
		}
		for _, name := range predict.Names() {
			for _, knob := range []float64{DefaultKnob(name, n), KnobGrid(name, 1)[1]} {
				var tk Track
				replayOne(t, n, series, name, knob, &tk)
				end := series[len(series)-1].Time
				for i := range tk.Lent {
					scored := !series[i].Time.Add(n.Horizon).After(end)
					if scored && !tk.Violation[i] && tk.Lent[i] > oracle.Lent[i]+1e-9 {
						t.Fatalf("seed %d %s knob %v step %d: lent %v without violating, oracle lent %v",
							seed, name, knob, i, tk.Lent[i], oracle.Lent[i])
					}
				}
			}
		}
	}
}

// TestOracleMarginDeadband: with the real policy's deadband the oracle at
// margin 0 can violate (hysteresis holds lent up to a deadband above raw),
// and at its default knob, one deadband, it never does.
func TestOracleMarginDeadband(t *testing.T) {
	t.Parallel()
	n := Node{Resource: qos.CPU, Policy: qos.DefaultPolicy(), Capacity: 1, Horizon: time.Hour}
	for seed := uint64(1); seed <= 3; seed++ {
		series := randomSeries(seed, 2*24*60)
		if sc := replayOne(t, n, series, Oracle, DefaultKnob(Oracle, n), nil); sc.ViolationRate != 0 {
			t.Errorf("seed %d: oracle at margin = deadband violates %v, want 0", seed, sc.ViolationRate)
		}
	}
}

// TestHeldMemory checks the sliding maximum of lent memory.
func TestHeldMemory(t *testing.T) {
	t.Parallel()
	var h heldMemory
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	h.add(at(0), 3)
	h.add(at(1), 1)
	h.add(at(2), 2)
	steps := []struct {
		minute int
		want   float64
	}{{2, 3}, {3, 3}, {4, 2}, {5, 2}, {6, 0}}
	for _, s := range steps {
		if got := h.at(at(s.minute), 4*time.Minute); got != s.want {
			t.Errorf("held at %d min = %v, want %v", s.minute, got, s.want)
		}
	}
	h.add(at(7), 5)
	h.clear()
	if got := h.at(at(7), 4*time.Minute); got != 0 {
		t.Errorf("held after clear = %v, want 0", got)
	}
}

func TestReadTrace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		m       Mapping
		times   []int64
		values  []float64
		step    time.Duration
		wantErr string
	}{
		{name: "cpu_util times capacity", in: "timestamp_s,cpu_util\n0,0.5\n60,0.25\n", m: Mapping{Capacity: 8, PeakFraction: 0.6},
			times: []int64{0, 60}, values: []float64{4, 2}, step: time.Minute},
		{name: "value peak mapped", in: "timestamp_s,value\n0,10\n60,20\n120,5\n", m: Mapping{Capacity: 2, PeakFraction: 0.5},
			times: []int64{0, 60, 120}, values: []float64{0.5, 1, 0.25}, step: time.Minute},
		{name: "resampled to the max", in: "timestamp_s,cpu_util\n0,0.1\n60,0.3\n120,0.2\n300,0.4\n", m: Mapping{Capacity: 1, Step: 2 * time.Minute},
			times: []int64{0, 120, 240}, values: []float64{0.3, 0.2, 0.4}, step: 2 * time.Minute},
		{name: "bad capacity", in: "timestamp_s,cpu_util\n0,0.5\n", m: Mapping{Capacity: 0}, wantErr: "capacity"},
		{name: "bad peak fraction", in: "timestamp_s,value\n0,1\n", m: Mapping{Capacity: 1, PeakFraction: 1.5}, wantErr: "peak fraction"},
		{name: "all zero value", in: "timestamp_s,value\n0,0\n", m: Mapping{Capacity: 1, PeakFraction: 0.6}, wantErr: "all values are 0"},
		{name: "parse error named", in: "timestamp_s,watts\n0,1\n", m: Mapping{Capacity: 1}, wantErr: "trace x: trace: unknown value column"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr, err := ReadTrace(strings.NewReader(tc.in), "x", tc.m)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ReadTrace() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(tr.Online) != len(tc.times) {
				t.Fatalf("got %d samples %v, want %d", len(tr.Online), tr.Online, len(tc.times))
			}
			for i, s := range tr.Online {
				if s.Time.Unix() != tc.times[i] || !near(s.Value, tc.values[i]) {
					t.Errorf("sample %d = (%d, %v), want (%d, %v)", i, s.Time.Unix(), s.Value, tc.times[i], tc.values[i])
				}
			}
			if tr.Step != tc.step {
				t.Errorf("Step = %v, want %v", tr.Step, tc.step)
			}
		})
	}
}

func FuzzReadTrace(f *testing.F) {
	f.Add([]byte("timestamp_s,cpu_util\n1392388020,0.51846000000000004\n1392388320,0.44508\n"), int64(0))
	f.Add([]byte("timestamp_s,value\n1628640000,39.722330\n1628640060,39.821460"), int64(120))
	f.Add([]byte("timestamp_s,value\n1,0\n"), int64(1))
	f.Add([]byte("garbage"), int64(-5))
	if b, err := os.ReadFile(filepath.Join(tracesDir, "crane-input0.csv")); err == nil {
		f.Add(b[:min(len(b), 2000)], int64(300))
	}
	f.Fuzz(func(t *testing.T, data []byte, stepSeconds int64) {
		m := Mapping{Capacity: 4, PeakFraction: 0.6, Step: time.Duration(stepSeconds) * time.Second}
		tr, err := ReadTrace(bytes.NewReader(data), "fuzz", m)
		if err != nil {
			return
		}
		if len(tr.Online) == 0 {
			t.Fatal("no samples without an error")
		}
		peak := 0.0
		for i, s := range tr.Online {
			if !(s.Value >= 0) || s.Value > m.Capacity*(1+1e-12) {
				t.Fatalf("sample %d value %v outside [0, capacity]", i, s.Value)
			}
			if i > 0 && !s.Time.After(tr.Online[i-1].Time) {
				t.Fatalf("sample %d not after the previous one", i)
			}
			peak = max(peak, s.Value)
		}
		if tr.Column == "value" && math.Abs(peak-m.PeakFraction*m.Capacity) > 1e-9 {
			t.Fatalf("value trace peak %v, want %v", peak, m.PeakFraction*m.Capacity)
		}
	})
}
