package predict_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/pkg/predict"
)

var t0 = time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)

// tidal is a synthetic online service: low at night, a ramp at 08:00 to a
// plateau, and a short burst every 7 hours 13 minutes, one sample a minute.
func tidal(days int) []predict.Sample {
	var s []predict.Sample
	for i := 0; i < days*24*60; i++ {
		t := t0.Add(time.Duration(i) * time.Minute)
		h := float64(i%(24*60)) / 60
		v := 0.1
		if h >= 8 && h < 20 {
			v = 0.4
		}
		if i%433 < 3 {
			v += 0.15
		}
		v += 0.01 * float64(i%7) / 7
		s = append(s, predict.Sample{Time: t, Value: v})
	}
	return s
}

// knobs returns a mild and a tight knob for each predictor.
func knobs(name string) []float64 {
	if name == "decaying-histogram" {
		return []float64{0.5, 0.99}
	}
	return []float64{0, 0.05}
}

func newPredictor(t testing.TB, name string, knob float64) predict.Predictor {
	t.Helper()
	p, err := predict.New(name, knob, time.Hour)
	if err != nil {
		t.Fatalf("New(%q, %v) error = %v", name, knob, err)
	}
	return p
}

func TestNeverBelowLastValue(t *testing.T) {
	t.Parallel()
	series := tidal(3)
	for _, name := range predict.Names() {
		for _, k := range knobs(name) {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				p := newPredictor(t, name, k)
				if got := p.Predict(t0); !(got >= 0) || math.IsInf(got, 0) {
					t.Errorf("Predict before any sample = %v, want finite and ≥ 0", got)
				}
				for i, s := range series {
					p.Observe(s)
					if got := p.Predict(s.Time); got < s.Value || math.IsNaN(got) {
						t.Fatalf("sample %d: Predict = %v below the last value %v", i, got, s.Value)
					}
				}
			})
		}
	}
}

func TestIgnoresInvalidSamples(t *testing.T) {
	t.Parallel()
	series := tidal(1)[:600]
	bad := []predict.Sample{
		{Time: series[599].Time, Value: math.NaN()},
		{Time: series[599].Time, Value: math.Inf(1)},
		{Time: series[599].Time, Value: math.Inf(-1)},
		{Time: series[599].Time, Value: -1},
		{Time: series[0].Time, Value: 5}, // older than the newest sample
	}
	for _, name := range predict.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clean, dirty := newPredictor(t, name, knobs(name)[1]), newPredictor(t, name, knobs(name)[1])
			for _, s := range series {
				clean.Observe(s)
				dirty.Observe(s)
			}
			for _, s := range bad {
				dirty.Observe(s)
			}
			now := series[599].Time
			if a, b := clean.Predict(now), dirty.Predict(now); a != b {
				t.Errorf("after invalid samples Predict = %v, want %v", b, a)
			}
		})
	}
}

// TestReplayAndRestore checks that replay is deterministic and that a
// predictor restored from a saved state continues exactly like the original.
func TestReplayAndRestore(t *testing.T) {
	t.Parallel()
	series := tidal(3)
	half := len(series) / 2
	for _, name := range predict.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			k := knobs(name)[1]
			a, b := newPredictor(t, name, k), newPredictor(t, name, k)
			for _, s := range series[:half] {
				a.Observe(s)
				b.Observe(s)
			}
			state, err := json.Marshal(a)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			c := newPredictor(t, name, k)
			if err := json.Unmarshal(state, c); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			for i, s := range series[half:] {
				a.Observe(s)
				b.Observe(s)
				c.Observe(s)
				pa, pb, pc := a.Predict(s.Time), b.Predict(s.Time), c.Predict(s.Time)
				if pa != pb || pa != pc {
					t.Fatalf("step %d: predictions %v (original), %v (replay), %v (restored) differ", half+i, pa, pb, pc)
				}
			}
		})
	}
}

// TestBoundedState checks that the saved state stops growing: ten days of
// samples give no larger a state than two.
func TestBoundedState(t *testing.T) {
	t.Parallel()
	series := tidal(10)
	for _, name := range predict.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := newPredictor(t, name, knobs(name)[1])
			var size2d int
			for i, s := range series {
				p.Observe(s)
				if i == 2*24*60 {
					b, err := json.Marshal(p)
					if err != nil {
						t.Fatal(err)
					}
					size2d = len(b)
				}
			}
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			// Numbers may print longer; the structure must not grow.
			if len(b) > size2d*12/10+64 {
				t.Errorf("state grew from %d bytes after 2 days to %d after 10", size2d, len(b))
			}
		})
	}
}

func TestUnmarshalRejects(t *testing.T) {
	t.Parallel()
	series := tidal(1)
	tests := []struct {
		name  string
		from  func() predict.Predictor
		into  func() predict.Predictor
		state string // used instead of from when set
	}{
		{name: "seasonal slot count", from: func() predict.Predictor {
			return predict.NewSeasonal(predict.SeasonalConfig{Horizon: time.Hour, Slot: time.Minute})
		}, into: func() predict.Predictor { return predict.NewSeasonal(predict.SeasonalConfig{Horizon: time.Hour}) }},
		{name: "window-max window", from: func() predict.Predictor { return predict.NewWindowMax(time.Hour, 0) },
			into: func() predict.Predictor { return predict.NewWindowMax(2*time.Hour, 0) }},
		{name: "histogram half-life", from: func() predict.Predictor {
			return predict.NewDecayingHistogram(predict.DecayingHistogramConfig{Horizon: time.Hour, HalfLife: time.Hour})
		}, into: func() predict.Predictor {
			return predict.NewDecayingHistogram(predict.DecayingHistogramConfig{Horizon: time.Hour})
		}},
		{name: "default horizon", from: func() predict.Predictor { return predict.NewDefault(predict.DefaultConfig{Horizon: time.Hour}) },
			into: func() predict.Predictor { return predict.NewDefault(predict.DefaultConfig{Horizon: 2 * time.Hour}) }},
		{name: "not json", state: "{", into: func() predict.Predictor { return predict.NewStatic(0) }},
		{name: "negative histogram weight", state: `{"window":{"width_ns":300000000000,"ring":[{},{},{},{},{},{},{},{},{},{},{},{},{}]},"histogram":{"half_life_ns":86400000000000,"lo":3,"weight":[-1]}}`,
			into: func() predict.Predictor {
				return predict.NewDecayingHistogram(predict.DecayingHistogramConfig{Horizon: time.Hour})
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			state := []byte(tc.state)
			if tc.from != nil {
				p := tc.from()
				for _, s := range series {
					p.Observe(s)
				}
				var err error
				if state, err = json.Marshal(p); err != nil {
					t.Fatal(err)
				}
			}
			into := tc.into()
			before, _ := json.Marshal(into)
			if err := json.Unmarshal(state, into); err == nil {
				t.Fatal("Unmarshal() error = nil, want a mismatch error")
			}
			if after, _ := json.Marshal(into); string(after) != string(before) {
				t.Error("a failed Unmarshal changed the predictor")
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		knob    float64
		horizon time.Duration
		wantErr string
	}{
		{name: "default", knob: 0.05, horizon: time.Hour},
		{name: "decaying-histogram", knob: 0.99, horizon: time.Hour},
		{name: "static", knob: 0, horizon: time.Minute},
		{name: "oracle", knob: 0, horizon: time.Hour, wantErr: "unknown predictor"},
		{name: "nope", knob: 0, horizon: time.Hour, wantErr: "unknown predictor"},
		{name: "decaying-histogram", knob: 1.5, horizon: time.Hour, wantErr: "percentile"},
		{name: "decaying-histogram", knob: 0, horizon: time.Hour, wantErr: "percentile"},
		{name: "static", knob: -1, horizon: time.Hour, wantErr: "knob"},
		{name: "static", knob: math.NaN(), horizon: time.Hour, wantErr: "knob"},
		{name: "seasonal", knob: math.Inf(1), horizon: time.Hour, wantErr: "knob"},
		{name: "window-max", knob: 0, horizon: 0, wantErr: "horizon"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := predict.New(tc.name, tc.knob, tc.horizon)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || p == nil {
				t.Fatalf("New() = %v, %v", p, err)
			}
		})
	}
	for _, n := range predict.Names() {
		if _, err := predict.New(n, knobs(n)[1], time.Hour); err != nil {
			t.Errorf("New(%q) from Names() error = %v", n, err)
		}
	}
}

func TestFutureMax(t *testing.T) {
	t.Parallel()
	var s []predict.Sample
	for i, v := range []float64{1, 5, 2, 3, 0, 4, 1} {
		s = append(s, predict.Sample{Time: t0.Add(time.Duration(i) * time.Minute), Value: v})
	}
	// A gap: the last sample is 10 minutes after the one before.
	s = append(s, predict.Sample{Time: s[len(s)-1].Time.Add(10 * time.Minute), Value: 9})
	got := predict.FutureMax(s, 2*time.Minute)
	want := []float64{5, 3, 3, 4, 4, 1, 0, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("FutureMax = %v, want %v", got, want)
		}
	}
}

// TestOracleDominates checks, step by step, that wherever a predictor lent
// without a violation, the oracle lent at least as much, and that the
// oracle never violates.
func TestOracleDominates(t *testing.T) {
	t.Parallel()
	series := tidal(3)
	const horizon, limit = time.Hour, 0.65
	future := predict.FutureMax(series, horizon)
	oracle := predict.NewOracle(series, horizon)
	preds := map[string]predict.Predictor{}
	for _, n := range predict.Names() {
		preds[n] = newPredictor(t, n, knobs(n)[0])
	}
	for i, s := range series[:len(series)-60] {
		oracle.Observe(s)
		po := oracle.Predict(s.Time)
		if lent := limit - po; lent > 0 && future[i] > po {
			t.Fatalf("step %d: the oracle violated", i)
		}
		for n, p := range preds {
			p.Observe(s)
			pp := p.Predict(s.Time)
			if pp < limit && future[i] <= pp && pp < po {
				t.Fatalf("step %d: %s lent %v without violation, more than the oracle's %v", i, n, limit-pp, limit-po)
			}
		}
	}
	r := predict.Evaluate(predict.NewOracle(series, horizon), series, 1, limit, horizon)
	if r.ViolationRate != 0 {
		t.Errorf("oracle violation rate = %v, want 0", r.ViolationRate)
	}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	// Usage 0.2 with a spike to 0.5 at minute 30, one sample a minute for 3h.
	var s []predict.Sample
	for i := 0; i <= 180; i++ {
		v := 0.2
		if i == 30 {
			v = 0.5
		}
		s = append(s, predict.Sample{Time: t0.Add(time.Duration(i) * time.Minute), Value: v})
	}
	r := predict.Evaluate(predict.NewStatic(0.1), s, 2, 0.5, time.Hour)
	if r.Steps != 121 {
		t.Errorf("Steps = %d, want 121 (samples with a full hour after them)", r.Steps)
	}
	// Lent 1−0.3 = 0.7 of capacity 2 except at the spike (1−0.6 = 0.4).
	if want := (120*0.7 + 0.4) / 121 / 2; math.Abs(r.ReclaimedFraction-want) > 1e-12 {
		t.Errorf("ReclaimedFraction = %v, want %v", r.ReclaimedFraction, want)
	}
	// Steps 0..29 see the spike coming within the hour.
	if want := 30.0 / 121; math.Abs(r.ViolationRate-want) > 1e-12 {
		t.Errorf("ViolationRate = %v, want %v", r.ViolationRate, want)
	}
}

func TestReclaimedAt(t *testing.T) {
	t.Parallel()
	c := predict.Curve{Knobs: []float64{0, 1, 2, 3}, Results: []predict.Result{
		{ViolationRate: 0.10, ReclaimedFraction: 0.5},
		{ViolationRate: 0.02, ReclaimedFraction: 0.4},
		{ViolationRate: 0.03, ReclaimedFraction: 0.3}, // dominated
		{ViolationRate: 0.00, ReclaimedFraction: 0.2},
	}}
	tests := []struct {
		name   string
		target float64
		want   float64
	}{
		{name: "on a point", target: 0.02, want: 0.4},
		{name: "between points", target: 0.01, want: 0.3},
		{name: "past the dominated point", target: 0.06, want: 0.45},
		{name: "past the end", target: 0.5, want: 0.5},
		{name: "zero", target: 0, want: 0.2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := c.ReclaimedAt(tc.target); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("ReclaimedAt(%v) = %v, want %v", tc.target, got, tc.want)
			}
		})
	}
	// Only violating points: the curve starts at lending nothing.
	only := predict.Curve{Results: []predict.Result{{ViolationRate: 0.04, ReclaimedFraction: 0.4}}}
	if got := only.ReclaimedAt(0.01); math.Abs(got-0.1) > 1e-12 {
		t.Errorf("ReclaimedAt(0.01) = %v, want 0.1 (interpolated from (0, 0))", got)
	}
}

// TestSeasonalSeesTheRamp checks that after two days the seasonal predictor
// raises its prediction before the 08:00 ramp, which static cannot.
func TestSeasonalSeesTheRamp(t *testing.T) {
	t.Parallel()
	series := tidal(3)
	s := predict.NewSeasonal(predict.SeasonalConfig{Horizon: time.Hour})
	ramp := t0.Add(2*24*time.Hour + 7*time.Hour + 30*time.Minute) // day 3, 07:30
	for _, x := range series {
		if x.Time.After(ramp) {
			break
		}
		s.Observe(x)
	}
	if got := s.Predict(ramp); got < 0.4 {
		t.Errorf("Predict(07:30) = %v, want ≥ 0.4, the level from 08:00", got)
	}
	s0 := predict.NewSeasonal(predict.SeasonalConfig{Horizon: time.Hour})
	for _, x := range series[:7*60+30] {
		s0.Observe(x)
	}
	if got := s0.Predict(series[7*60+29].Time); got >= 0.4 {
		t.Errorf("without history Predict(07:30) = %v, want the recent level, below 0.4", got)
	}
}

func TestBurstGuardWidensAfterMiss(t *testing.T) {
	t.Parallel()
	p := predict.NewBurstGuard(predict.BurstGuardConfig{Horizon: time.Hour, Margin: 0.01})
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	for m := 0; m < 30; m++ {
		p.Observe(predict.Sample{Time: at(m), Value: 0.1})
	}
	if got := p.Predict(at(29)); math.Abs(got-0.11) > 1e-12 {
		t.Fatalf("steady Predict = %v, want 0.11", got)
	}
	p.Observe(predict.Sample{Time: at(30), Value: 0.5}) // a miss of 0.39
	for m := 31; m < 50; m++ {
		p.Observe(predict.Sample{Time: at(m), Value: 0.1})
	}
	// 20 minutes after the miss: the burst has left the 15-minute window,
	// the widening (0.39 + margin, halving every hour) has not.
	want := 0.1 + 0.01 + 0.40*math.Exp2(-20.0/60)
	if got := p.Predict(at(50)); math.Abs(got-want) > 1e-9 {
		t.Errorf("Predict 20m after a miss = %v, want %v", got, want)
	}
	if got := p.Predict(at(50 + 600)); got > 0.12 {
		t.Errorf("Predict 10h after a miss = %v, want back near 0.11", got)
	}
}

func TestDecayingHistogramFollowsShift(t *testing.T) {
	t.Parallel()
	p := predict.NewDecayingHistogram(predict.DecayingHistogramConfig{Horizon: time.Hour, HalfLife: time.Hour, Percentile: 0.9})
	m := 0
	feed := func(v float64, minutes int) {
		for end := m + minutes; m < end; m++ {
			p.Observe(predict.Sample{Time: t0.Add(time.Duration(m) * time.Minute), Value: v})
		}
	}
	feed(0.5, 600)
	if got := p.Predict(t0); got < 0.5 || got > 0.5*1.02 {
		t.Errorf("Predict after a steady 0.5 = %v, want 0.5 (+2%% bucket)", got)
	}
	feed(0.2, 600) // ten half-lives later the old level weighs ~0.1%
	if got := p.Predict(t0); got < 0.2 || got > 0.2*1.02 {
		t.Errorf("Predict after a shift to 0.2 = %v, want 0.2 (+2%% bucket)", got)
	}
}
