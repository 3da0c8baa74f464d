package demo

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"k8s.io/utils/clock"
)

// TestMain lets the test binary stand in for the demo binary: the
// end-to-end test re-executes it with ChildArg to run the online service
// and the burners, as hack/demo does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ChildArg {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := RunChild(ctx, os.Args[2:], os.Stdin, os.Stdout, clock.RealClock{}, slog.New(slog.NewTextHandler(os.Stderr, nil)))
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
