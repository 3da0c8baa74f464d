package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Recorder collects the outcome of every request of one phase: a histogram
// and error count since the last Take (the live view's second) and for the
// whole phase. It is safe for concurrent use.
type Recorder struct {
	mu          sync.Mutex
	cur, all    Histogram
	curErrors   uint64
	allErrors   uint64
	allRequests uint64
}

// OK records a request answered after latency.
func (r *Recorder) OK(latency time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cur.Record(latency)
	r.all.Record(latency)
	r.allRequests++
}

// Fail records a request that failed, timed out or was not sent because
// too many were in flight.
func (r *Recorder) Fail() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.curErrors++
	r.allErrors++
	r.allRequests++
}

// Take returns the latencies and the error count recorded since the last
// Take and starts a new interval.
func (r *Recorder) Take() (Histogram, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, errs := r.cur, r.curErrors
	r.cur, r.curErrors = Histogram{}, 0
	return h, errs
}

// Total returns the latencies of the whole phase, the number of requests
// (answered or failed) and the number of failures.
func (r *Recorder) Total() (h Histogram, requests, errs uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h.Merge(&r.all)
	return h, r.allRequests, r.allErrors
}

// LoadGen is an open-loop load generator: it sends requests at the rate a
// function of time gives, whether or not earlier ones were answered, so a
// slow service shows as latency rather than as a lower rate (a closed loop
// would hide it: coordinated omission).
type LoadGen struct {
	Clock clock.WithTicker
	// Request sends one request; ctx carries Timeout.
	Request func(ctx context.Context) error
	// Tick is how often requests due are sent; short enough that a tick
	// holds about one request at the peak rate, so arrivals do not come in
	// bursts the service would queue.
	Tick time.Duration
	// MaxInFlight caps concurrent requests; a request due while the cap is
	// reached is not sent and counts as an error.
	MaxInFlight int
	// Timeout of one request.
	Timeout time.Duration
}

// Run sends requests for d at rate(elapsed) requests per second, recording
// each outcome in rec, then waits for the requests in flight. Latency is
// measured from the send to the end of the response body. It returns
// ctx.Err() when ctx ends first.
func (g LoadGen) Run(ctx context.Context, d time.Duration, rate func(elapsed time.Duration) float64, rec *Recorder) error {
	if g.Tick <= 0 || g.MaxInFlight <= 0 {
		return fmt.Errorf("load: tick %v and max in flight %d must be positive", g.Tick, g.MaxInFlight)
	}
	sem := make(chan struct{}, g.MaxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	t := g.Clock.NewTicker(g.Tick)
	defer t.Stop()
	start := g.Clock.Now()
	var last time.Duration
	// due is the number of requests owed so far, from the trapezoid
	// integral of the rate; its fraction carries over to the next tick.
	due := 0.0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
		}
		elapsed := min(g.Clock.Since(start), d)
		due += (rate(last) + rate(elapsed)) / 2 * (elapsed - last).Seconds()
		last = elapsed
		for ; due >= 1; due-- {
			select {
			case sem <- struct{}{}:
			default:
				rec.Fail()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				sent := g.Clock.Now()
				rctx, cancel := context.WithTimeout(ctx, g.Timeout)
				err := g.Request(rctx)
				cancel()
				if err != nil {
					rec.Fail()
					return
				}
				rec.OK(g.Clock.Since(sent))
			}()
		}
		if elapsed >= d {
			return nil
		}
	}
}

// HTTPRequest returns a LoadGen.Request that GETs url with client, reads the
// whole body and fails on any status but 200.
func HTTPRequest(client *http.Client, url string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("build request: %w", err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("get %s: %w", url, err)
		}
		_, cerr := io.Copy(io.Discard, resp.Body)
		if err := resp.Body.Close(); err != nil && cerr == nil {
			cerr = err
		}
		if cerr != nil {
			return fmt.Errorf("read %s: %w", url, cerr)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("get %s: status %d", url, resp.StatusCode)
		}
		return nil
	}
}
