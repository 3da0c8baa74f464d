package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bigbox-dev/bigbox/internal/api"
)

type fakeStatus struct{ st atomic.Pointer[api.Status] }

func (f *fakeStatus) Status() (api.Status, bool) {
	p := f.st.Load()
	if p == nil {
		return api.Status{}, false
	}
	return *p, true
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func TestServer(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "bigbox_colocation_enabled", Help: "test"})
	g.Set(1)
	reg.MustRegister(g)
	src := &fakeStatus{}
	s, err := New("127.0.0.1:0", reg, src, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	base := "http://" + s.Addr().String()

	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", code)
	}
	if code, _ := get(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the first sample = %d, want 503", code)
	}
	if code, _ := get(t, base+api.StatusPath); code != http.StatusServiceUnavailable {
		t.Errorf("%s before the first sample = %d, want 503", api.StatusPath, code)
	}
	src.st.Store(&api.Status{Node: "n1", Enabled: true, CPU: api.Resource{Advertised: 1.5}})
	if code, _ := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d, want 200", code)
	}
	code, body := get(t, base+api.StatusPath)
	if code != http.StatusOK {
		t.Fatalf("%s = %d, want 200", api.StatusPath, code)
	}
	var got api.Status
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decode status: %v\n%s", err, body)
	}
	if got.Node != "n1" || !got.Enabled || got.CPU.Advertised != 1.5 {
		t.Errorf("status round trip = %+v", got)
	}
	code, body = get(t, base+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, "bigbox_colocation_enabled 1") {
		t.Errorf("/metrics = %d, body lacks the gauge:\n%s", code, body)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
}

func TestNewPortInUse(t *testing.T) {
	t.Parallel()
	s, err := New("127.0.0.1:0", prometheus.NewRegistry(), &fakeStatus{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.listener.Close() })
	if _, err := New(s.Addr().String(), prometheus.NewRegistry(), &fakeStatus{}, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("second listener on the same port: want an error")
	}
}
