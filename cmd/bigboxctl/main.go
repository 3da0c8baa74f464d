// Command bigboxctl is bigbox's operator CLI: status and explain read the
// agent's local API and say what the node lends and why; simulate replays
// usage traces through the predictors and the policy offline.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/internal/api"
	"github.com/bigbox-dev/bigbox/internal/ctl"
	"github.com/bigbox-dev/bigbox/internal/simulate"
)

const usage = `usage: bigboxctl [--addr HOST:PORT] COMMAND

commands:
  status    what the node has, uses, lends and limits now
  explain   why the node lends what it lends, term by term
  simulate  replay usage traces through the policy offline (bigboxctl simulate -h)
`

func main() {
	addr := flag.String("addr", "127.0.0.1:9560", "address of the agent's local API")
	timeout := flag.Duration("timeout", 5*time.Second, "how long to wait for the agent")
	flag.Usage = func() { fmt.Fprint(os.Stderr, usage); flag.PrintDefaults() }
	flag.Parse()
	if flag.Arg(0) == "simulate" {
		os.Exit(runSimulate(flag.Args()[1:]))
	}
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, flag.Arg(0), *addr, *timeout, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bigboxctl:", err)
		os.Exit(1)
	}
}

// runSimulate runs `bigboxctl simulate` with its own flags and returns the
// exit code.
func runSimulate(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	fi, err := os.Stderr.Stat()
	terminal := err == nil && fi.Mode()&os.ModeCharDevice != 0
	err = simulate.Command(ctx, args, simulate.Env{Stdout: os.Stdout, Stderr: os.Stderr, Clock: clock.RealClock{}, Terminal: terminal})
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintln(os.Stderr, "bigboxctl:", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, cmd, addr string, timeout time.Duration, out io.Writer) error {
	write := map[string]func(io.Writer, api.Status) error{
		"status":  ctl.WriteStatus,
		"explain": ctl.WriteExplain,
	}[cmd]
	if write == nil {
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
	st, err := ctl.FetchStatus(ctx, &http.Client{Timeout: timeout}, addr)
	if err != nil {
		return err
	}
	return write(out, st)
}
