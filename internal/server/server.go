// Package server serves the agent's one HTTP listener: /metrics, /healthz,
// /readyz and the local JSON API (/v1/status).
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bigbox-dev/bigbox/internal/api"
)

// DefaultAddr is the listen address of PRODUCT.md.
const DefaultAddr = ":9560"

// statusSource gives the latest status snapshot; ok is false until the agent
// has one (then /readyz fails and /v1/status answers 503).
type statusSource interface {
	Status() (api.Status, bool)
}

// Server is the agent's HTTP endpoint.
type Server struct {
	listener net.Listener
	http     *http.Server
	logger   *slog.Logger
}

// New listens on addr at once, so a port conflict fails start-up rather than
// a goroutine later, and so ":0" callers can read Addr.
func New(addr string, gatherer prometheus.Gatherer, status statusSource, logger *slog.Logger) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n")) // a failed write means the client left
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if _, ok := status.Status(); !ok {
			http.Error(w, "not ready: no sample yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n")) // a failed write means the client left
	})
	mux.HandleFunc("GET "+api.StatusPath, func(w http.ResponseWriter, _ *http.Request) {
		st, ok := status.Status()
		if !ok {
			http.Error(w, "not ready: no sample yet", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			logger.Debug("write status", "err", err)
		}
	})
	return &Server{
		listener: l,
		logger:   logger,
		http: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			WriteTimeout:      30 * time.Second,
		},
	}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// Run serves until ctx is done, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.listener) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	err := s.http.Shutdown(shutdownCtx)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	if err != nil {
		return fmt.Errorf("shut down http server: %w", err)
	}
	return nil
}
