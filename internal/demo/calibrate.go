package demo

import (
	"fmt"
	"math"
	"time"

	"k8s.io/utils/clock"
)

// calibrationRounds: each measurement is the least of this many runs, as a
// busy machine only ever makes work look slower.
const calibrationRounds = 5

// calibrate finds how many Work iterations take about target of CPU here
// and what that many really cost.
func calibrate(clk clock.PassiveClock, target time.Duration) (iterations int, cost time.Duration, err error) {
	if target <= 0 {
		return 0, 0, fmt.Errorf("calibrate: target %v must be positive", target)
	}
	const probe = 50
	per := measureWork(clk, probe) / probe
	if per <= 0 {
		return 0, 0, fmt.Errorf("calibrate: %d rounds of work took no measurable time", probe)
	}
	iterations = max(int(math.Round(float64(target)/float64(per))), 1)
	// The short probe is the noisiest measurement: refine once from the
	// cost of the real request size.
	if cost = measureWork(clk, iterations); cost > 0 {
		iterations = max(int(math.Round(float64(iterations)*float64(target)/float64(cost))), 1)
	}
	return iterations, measureWork(clk, iterations), nil
}

// measureWork returns the least time Work(iterations) took in
// calibrationRounds runs.
func measureWork(clk clock.PassiveClock, iterations int) time.Duration {
	buf := make([]byte, workBufBytes)
	best := time.Duration(math.MaxInt64)
	for range calibrationRounds {
		start := clk.Now()
		Work(buf, iterations)
		best = min(best, clk.Since(start))
	}
	return best
}
