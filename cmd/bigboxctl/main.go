// Command bigboxctl is bigbox's operator CLI: status and explain read the
// agent's local API and say what the node lends and why; status --all-nodes
// lists every node's bigbox resources from the API server; disable and
// enable work the one-click switch in the NodeSLO; simulate replays usage
// traces through the predictors and the policy offline. Installed as
// kubectl-bigbox it is the kubectl plugin `kubectl bigbox`, with the same
// commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/internal/ctl"
	"github.com/bigbox-dev/bigbox/internal/simulate"
)

func main() {
	program := filepath.Base(os.Args[0])
	fs := flag.NewFlagSet(program, flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:9560", "address of the agent's local API")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the agent")
	fs.Usage = func() { fmt.Fprint(os.Stderr, ctl.Usage(program)); fs.PrintDefaults() }
	_ = fs.Parse(os.Args[1:]) // ExitOnError: Parse exits on an error
	if fs.NArg() == 0 {
		fs.Usage()
		os.Exit(2)
	}
	addrSet := false
	fs.Visit(func(f *flag.Flag) { addrSet = addrSet || f.Name == "addr" })
	if fs.Arg(0) == "simulate" {
		os.Exit(runSimulate(fs.Args()[1:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	env := ctl.Env{
		Stdout: os.Stdout, Stderr: os.Stderr, Clock: clock.RealClock{}, Getenv: os.Getenv, Program: program,
		Addr: *addr, AddrSet: addrSet, RequestTimeout: *timeout,
	}
	err := ctl.Run(ctx, fs.Arg(0), fs.Args()[1:], env)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintf(os.Stderr, "%s: %v\n", program, err)
		stop()
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
