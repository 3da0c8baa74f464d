package demo

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"k8s.io/utils/clock"
)

// ChildArg is the hidden first argument that makes the demo binary run as
// one of its own sub-processes (the online service or a burner), so the demo
// needs no tool but itself. main, and TestMain in tests, hand the rest of
// the arguments to RunChild.
const ChildArg = "__bigbox_demo_child"

// Child kinds.
const (
	childServe  = "serve"
	childCPU    = "cpu"
	childMemory = "memory"
)

// goLine is what the parent writes on a child's stdin once the child sits
// in its cgroup. The child waits for it, so nothing it allocates or burns is
// charged to the demo's own cgroup (v1 does not move charges by default).
const goLine = "go"

// addrPrefix starts the line on which the online service tells its address.
const addrPrefix = "addr "

// workBufBytes is the buffer the online service hashes per iteration.
const workBufBytes = 16 << 10

// WorkPath is the online service's only route.
const WorkPath = "/work"

// Work is the CPU work of one online request: iterations rounds of sha256
// over a buffer of workBufBytes. It returns the digest so the compiler
// cannot drop it.
func Work(buf []byte, iterations int) [sha256.Size]byte {
	sum := sha256.Sum256(buf)
	for range iterations - 1 {
		copy(buf, sum[:])
		sum = sha256.Sum256(buf)
	}
	return sum
}

// RunChild runs one sub-process of the demo: args[0] is the kind ("serve",
// "cpu" or "memory"), the rest its flags. It first waits for the parent's
// go line on stdin, then works until stdin closes (the parent stops or dies)
// or ctx is done. The online service writes "addr <host:port>" on stdout.
func RunChild(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer, clk clock.WithTicker, logger *slog.Logger) error {
	if len(args) == 0 {
		return errors.New("child: no kind given")
	}
	kind := args[0]
	fs := flag.NewFlagSet(kind, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the error says what is wrong; the parent logs it
	iterations := fs.Int("iterations", 100, "serve: sha256 rounds over 16 KiB per request")
	memBytes := fs.Int64("bytes", 512<<20, "memory: bytes to allocate and keep touching")
	touchEvery := fs.Duration("touch-every", time.Second, "memory: pause between passes over the memory")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("child %s: %w", kind, err)
	}

	in := bufio.NewReader(stdin)
	line, err := in.ReadString('\n')
	if err != nil {
		return fmt.Errorf("child %s: wait for go: %w", kind, err)
	}
	if strings.TrimSpace(line) != goLine {
		return fmt.Errorf("child %s: got %q on stdin, want %q", kind, line, goLine)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The reader below ends when stdin closes. It outlives RunChild only when
	// ctx ends first, and then the process exits right after: a blocked read
	// on a pipe cannot be interrupted.
	go func() {
		_, _ = io.Copy(io.Discard, in) // any error means the parent is gone: stop alike
		cancel()
	}()

	switch kind {
	case childServe:
		return serve(ctx, *iterations, stdout, logger)
	case childCPU:
		burnCPU(ctx)
		return nil
	case childMemory:
		return burnMemory(ctx, *memBytes, *touchEvery, clk)
	default:
		return fmt.Errorf("child: unknown kind %q", kind)
	}
}

// workHandler answers each request after iterations rounds of Work.
func workHandler(iterations int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, workBufBytes)
		sum := Work(buf, iterations)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%x\n", sum[:4])
	})
}

// serve runs the online service on a free loopback port until ctx is done.
func serve(ctx context.Context, iterations int, stdout io.Writer, logger *slog.Logger) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("serve: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(WorkPath, workHandler(iterations))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if _, err := fmt.Fprintf(stdout, "%s%s\n", addrPrefix, ln.Addr()); err != nil {
		return errors.Join(fmt.Errorf("serve: announce address: %w", err), ln.Close())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Debug("online service stopping")
	// The parent is gone or stopping us; drop open connections at once.
	err = srv.Close()
	<-errc
	if err != nil {
		return fmt.Errorf("serve: close: %w", err)
	}
	return nil
}

// burnCPU spins one goroutine until ctx is done, looking at ctx only every
// few million rounds so the loop is nearly pure CPU. It returns the state
// of its generator so the loop computes something.
func burnCPU(ctx context.Context) uint64 {
	var x uint64 = 1
	for {
		for range 1 << 20 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		select {
		case <-ctx.Done():
			return x
		default:
		}
	}
}

// pageBytes is the stride of the memory burner's writes: one byte per page
// makes the kernel back (and keep charged) every page.
const pageBytes = 4096

// burnMemory allocates memBytes and writes one byte of every page, then
// does it again every touchEvery, so the pages stay in the working set.
func burnMemory(ctx context.Context, memBytes int64, touchEvery time.Duration, clk clock.WithTicker) error {
	if memBytes <= 0 {
		return fmt.Errorf("memory burner: %d bytes, want more than 0", memBytes)
	}
	buf := make([]byte, memBytes)
	touch := func(v byte) {
		for i := 0; i < len(buf); i += pageBytes {
			buf[i] = v
		}
	}
	touch(1)
	t := clk.NewTicker(touchEvery)
	defer t.Stop()
	for v := byte(2); ; v++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
			touch(v)
		}
	}
}
