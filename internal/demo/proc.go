package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
)

// proc is a process the demo started. Each runs in its own process group,
// so the terminal's Ctrl-C reaches only the demo, which then stops them in
// order; done closes once the process has been reaped.
type proc struct {
	name string
	cmd  *exec.Cmd
	// stdin is the write end of the child's stdin (nil for the agent):
	// closing it tells a demo child to stop, and it closes by itself when
	// the demo dies.
	stdin io.WriteCloser
	// stdout is the read end of the child's stdout, when asked for.
	stdout io.ReadCloser
	log    *os.File
	done   chan struct{}
	err    error // from Wait, set before done closes
}

// procSpec says how to start a process.
type procSpec struct {
	name string
	argv []string
	env  []string // added to the demo's environment
	// logPath receives stderr (and stdout unless pipeStdout).
	logPath    string
	pipeStdin  bool
	pipeStdout bool
	// deathSignal is sent to the process by the kernel when the demo dies
	// (PR_SET_PDEATHSIG): SIGKILL for children, SIGTERM for the agent so
	// it can restore the cgroups it changed.
	deathSignal syscall.Signal
}

// startProc starts a process and a goroutine that reaps it; the caller
// owns the proc and must stop it (stop waits for that goroutine).
func startProc(spec procSpec) (*proc, error) {
	if len(spec.argv) == 0 {
		return nil, fmt.Errorf("start %s: empty command", spec.name)
	}
	logFile, err := os.OpenFile(spec.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	cmd := exec.Command(spec.argv[0], spec.argv[1:]...)
	cmd.Env = append(os.Environ(), spec.env...)
	cmd.Stderr = logFile
	cmd.Stdout = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: spec.deathSignal}
	p := &proc{name: spec.name, cmd: cmd, log: logFile, done: make(chan struct{})}
	// Pipes are made by hand rather than with cmd.StdoutPipe, whose read end
	// Wait would close under a reader.
	var childEnds []*os.File
	closeAll := func() error {
		var errs []error
		for _, f := range childEnds {
			errs = append(errs, f.Close())
		}
		return errors.Join(errs...)
	}
	if spec.pipeStdin {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, errors.Join(fmt.Errorf("start %s: stdin pipe: %w", spec.name, err), logFile.Close())
		}
		cmd.Stdin, p.stdin = r, w
		childEnds = append(childEnds, r)
	}
	if spec.pipeStdout {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, errors.Join(fmt.Errorf("start %s: stdout pipe: %w", spec.name, err), closeAll(), p.closePipes(), logFile.Close())
		}
		cmd.Stdout, p.stdout = w, r
		childEnds = append(childEnds, w)
	}
	if err := cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start %s: %w", spec.name, err), closeAll(), p.closePipes(), logFile.Close())
	}
	// The child holds its own copies now; closing ours lets EOF through.
	if err := closeAll(); err != nil {
		return nil, errors.Join(fmt.Errorf("start %s: close child pipe ends: %w", spec.name, err), p.kill(), p.closePipes())
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// pid returns the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended and been reaped.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL to the process's group (the process and anything it
// started), unless it was already reaped (its pid may be reused then).
func (p *proc) kill() error {
	if p.exited() {
		return nil
	}
	if err := syscall.Kill(-p.pid(), syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s (pid %d): %w", p.name, p.pid(), err)
	}
	return nil
}

// stop asks the process to end (closing its stdin, or sending sig when
// not 0), waits until ctx is done, then kills its group and waits for it to
// be reaped. It returns an error only when the process could not be
// stopped; how it exited is in p.err. Calling it again is harmless. It is
// not safe for concurrent use.
func (p *proc) stop(ctx context.Context, sig syscall.Signal) error {
	var errs []error
	if p.stdin != nil {
		errs = append(errs, p.stdin.Close())
		p.stdin = nil
	}
	if sig != 0 && !p.exited() {
		if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, fmt.Errorf("signal %s: %w", p.name, err))
		}
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		errs = append(errs, p.kill())
		// SIGKILL cannot be caught; the reap follows at once.
		<-p.done
	}
	errs = append(errs, p.closePipes())
	if p.log != nil {
		errs = append(errs, p.log.Close())
		p.log = nil
	}
	return errors.Join(errs...)
}

// closePipes closes the demo's ends of the pipes.
func (p *proc) closePipes() error {
	var errs []error
	if p.stdin != nil {
		errs = append(errs, p.stdin.Close())
		p.stdin = nil
	}
	if p.stdout != nil {
		errs = append(errs, p.stdout.Close())
		p.stdout = nil
	}
	return errors.Join(errs...)
}
