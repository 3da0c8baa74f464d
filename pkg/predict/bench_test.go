package predict_test

import (
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/pkg/predict"
)

// BenchmarkObservePredict measures one agent tick: feed a sample, predict.
func BenchmarkObservePredict(b *testing.B) {
	series := tidal(2)
	for _, name := range predict.Names() {
		b.Run(name, func(b *testing.B) {
			p := newPredictor(b, name, knobs(name)[1])
			// Warm up over a day so profiles and histograms are populated.
			for _, s := range series[:24*60] {
				p.Observe(s)
			}
			step := 24 * 60
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s := series[step+i%(24*60)]
				s.Time = s.Time.Add(time.Duration(i/(24*60)) * 24 * time.Hour)
				p.Observe(s)
				_ = p.Predict(s.Time)
			}
		})
	}
}

// BenchmarkEvaluate reports the simulator's speed in steps per second.
func BenchmarkEvaluate(b *testing.B) {
	series := tidal(2)
	for _, name := range []string{"default", "static"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				predict.Evaluate(newPredictor(b, name, knobs(name)[1]), series, 1, 0.65, time.Hour)
			}
			b.ReportMetric(float64(b.N*len(series))/b.Elapsed().Seconds(), "steps/s")
		})
	}
}
