package demo

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"k8s.io/utils/clock"
)

func TestLoadGenRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		rate        func(time.Duration) float64
		d           time.Duration
		latency     time.Duration
		maxInFlight int
		fail        bool
		wantSent    int64
		wantOK      uint64
		wantErrors  uint64
		// slack is how far the counts may be off (a request ending on a
		// tick may or may not free its slot for that tick).
		slack int64
	}{
		{name: "constant rate", rate: func(time.Duration) float64 { return 100 }, d: 10 * time.Second, latency: time.Millisecond, maxInFlight: 8, wantSent: 1000, wantOK: 1000},
		{name: "ramp integrates", rate: func(e time.Duration) float64 { return 20 * e.Seconds() }, d: 10 * time.Second, latency: time.Millisecond, maxInFlight: 8, wantSent: 1000, wantOK: 1000},
		{name: "cap drops the excess", rate: func(time.Duration) float64 { return 100 }, d: time.Second, latency: 50 * time.Millisecond, maxInFlight: 2, wantSent: 36, wantOK: 36, wantErrors: 64, slack: 4},
		{name: "failures count", rate: func(time.Duration) float64 { return 10 }, d: time.Second, latency: time.Millisecond, maxInFlight: 8, fail: true, wantSent: 10, wantErrors: 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				slack := max(tc.slack, 1)
				var sent atomic.Int64
				g := LoadGen{
					Clock: clock.RealClock{},
					Request: func(ctx context.Context) error {
						sent.Add(1)
						select {
						case <-time.After(tc.latency): // bubble time; the service's answer
						case <-ctx.Done():
							return ctx.Err()
						}
						if tc.fail {
							return errors.New("boom")
						}
						return nil
					},
					Tick:        10 * time.Millisecond,
					MaxInFlight: tc.maxInFlight,
					Timeout:     time.Second,
				}
				var rec Recorder
				if err := g.Run(t.Context(), tc.d, tc.rate, &rec); err != nil {
					t.Fatalf("Run() error = %v", err)
				}
				h, requests, errs := rec.Total()
				within := func(what string, got, want int64) {
					if got < want-slack || got > want+slack {
						t.Errorf("%s = %d, want %d±%d", what, got, want, slack)
					}
				}
				within("sent", sent.Load(), tc.wantSent)
				within("answered", int64(h.Count()), int64(tc.wantOK))
				within("errors", int64(errs), int64(tc.wantErrors))
				if requests != h.Count()+errs {
					t.Errorf("requests %d != answered %d + errors %d", requests, h.Count(), errs)
				}
				if h.Count() > 0 && h.Quantile(0.99) != tc.latency {
					t.Errorf("p99 = %v, want the service's %v", h.Quantile(0.99), tc.latency)
				}
			})
		})
	}
}

func TestLoadGenStopsOnCancel(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		g := LoadGen{
			Clock: clock.RealClock{},
			Request: func(ctx context.Context) error {
				<-ctx.Done() // a service that never answers
				return ctx.Err()
			},
			Tick: 10 * time.Millisecond, MaxInFlight: 4, Timeout: time.Hour,
		}
		var rec Recorder
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx, time.Hour, func(time.Duration) float64 { return 100 }, &rec) }()
		time.Sleep(time.Second) // bubble time: let requests pile up
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run() error = %v, want context.Canceled", err)
		}
		if _, _, errs := rec.Total(); errs == 0 {
			t.Error("no errors recorded for cancelled and dropped requests")
		}
	})
}

func TestRecorderTake(t *testing.T) {
	t.Parallel()
	var r Recorder
	r.OK(time.Millisecond)
	r.Fail()
	h, errs := r.Take()
	if h.Count() != 1 || errs != 1 {
		t.Errorf("first Take() = %d answered, %d errors, want 1 and 1", h.Count(), errs)
	}
	r.OK(2 * time.Millisecond)
	h, errs = r.Take()
	if h.Count() != 1 || errs != 0 || h.Quantile(1) != 2*time.Millisecond {
		t.Errorf("second Take() = %d answered (max %v), %d errors, want only the new one", h.Count(), h.Quantile(1), errs)
	}
	all, requests, errs := r.Total()
	if all.Count() != 2 || requests != 3 || errs != 1 {
		t.Errorf("Total() = %d answered, %d requests, %d errors, want 2, 3, 1", all.Count(), requests, errs)
	}
}
