package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/pkg/deviceplugin"
)

// lender advertises what the agent lends through one device plugin per
// resource and tells the agent what running offline pods hold, read from
// the kubelet's PodResources API.
type lender struct {
	cpu, memory *deviceplugin.Plugin
	held        *deviceplugin.HeldSource
	clock       clock.WithTicker
	logger      *slog.Logger
	interval    time.Duration

	mu                       sync.Mutex
	heldCores, heldBytes     float64
	heldKnown                bool
	advertCores, advertBytes float64
}

func newLender(dir, podResourcesSocket string, units unitSizes, clk clock.WithTicker, logger *slog.Logger) (*lender, error) {
	logger = logger.With("component", "deviceplugin")
	cpuRes, memRes := deviceplugin.CPU(units.cpuMilli), deviceplugin.Memory(units.memoryBytes)
	cpu, err := deviceplugin.New(cpuRes, dir, logger)
	if err != nil {
		return nil, fmt.Errorf("device plugin %s: %w", cpuRes.Name, err)
	}
	mem, err := deviceplugin.New(memRes, dir, logger)
	if err != nil {
		return nil, fmt.Errorf("device plugin %s: %w", memRes.Name, err)
	}
	held, err := deviceplugin.NewHeldSource(podResourcesSocket, []string{cpuRes.Name, memRes.Name})
	if err != nil {
		return nil, err
	}
	return &lender{cpu: cpu, memory: mem, held: held, clock: clk, logger: logger, interval: time.Second}, nil
}

type unitSizes struct{ cpuMilli, memoryBytes int64 }

// Run serves both plugins and polls what is held until ctx is done.
func (l *lender) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return l.cpu.Run(gctx) })
	g.Go(func() error { return l.memory.Run(gctx) })
	g.Go(func() error {
		t := l.clock.NewTicker(l.interval)
		defer t.Stop()
		for {
			l.pollHeld(gctx)
			select {
			case <-gctx.Done():
				return nil
			case <-t.C():
			}
		}
	})
	return errors.Join(g.Wait(), l.held.Close())
}

// pollHeld reads the held devices. While the kubelet cannot be asked, the
// last known IDs stay listed: forgetting them could make a restarting
// kubelet reject the pods that hold them.
func (l *lender) pollHeld(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ids, err := l.held.Held(rctx)
	if err != nil {
		if ctx.Err() == nil {
			l.logger.Debug("read held devices", "err", err)
		}
		return
	}
	cpuIDs, memIDs := ids[l.cpu.Resource().Name], ids[l.memory.Resource().Name]
	l.cpu.SetHeld(cpuIDs)
	l.memory.SetHeld(memIDs)
	l.mu.Lock()
	l.heldCores = float64(l.cpu.Resource().Amount(int64(len(cpuIDs)))) / 1000
	l.heldBytes = float64(l.memory.Resource().Amount(int64(len(memIDs))))
	l.heldKnown = true
	l.mu.Unlock()
}

// Held implements the agent's lender: what running offline pods hold
// (cores, bytes).
func (l *lender) Held() (cores, bytes float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.heldCores, l.heldBytes
}

// Advertise implements the agent's lender: offer this much (cores, bytes),
// rounded down to whole devices (never more than can be lent; the plugin
// keeps every held device listed on top).
func (l *lender) Advertise(cores, bytes float64) {
	l.mu.Lock()
	l.advertCores, l.advertBytes = cores, bytes
	l.mu.Unlock()
	l.cpu.SetAmount(l.cpu.Resource().UnitsFloor(clampInt64(cores * 1000)))
	l.memory.SetAmount(l.memory.Resource().UnitsFloor(clampInt64(bytes)))
}

func clampInt64(v float64) int64 {
	switch {
	case math.IsNaN(v) || v <= 0:
		return 0
	case v >= math.MaxInt64:
		return math.MaxInt64
	}
	return int64(v)
}
