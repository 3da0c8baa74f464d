package ctl

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/internal/api"
	"github.com/bigbox-dev/bigbox/pkg/qos"
)

func sampleStatus() api.Status {
	return api.Status{
		Node: "n1", Time: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), Enabled: true, Phase: "open",
		ConfigVersion: "abc123", CgroupVersion: 1, CgroupDriver: "cgroupfs", BigBoxCgroup: "kubepods/besteffort",
		CPU: api.Resource{Breakdown: qos.Breakdown{Capacity: 2, WatermarkPct: 65, Online: 0.3, System: 0.2, Raw: 0.8, Lent: 0.5,
			Reasons: []string{"rise pending 3s of 10s"}}, Limit: 0.5, Offline: 0.45, Pressure: -1},
		Memory: api.Resource{Breakdown: qos.Breakdown{Capacity: 8 << 30, WatermarkPct: 70, Online: 1 << 30, System: 1 << 30, Raw: 3.6 * (1 << 30), Lent: 3.6 * (1 << 30)},
			Limit: 3.6 * (1 << 30), Pressure: 2.5},
		BigBox:      qos.BigBox{CPUQuotaMicros: 50000, CPUPeriodMicros: 100000, CPUWeight: 1, CPUs: []int{1}, MemoryLimitBytes: 3865470566, OOMScoreAdj: 1000},
		OfflinePods: []api.Pod{{ID: "u1", Cgroup: "kubepods/besteffort/podu1"}},
		Evictions:   []api.Eviction{{Time: time.Date(2026, 11, 25, 11, 59, 0, 0, time.UTC), Pod: "default/batch", Reason: "memory", Detail: "node memory 93.0% above the evict watermark 90%"}},
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		write func(*bytes.Buffer, api.Status) error
		st    func(api.Status) api.Status
		want  []string
	}{
		{
			name:  "status",
			write: func(b *bytes.Buffer, s api.Status) error { return WriteStatus(b, s) },
			want: []string{"node n1", "colocation enabled", "cpu            2.00       0.20       0.30         0.80       0.50       0.50       0.45",
				"big box cpuset 1, 1 offline pod(s)", "evicted default/batch at 11:59:00 (memory: node memory 93.0%"},
		},
		{
			name:  "status disabled with a rejected config",
			write: func(b *bytes.Buffer, s api.Status) error { return WriteStatus(b, s) },
			st: func(s api.Status) api.Status {
				s.Enabled, s.ConfigError = false, "cpu.reclaimWatermarkPercent: 120 is not within 0–100"
				return s
			},
			want: []string{"colocation disabled", "last update rejected: cpu.reclaimWatermarkPercent: 120"},
		},
		{
			name:  "explain",
			write: func(b *bytes.Buffer, s api.Status) error { return WriteExplain(b, s) },
			want: []string{"cpu: lending 0.50", "× reclaim watermark  65.0%                1.30", "= reclaimable                             0.80",
				"because rise pending 3s of 10s", "cpu quota     50000 µs per 100000 µs = 0.50", "cpuset        1 (whole physical cores",
				"memory: lending 3.60Gi", "online pressure stall (some, avg10) 2.5%", "oom_score_adj 1000"},
		},
		{
			name:  "explain in cooldown outside the windows",
			write: func(b *bytes.Buffer, s api.Status) error { return WriteExplain(b, s) },
			st: func(s api.Status) api.Status {
				s.Enabled, s.Phase, s.Cooldown = false, "closed", true
				s.CooldownUntil = s.Time.Add(10 * time.Minute)
				return s
			},
			want: []string{"outside every colocation time window", "eviction cooldown until 2026-11-25T12:10:00Z"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := sampleStatus()
			if tc.st != nil {
				st = tc.st(st)
			}
			var b bytes.Buffer
			if err := tc.write(&b, st); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}

func TestFetchStatus(t *testing.T) {
	t.Parallel()
	want := sampleStatus()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != api.StatusPath {
			http.NotFound(w, r)
			return
		}
		if err := json.NewEncoder(w).Encode(want); err != nil {
			t.Error(err)
		}
	}))
	t.Cleanup(srv.Close)
	got, err := FetchStatus(t.Context(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got.Node != want.Node || got.CPU.Lent != want.CPU.Lent || len(got.Evictions) != 1 {
		t.Errorf("FetchStatus = %+v", got)
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not ready: no sample yet", http.StatusServiceUnavailable)
	}))
	t.Cleanup(bad.Close)
	if _, err := FetchStatus(t.Context(), bad.Client(), strings.TrimPrefix(bad.URL, "http://")); err == nil || !strings.Contains(err.Error(), "not ready") {
		t.Errorf("FetchStatus from a not-ready agent: err = %v", err)
	}
}
