package simulate

import (
	"context"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/pkg/predict"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// BenchmarkReplay measures one replay (predictor update, forecast,
// qos.Decide, scoring per step) in steps per second. pkg/predict's
// BenchmarkObservePredict measures the predictor update alone.
func BenchmarkReplay(b *testing.B) {
	series := randomSeries(1, 2*24*60)
	for _, res := range []qos.Resource{qos.CPU, qos.Memory} {
		n := Node{Resource: res, Policy: qos.DefaultPolicy(), Capacity: 1, Horizon: time.Hour}
		future := predict.FutureMax(series, n.Horizon)
		for _, name := range []string{"default", "static", Oracle} {
			b.Run(string(res)+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					p, err := newPredictor(name, DefaultKnob(name, n), n.Horizon, series, future)
					if err != nil {
						b.Fatal(err)
					}
					Replay(n, series, future, p, nil, nil)
				}
				b.ReportMetric(float64(b.N*len(series))/b.Elapsed().Seconds(), "steps/s")
			})
		}
	}
}

// BenchmarkSimulate measures a whole simulation (every predictor, its knob
// sweep, the summary) on one two-day trace, in steps per second over all
// workers.
func BenchmarkSimulate(b *testing.B) {
	opts := Options{
		Node:       Node{Resource: qos.CPU, Policy: qos.DefaultPolicy(), Capacity: 1, Horizon: time.Hour},
		Traces:     []Trace{{Name: "random", Column: "cpu_util", Step: time.Minute, Online: randomSeries(1, 2*24*60)}},
		Predictors: PredictorNames(),
	}
	var steps int64
	for b.Loop() {
		r, err := Run(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		steps += r.Steps
	}
	b.ReportMetric(float64(steps)/b.Elapsed().Seconds(), "steps/s")
}
