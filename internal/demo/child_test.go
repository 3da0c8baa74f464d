package demo

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"k8s.io/utils/clock"
)

// startChildInProcess runs RunChild in a goroutine with pipes for stdin and
// stdout; closing the returned writer stops it, and the channel gives its
// error.
func startChildInProcess(t *testing.T, args ...string) (stdin io.WriteCloser, stdout *bufio.Reader, done <-chan error) {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := RunChild(t.Context(), args, inR, outW, clock.RealClock{}, slog.New(slog.DiscardHandler))
		outW.CloseWithError(io.EOF)
		errc <- err
	}()
	return inW, bufio.NewReader(outR), errc
}

func TestRunChildServe(t *testing.T) {
	t.Parallel()
	stdin, stdout, done := startChildInProcess(t, childServe, "-iterations", "3")
	if _, err := io.WriteString(stdin, goLine+"\n"); err != nil {
		t.Fatal(err)
	}
	line, err := stdout.ReadString('\n')
	if err != nil {
		t.Fatalf("read address: %v", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), addrPrefix)
	if !ok {
		t.Fatalf("first line %q does not give the address", line)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	do := HTTPRequest(client, "http://"+addr+WorkPath)
	for range 3 {
		if err := do(t.Context()); err != nil {
			t.Fatalf("request: %v", err)
		}
	}
	if err := HTTPRequest(client, "http://"+addr+"/nothing")(t.Context()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("request to an unknown path: %v, want a 404 error", err)
	}
	if err := stdin.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("RunChild() after stdin closed = %v, want nil", err)
	}
}

func TestRunChildBurnersStopOnEOF(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{name: "cpu", args: []string{childCPU}},
		{name: "memory", args: []string{childMemory, "-bytes", "1048576", "-touch-every", "10ms"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stdin, _, done := startChildInProcess(t, tc.args...)
			if _, err := io.WriteString(stdin, goLine+"\n"); err != nil {
				t.Fatal(err)
			}
			if err := stdin.Close(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Errorf("RunChild() = %v, want nil once stdin closed", err)
			}
		})
	}
}

// TestBurnMemoryTouches checks the memory burner keeps touching its pages
// on its ticker, in bubble time.
func TestBurnMemoryTouches(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- burnMemory(ctx, 64<<10, time.Second, clock.RealClock{}) }()
		time.Sleep(3500 * time.Millisecond) // bubble time: three passes
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("burnMemory() = %v", err)
		}
	})
}

func TestRunChildErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		stdin   string
		wantErr string
	}{
		{name: "no kind", args: nil, stdin: "go\n", wantErr: "no kind"},
		{name: "unknown kind", args: []string{"fly"}, stdin: "go\n", wantErr: "unknown kind"},
		{name: "bad flag", args: []string{childCPU, "-nope"}, stdin: "go\n", wantErr: "flag provided but not defined"},
		{name: "wrong go line", args: []string{childCPU}, stdin: "start\n", wantErr: "want \"go\""},
		{name: "parent gone before go", args: []string{childCPU}, stdin: "", wantErr: "wait for go"},
		{name: "zero memory", args: []string{childMemory, "-bytes", "0"}, stdin: "go\n", wantErr: "want more than 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := RunChild(t.Context(), tc.args, strings.NewReader(tc.stdin), io.Discard, clock.RealClock{}, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("RunChild() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestWorkDeterministic(t *testing.T) {
	t.Parallel()
	a := Work(make([]byte, workBufBytes), 5)
	b := Work(make([]byte, workBufBytes), 5)
	c := Work(make([]byte, workBufBytes), 6)
	if a != b {
		t.Error("Work is not deterministic")
	}
	if a == c {
		t.Error("Work with more iterations gave the same digest")
	}
}

func BenchmarkWork(b *testing.B) {
	buf := make([]byte, workBufBytes)
	for b.Loop() {
		Work(buf, 1)
	}
}
