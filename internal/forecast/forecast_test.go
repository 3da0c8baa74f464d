package forecast

import (
	"bytes"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/internal/config"
	"github.com/bigbox-dev/bigbox/pkg/predict"
)

// t0 is an arbitrary start, not on a slot boundary.
var t0 = time.Date(2026, 3, 2, 9, 17, 23, 0, time.UTC)

func spec(name string, knob float64) config.PredictorSpec {
	return config.PredictorSpec{Name: name, Knob: knob, Horizon: time.Hour}
}

// specs are every predictor the NodeSLO can name but "none", each at its
// default knob.
func specs() []config.PredictorSpec {
	var out []config.PredictorSpec
	for _, n := range predict.Names() {
		k := predict.DefaultMarginFraction
		if n == "decaying-histogram" {
			k = predict.DefaultPercentile
		}
		out = append(out, spec(n, k))
	}
	return out
}

// load is a made-up online load of a 16-core node at second i: a daily-ish
// wave, a square burst every 17 minutes, and a little jitter.
func load(i int) float64 {
	v := 6 + 3*math.Sin(float64(i)/900) + float64(i%7)*0.1
	if (i/60)%17 == 0 {
		v += 4
	}
	return v
}

func newForecaster(t testing.TB, s config.PredictorSpec, capacity float64) *Forecaster {
	t.Helper()
	f, err := New(s, capacity)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPredictAtLeastLastObserved(t *testing.T) {
	t.Parallel()
	const capacity = 16.0
	for _, s := range specs() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			f := newForecaster(t, s, capacity)
			// Margin predictors add the margin to at least the last value.
			floor := s.Knob * capacity
			if s.PercentileKnob() {
				floor = 0
			}
			for i := range 4 * 3600 {
				now := t0.Add(time.Duration(i) * time.Second)
				v := load(i)
				f.Observe(now, v)
				// The memory loop predicts at the sample's time, the CPU loop
				// up to a second later.
				for _, at := range []time.Duration{0, 500 * time.Millisecond, 950 * time.Millisecond} {
					if got := f.Predict(now.Add(at)); got < v+floor-1e-9 || math.IsNaN(got) {
						t.Fatalf("second %d: Predict(+%v) = %v, below last %v + margin %v", i, at, got, v, floor)
					}
				}
			}
		})
	}
}

func TestNone(t *testing.T) {
	t.Parallel()
	f := newForecaster(t, spec(config.PredictorNone, 0), 16)
	for i := range 100 {
		if f.Observe(t0.Add(time.Duration(i)*time.Second), 12) {
			t.Fatal("none dropped a state")
		}
	}
	if got := f.Predict(t0.Add(100 * time.Second)); got != 0 {
		t.Errorf("Predict = %v, want 0", got)
	}
	b, err := f.MarshalState()
	if err != nil || string(b) != "{}" {
		t.Errorf("MarshalState = %s, %v; want {}", b, err)
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		spec     config.PredictorSpec
		capacity float64
		want     string
	}{
		{"unknown name", spec("crystal-ball", 0.05), 1, `"crystal-ball" is not a predictor`},
		{"NaN capacity", spec("default", 0.05), math.NaN(), "capacity NaN"},
		{"negative capacity", spec("default", 0.05), -1, "capacity -1"},
		{"infinite capacity", spec("static", 0.05), math.Inf(1), "capacity +Inf"},
		{"margin above 1", spec("seasonal", 1.5), 1, "knob: 1.5 is not within 0–1"},
		{"percentile 0", spec("decaying-histogram", 0), 1, "0 is not a percentile"},
		{"zero horizon", config.PredictorSpec{Name: "default", Knob: 0.05}, 1, "horizon: 0s is not within"},
		{"horizon beyond 7 days", config.PredictorSpec{Name: "default", Knob: 0.05, Horizon: 8 * 24 * time.Hour}, 1, "horizon: 192h0m0s is not within"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.spec, tt.capacity)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// feed observes seconds [from, to) of load.
func feed(f *Forecaster, from, to int) {
	for i := from; i < to; i++ {
		f.Observe(t0.Add(time.Duration(i)*time.Second), load(i))
	}
}

func TestStateRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range append(specs(), spec(config.PredictorNone, 0)) {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			a := newForecaster(t, s, 16)
			feed(a, 0, 3*3600)
			b, err := a.MarshalState()
			if err != nil {
				t.Fatal(err)
			}
			r := newForecaster(t, s, 16)
			if err := r.RestoreState(b); err != nil {
				t.Fatal(err)
			}
			// After a restart of 90 s, both see the same samples and must
			// predict the same at every step.
			for i := 3*3600 + 90; i < 4*3600; i++ {
				now := t0.Add(time.Duration(i) * time.Second)
				a.Observe(now, load(i))
				r.Observe(now, load(i))
				if pa, pr := a.Predict(now), r.Predict(now); pa != pr {
					t.Fatalf("second %d: restored predicts %v, original %v", i, pr, pa)
				}
			}
			again, err := r.MarshalState()
			if err != nil {
				t.Fatal(err)
			}
			orig, err := a.MarshalState()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, orig) {
				t.Error("states differ after the same samples")
			}
		})
	}
}

func TestRestoreStateRejects(t *testing.T) {
	t.Parallel()
	seasonal := newForecaster(t, spec("seasonal", 0.05), 16)
	feed(seasonal, 0, 600)
	seasonalState, err := seasonal.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		spec  config.PredictorSpec
		state string
	}{
		{"not JSON", spec("default", 0.05), "{"},
		{"another predictor's state", spec("burst-guard", 0.05), string(seasonalState)},
		{"another horizon", config.PredictorSpec{Name: "seasonal", Knob: 0.05, Horizon: 2 * time.Hour}, string(seasonalState)},
		{"no newest time", spec("static", 0.05), `{"predictor":{"time":"2026-03-02T09:17:23Z","value":1,"has":true}}`},
		{"negative value", spec("static", 0.05), `{"newest":"2026-03-02T09:17:23Z","predictor":{"time":"2026-03-02T09:17:23Z","value":-1,"has":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newForecaster(t, tt.spec, 16)
			f.Observe(t0, 3)
			before := f.Predict(t0)
			if err := f.RestoreState([]byte(tt.state)); err == nil {
				t.Fatal("RestoreState accepted it")
			}
			if got := f.Predict(t0); got != before {
				t.Errorf("a refused state changed the forecast: %v, was %v", got, before)
			}
		})
	}
}

func TestConfigure(t *testing.T) {
	t.Parallel()
	const capacity = 16.0
	now := t0.Add(2 * time.Hour)
	learnt := func(t *testing.T, s config.PredictorSpec) *Forecaster {
		f := newForecaster(t, s, capacity)
		feed(f, 0, 2*3600)
		return f
	}
	tests := []struct {
		name        string
		from, to    config.PredictorSpec
		capacity    float64
		wantDropped bool
		// want checks the forecast after the change, given the forecast
		// before it.
		want func(t *testing.T, before, after float64)
	}{
		{"same spec", spec("default", 0.05), spec("default", 0.05), capacity, false,
			func(t *testing.T, before, after float64) {
				if after != before {
					t.Errorf("forecast %v, was %v", after, before)
				}
			}},
		{"new knob keeps the state", spec("static", 0.05), spec("static", 0.10), capacity, false,
			func(t *testing.T, before, after float64) {
				if d := after - before; math.Abs(d-0.05*capacity) > 1e-9 {
					t.Errorf("forecast rose by %v, want the margin's rise %v", d, 0.05*capacity)
				}
			}},
		{"new capacity keeps the state", spec("window-max", 0.05), spec("window-max", 0.05), 2 * capacity, false,
			func(t *testing.T, before, after float64) {
				if d := after - before; math.Abs(d-0.05*capacity) > 1e-9 {
					t.Errorf("forecast rose by %v, want %v", d, 0.05*capacity)
				}
			}},
		{"new percentile keeps the state", spec("decaying-histogram", 0.99), spec("decaying-histogram", 0.5), capacity, false,
			func(t *testing.T, before, after float64) {
				if after > before || after < load(2*3600-1) {
					t.Errorf("forecast %v, was %v", after, before)
				}
			}},
		{"new name drops the state", spec("default", 0.05), spec("seasonal", 0.05), capacity, true,
			func(t *testing.T, _, after float64) {
				if after != 0.05*capacity {
					t.Errorf("fresh forecast %v, want the margin %v", after, 0.05*capacity)
				}
			}},
		{"new horizon drops the state", spec("burst-guard", 0.05),
			config.PredictorSpec{Name: "burst-guard", Knob: 0.05, Horizon: 2 * time.Hour}, capacity, true,
			func(t *testing.T, _, after float64) {
				if after != 0.05*capacity {
					t.Errorf("fresh forecast %v, want the margin %v", after, 0.05*capacity)
				}
			}},
		{"to none drops the state", spec("default", 0.05), spec(config.PredictorNone, 0), capacity, true,
			func(t *testing.T, _, after float64) {
				if after != 0 {
					t.Errorf("forecast %v, want 0", after)
				}
			}},
		{"from none drops nothing", spec(config.PredictorNone, 0), spec("static", 0.05), capacity, false,
			func(t *testing.T, _, after float64) {
				if after != 0.05*capacity {
					t.Errorf("fresh forecast %v, want the margin", after)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := learnt(t, tt.from)
			before := f.Predict(now)
			dropped, err := f.Configure(tt.to, tt.capacity)
			if err != nil {
				t.Fatal(err)
			}
			if dropped != tt.wantDropped {
				t.Errorf("dropped = %v, want %v", dropped, tt.wantDropped)
			}
			if f.Spec() != tt.to || f.Capacity() != tt.capacity {
				t.Errorf("in force: %+v on %v", f.Spec(), f.Capacity())
			}
			tt.want(t, before, f.Predict(now))
		})
	}
}

func TestConfigureErrorKeepsState(t *testing.T) {
	t.Parallel()
	f := newForecaster(t, spec("default", 0.05), 16)
	feed(f, 0, 600)
	now := t0.Add(600 * time.Second)
	before := f.Predict(now)
	for _, c := range []struct {
		spec     config.PredictorSpec
		capacity float64
	}{{spec("nope", 0.05), 16}, {spec("default", 0.05), math.NaN()}, {spec("default", 2), 16}} {
		if _, err := f.Configure(c.spec, c.capacity); err == nil {
			t.Errorf("Configure(%+v, %v) succeeded", c.spec, c.capacity)
		}
	}
	if f.Spec() != spec("default", 0.05) || f.Predict(now) != before {
		t.Errorf("a refused Configure changed the forecaster: %+v, %v (was %v)", f.Spec(), f.Predict(now), before)
	}
}

func TestClockStepBack(t *testing.T) {
	t.Parallel()
	const capacity = 16.0
	tests := []struct {
		name        string
		back        time.Duration
		wantDropped bool
		want        float64 // forecast at the stepped-back time
	}{
		// Within MaxClockStepBack the old sample is ignored: the forecast
		// still holds the peak of 10.
		{"small step is ignored", 30 * time.Second, false, 10 + 0.05*capacity},
		// Beyond it the forecaster starts again from the new sample.
		{"large step starts afresh", 5 * time.Minute, true, 2 + 0.05*capacity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newForecaster(t, spec("static", 0.05), capacity)
			f.Observe(t0, 10)
			at := t0.Add(-tt.back)
			if got := f.Observe(at, 2); got != tt.wantDropped {
				t.Errorf("dropped = %v, want %v", got, tt.wantDropped)
			}
			if got := f.Predict(at); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("Predict = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestConcurrent runs the agent's two loops and a saver at once; run with
// -race.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	f := newForecaster(t, spec("default", 0.05), 16)
	const seconds = 2000
	var wg sync.WaitGroup
	wg.Go(func() { // the memory loop
		for i := range seconds {
			f.Observe(t0.Add(time.Duration(i)*time.Second), load(i))
			_ = f.Predict(t0.Add(time.Duration(i) * time.Second)) // the value is checked below; here the access is what counts
			if i%500 == 0 {
				if _, err := f.Configure(spec("default", 0.05+float64(i)/1e5), 16); err != nil {
					t.Error(err)
				}
			}
		}
	})
	wg.Go(func() { // the CPU loop
		for i := range 20 * seconds {
			if p := f.Predict(t0.Add(time.Duration(i) * 50 * time.Millisecond)); p < 0 || math.IsNaN(p) {
				t.Errorf("Predict = %v", p)
			}
		}
	})
	wg.Go(func() { // the saver
		for range 20 {
			if _, err := f.MarshalState(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	end := t0.Add(seconds * time.Second)
	if got := f.Predict(end); got < load(seconds-1) {
		t.Errorf("final forecast %v below the last sample %v", got, load(seconds-1))
	}
}

func BenchmarkAgentSecond(b *testing.B) {
	// One second of the agent: one Observe (memory loop) and 21 Predict
	// (the memory loop once, the 50 ms CPU loop 20 times).
	for _, s := range append(specs(), config.PredictorSpec{Name: "default", Knob: 0.05, Horizon: 7 * 24 * time.Hour}) {
		name := s.Name
		if s.Horizon != time.Hour {
			name += "-7d"
		}
		b.Run(name, func(b *testing.B) {
			f := newForecaster(b, s, 16)
			feed(f, 0, 3*3600)
			i := 3 * 3600
			for b.Loop() {
				now := t0.Add(time.Duration(i) * time.Second)
				f.Observe(now, load(i))
				for k := range 21 {
					_ = f.Predict(now.Add(time.Duration(k) * 50 * time.Millisecond)) // cost only
				}
				i++
			}
		})
	}
}

// TestLongGap restarts after three days down: what the windows held has
// expired, so the predictors looking back only forecast from the new
// samples; the others remember the profile, never below the new samples.
func TestLongGap(t *testing.T) {
	t.Parallel()
	const capacity = 16.0
	for _, s := range specs() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			f := newForecaster(t, s, capacity)
			feed(f, 0, 3*3600)
			b, err := f.MarshalState()
			if err != nil {
				t.Fatal(err)
			}
			r := newForecaster(t, s, capacity)
			if err := r.RestoreState(b); err != nil {
				t.Fatal(err)
			}
			start := t0.Add(3*24*time.Hour + 3*3600*time.Second)
			var now time.Time
			for i := range 600 {
				now = start.Add(time.Duration(i) * time.Second)
				if r.Observe(now, 1) {
					t.Fatal("state dropped after a gap forward")
				}
			}
			got := r.Predict(now)
			floor := 1 + s.Knob*capacity
			if s.PercentileKnob() {
				floor = 1
			}
			if got < floor-1e-9 {
				t.Errorf("forecast %v below the new samples plus margin %v", got, floor)
			}
			switch s.Name {
			case "static", "window-max", "burst-guard":
				if got > floor+0.01 {
					t.Errorf("forecast %v still holds the old peaks; want %v", got, floor)
				}
			}
		})
	}
}
