package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
)

// Default listen addresses: the webhook's HTTPS port, and a plain HTTP port
// for Prometheus next to the agent's 9560.
const (
	DefaultListen        = ":9443"
	DefaultMetricsListen = ":9561"
)

// shutdownTimeout bounds the drain of in-flight reviews; the API server
// gives up on a review after the webhook's timeoutSeconds (5) anyway.
const shutdownTimeout = 5 * time.Second

// Config is what bigbox-webhook's flags set.
type Config struct {
	// Listen is the HTTPS address of /mutate, /healthz and /readyz.
	Listen string
	// MetricsListen is the plain HTTP address of /metrics, /healthz and
	// /readyz; empty serves /metrics on Listen instead.
	MetricsListen string
	// TLSCertFile and TLSKeyFile are the serving pair, reloaded when they
	// change on disk.
	TLSCertFile, TLSKeyFile string
	Options                 Options
}

// Server is the webhook's HTTPS listener and its metrics listener.
type Server struct {
	webhook, metrics         net.Listener
	webhookHTTP, metricsHTTP *http.Server
	logger                   *slog.Logger
}

// NewServer loads the certificate and listens at once, so a bad pair or a
// port conflict fails start-up, and ":0" callers can read the addresses.
func NewServer(cfg Config, logger *slog.Logger) (*Server, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("register go collector: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("register process collector: %w", err)
	}
	h, err := NewHandler(cfg.Options, reg, logger.With("component", "admission"))
	if err != nil {
		return nil, err
	}
	certs, err := NewCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile, reg, logger.With("component", "tls"))
	if err != nil {
		return nil, err
	}

	metricsHandler := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	})
	ok := func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n")) // a failed write means the client left
	}
	webhookMux := http.NewServeMux()
	webhookMux.Handle("/mutate", h)
	webhookMux.HandleFunc("GET /healthz", ok)
	// Ready once listening: the certificate loaded before the listener
	// opened, and a later bad file keeps the loaded pair in use.
	webhookMux.HandleFunc("GET /readyz", ok)

	s := &Server{logger: logger}
	// Handshake errors are mostly TCP probes and scanners closing early.
	errorLog := slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
	s.webhookHTTP = &http.Server{
		Handler:           webhookMux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		ErrorLog:          errorLog,
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: certs.GetCertificate,
		},
	}
	if cfg.MetricsListen == "" {
		webhookMux.Handle("GET /metrics", metricsHandler)
	} else {
		metricsMux := http.NewServeMux()
		metricsMux.Handle("GET /metrics", metricsHandler)
		metricsMux.HandleFunc("GET /healthz", ok)
		metricsMux.HandleFunc("GET /readyz", ok)
		s.metricsHTTP = &http.Server{
			Handler:           metricsMux,
			ReadHeaderTimeout: 5 * time.Second,
			WriteTimeout:      30 * time.Second,
			ErrorLog:          errorLog,
		}
	}

	if s.webhook, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	if s.metricsHTTP != nil {
		if s.metrics, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			return nil, errors.Join(fmt.Errorf("listen on %s: %w", cfg.MetricsListen, err), s.webhook.Close())
		}
	}
	return s, nil
}

// Addr is the address of the HTTPS listener.
func (s *Server) Addr() net.Addr { return s.webhook.Addr() }

// MetricsAddr is the address of the metrics listener, nil when /metrics is
// served on Addr.
func (s *Server) MetricsAddr() net.Addr {
	if s.metrics == nil {
		return nil
	}
	return s.metrics.Addr()
}

// Run serves until ctx is done, then lets in-flight reviews finish (at most
// shutdownTimeout) and returns. It returns early with an error if a listener
// fails.
func (s *Server) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	serve := func(name string, srv *http.Server, run func() error) {
		g.Go(func() error {
			errc := make(chan error, 1)
			go func() { errc <- run() }() // waited for below on every path
			select {
			case err := <-errc:
				return fmt.Errorf("serve %s: %w", name, err)
			case <-gctx.Done():
			}
			shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
			defer cancel()
			err := srv.Shutdown(shutdownCtx)
			if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) {
				err = errors.Join(err, serveErr)
			}
			if err != nil {
				return fmt.Errorf("shut down %s server: %w", name, err)
			}
			return nil
		})
	}
	s.logger.Info("serving", "listen", s.webhook.Addr().String(), "metrics_listen", addrString(s.MetricsAddr()))
	serve("webhook", s.webhookHTTP, func() error { return s.webhookHTTP.ServeTLS(s.webhook, "", "") })
	if s.metricsHTTP != nil {
		serve("metrics", s.metricsHTTP, func() error { return s.metricsHTTP.Serve(s.metrics) })
	}
	return g.Wait()
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
