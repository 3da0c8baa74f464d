//go:build linux

// Command pause is the sandbox image of the integration test cluster
// (hack/kube-up.sh) and the container image of its test pods: no image can
// be pulled there, so it is built locally. Like the Kubernetes pause image
// it sleeps until SIGTERM or SIGINT and, as PID 1 of a pod, reaps children
// that are re-parented to it so that they do not stay zombies.
package main

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// PID 1 ignores signals it has no handler for, so both must be caught.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		reap()
	}
}

// reap waits for every exited child. Signals coalesce, so one SIGCHLD may
// stand for several children.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
	}
}
