// Command bigboxctl is bigbox's operator CLI: status and explain read the
// agent's local API and say what the node lends and why.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/bigbox-dev/bigbox/internal/api"
	"github.com/bigbox-dev/bigbox/internal/ctl"
)

const usage = `usage: bigboxctl [--addr HOST:PORT] COMMAND

commands:
  status    what the node has, uses, lends and limits now
  explain   why the node lends what it lends, term by term
`

func main() {
	addr := flag.String("addr", "127.0.0.1:9560", "address of the agent's local API")
	timeout := flag.Duration("timeout", 5*time.Second, "how long to wait for the agent")
	flag.Usage = func() { fmt.Fprint(os.Stderr, usage); flag.PrintDefaults() }
	flag.Parse()
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
