package demo

import (
	"math"
	"testing"
	"time"
)

// phaseOf builds a phase result with n identical seconds and the given
// latencies.
func phaseOf(p Phase, n int, s Sample, latencies ...time.Duration) PhaseResult {
	r := PhaseResult{Phase: p}
	s.Phase = p
	for range n {
		r.Samples = append(r.Samples, s)
	}
	for _, l := range latencies {
		r.Latencies.Record(l)
		r.Requests++
	}
	return r
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	alone := phaseOf(PhaseAlone, 10, Sample{NodeCores: 0.5, OnlineCores: 0.4, QuotaCores: -1, MemoryLimitBytes: -1}, 1*ms, 2*ms, 4*ms)
	burners := phaseOf(PhaseBurners, 10, Sample{NodeCores: 2, OnlineCores: 0.4, OfflineCores: 1.5, OfflineMemoryBytes: 1 << 30, QuotaCores: -1, MemoryLimitBytes: -1}, 2*ms, 4*ms, 16*ms)
	burners.Errors = 1
	agent := phaseOf(PhaseAgent, 20, Sample{NodeCores: 1.3, OnlineCores: 0.4, OfflineCores: 0.8, OfflineMemoryBytes: 1 << 29, QuotaCores: 0.8, MemoryLimitBytes: 4 << 30, Agent: true, ReclaimableCores: 0.8, ReclaimableBytes: 4 << 30}, 1*ms, 2*ms, 5*ms)
	agent.AgentError = ""

	tests := []struct {
		name    string
		results []PhaseResult
		check   func(t *testing.T, s Summary)
	}{
		{
			name:    "all phases",
			results: []PhaseResult{alone, burners, agent},
			check: func(t *testing.T, s Summary) {
				if len(s.Phases) != 3 {
					t.Fatalf("got %d phases, want 3", len(s.Phases))
				}
				b := s.Phases[1]
				near(t, "burners node utilization", b.NodeUtilization, 1)
				near(t, "burners offline core-seconds", b.OfflineCoreSeconds, 15)
				near(t, "burners offline byte-seconds", b.OfflineByteSeconds, 10<<30)
				near(t, "burners p99", b.P99Millis, 16)
				if b.Errors != 1 || b.Requests != 3 {
					t.Errorf("burners requests/errors = %d/%d, want 3/1", b.Requests, b.Errors)
				}
				near(t, "alone p50", s.Phases[0].P50Millis, 2)
				near(t, "burners vs alone p99", *s.Compare.P99BurnersVsAloneRatio, 4)
				near(t, "agent vs alone p99", *s.Compare.P99AgentVsAloneRatio, 1.25)
				near(t, "agent vs burners p99", *s.Compare.P99AgentVsBurnersRatio, 5.0/16)
				near(t, "agent minus alone p99", *s.Compare.P99AgentMinusAloneMs, 1)
				near(t, "utilization gain", *s.Compare.UtilizationGainAgent, 0.4)
				near(t, "offline core-seconds gained", *s.Compare.OfflineCoreSecondsGained, 16)
				if s.Agent == nil {
					t.Fatal("Agent summary missing")
				}
				near(t, "mean quota", s.Agent.QuotaCores, 0.8)
				near(t, "mean reclaimable", s.Agent.ReclaimableCores, 0.8)
				if s.Agent.AnsweredSeconds != 20 || s.Agent.LimitedSeconds != 20 {
					t.Errorf("agent answered/limited = %d/%d s, want 20/20", s.Agent.AnsweredSeconds, s.Agent.LimitedSeconds)
				}
			},
		},
		{
			name:    "without agent phase",
			results: []PhaseResult{alone, burners},
			check: func(t *testing.T, s Summary) {
				if s.Agent != nil || s.Compare.P99AgentVsAloneRatio != nil || s.Compare.OfflineCoreSecondsGained != nil {
					t.Errorf("agent numbers present without an agent phase: %+v %+v", s.Agent, s.Compare)
				}
				if s.Compare.P99BurnersVsAloneRatio == nil {
					t.Error("burners vs alone missing")
				}
			},
		},
		{
			name:    "alone without requests gives no ratio",
			results: []PhaseResult{phaseOf(PhaseAlone, 3, Sample{}), burners},
			check: func(t *testing.T, s Summary) {
				if s.Compare.P99BurnersVsAloneRatio != nil {
					t.Errorf("ratio to an empty phase = %v, want none", *s.Compare.P99BurnersVsAloneRatio)
				}
			},
		},
		{
			name: "agent never answered",
			results: []PhaseResult{func() PhaseResult {
				r := phaseOf(PhaseAgent, 4, Sample{QuotaCores: -1, MemoryLimitBytes: -1})
				r.AgentError = "no binary"
				return r
			}()},
			check: func(t *testing.T, s Summary) {
				if s.Agent == nil || s.Agent.Error != "no binary" || s.Agent.AnsweredSeconds != 0 || s.Agent.LimitedSeconds != 0 {
					t.Errorf("Agent = %+v, want the error and nothing answered", s.Agent)
				}
			},
		},
		{
			name:    "nothing ran",
			results: nil,
			check: func(t *testing.T, s Summary) {
				if s.Phases == nil || len(s.Phases) != 0 {
					t.Errorf("Phases = %#v, want an empty list", s.Phases)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, Summarize(tc.results, 2))
		})
	}
}

// near accepts 2%: latencies come from histogram buckets up to 1/64 wide.
func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 0.02*max(1e-9, math.Abs(want)) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestPhaseLength(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		total  time.Duration
		phases int
		want   time.Duration
	}{
		{name: "default thirds", total: 120 * time.Second, phases: 3, want: 40 * time.Second},
		{name: "rounds down to seconds", total: 100 * time.Second, phases: 3, want: 33 * time.Second},
		{name: "at least a second", total: time.Second, phases: 3, want: time.Second},
		{name: "no phases", total: time.Minute, phases: 0, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := phaseLength(tc.total, tc.phases); got != tc.want {
				t.Errorf("phaseLength(%v, %d) = %v, want %v", tc.total, tc.phases, got, tc.want)
			}
		})
	}
}
