// Command bigbox-webhook is bigbox's mutating admission webhook: pods labelled
// bigbox.dev/colocation: "true" get their native cpu and memory requests and
// limits rewritten into bigbox.dev/cpu and bigbox.dev/memory, so they run
// BestEffort in the big box. See docs/webhook.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/bigbox-dev/bigbox/internal/webhook"
)

func main() {
	cfg := webhook.Config{Options: webhook.DefaultOptions()}
	var logLevel slog.Level
	flag.StringVar(&cfg.Listen, "listen", webhook.DefaultListen, "HTTPS address of /mutate, /healthz and /readyz")
	flag.StringVar(&cfg.MetricsListen, "metrics-listen", webhook.DefaultMetricsListen, "plain HTTP address of /metrics, /healthz and /readyz (empty: /metrics on --listen)")
	flag.StringVar(&cfg.TLSCertFile, "tls-cert-file", "", "serving certificate (PEM), reloaded when it changes")
	flag.StringVar(&cfg.TLSKeyFile, "tls-private-key-file", "", "serving private key (PEM), reloaded when it changes")
	flag.Int64Var(&cfg.Options.CPUUnitMillicores, "cpu-unit-millicores", cfg.Options.CPUUnitMillicores, "millicores of one bigbox.dev/cpu device (the NodeSLO's units.cpuMilli)")
	flag.Func("memory-unit-bytes", `size of one bigbox.dev/memory device, a quantity such as 64Mi (the NodeSLO's units.memoryBytes; default 64Mi)`, func(s string) error {
		q, err := resource.ParseQuantity(s)
		if err != nil {
			return err
		}
		b, ok := q.AsInt64()
		if !ok {
			return fmt.Errorf("%s is not a whole number of bytes", s)
		}
		cfg.Options.MemoryUnitBytes = b
		return nil
	})
	flag.Func("allow-namespace", "namespace whose labelled pods are converted (repeatable; none given: every namespace)", func(s string) error {
		if s == "" {
			return errors.New("empty namespace")
		}
		cfg.Options.AllowedNamespaces = append(cfg.Options.AllowedNamespaces, s)
		return nil
	})
	flag.Func("forbid-resource-prefix", `deny labelled pods asking for a resource with this name prefix, e.g. "nvidia.com/" (repeatable; default none)`, func(s string) error {
		if s == "" {
			return errors.New("empty prefix")
		}
		cfg.Options.ForbiddenResourcePrefixes = append(cfg.Options.ForbiddenResourcePrefixes, s)
		return nil
	})
	flag.TextVar(&logLevel, "log-level", slog.LevelInfo, "log level (debug, info, warn, error)")
	flag.Parse()

	if cfg.TLSCertFile == "" || cfg.TLSKeyFile == "" {
		fmt.Fprintln(os.Stderr, "bigbox-webhook: --tls-cert-file and --tls-private-key-file are required")
		os.Exit(2)
	}
	if err := cfg.Options.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "bigbox-webhook:", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv, err := webhook.NewServer(cfg, logger)
	if err != nil {
		logger.Error("start webhook", "err", err)
		os.Exit(1)
	}
	if err := srv.Run(ctx); err != nil {
		logger.Error("webhook stopped", "err", err)
		os.Exit(1)
	}
	logger.Info("webhook stopped")
}
