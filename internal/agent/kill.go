package agent

import (
	"context"
	"errors"
	"fmt"
	"syscall"
)

// procLister lists the processes of a cgroup and its descendants.
type procLister interface {
	Procs(group string, recursive bool) ([]int, error)
}

// CgroupKiller evicts a pod without Kubernetes: it SIGKILLs every process in
// the pod's cgroup until none is left. The kubelet's own eviction kills
// containers the same way once the grace period is over; standalone there is
// no one to ask for a graceful stop.
type CgroupKiller struct {
	cg   procLister
	kill func(pid int) error
	// Rounds bounds how often the cgroup is listed again to catch processes
	// forked while the previous round was being killed.
	Rounds int
}

// NewCgroupKiller returns a killer over cg that sends SIGKILL.
func NewCgroupKiller(cg procLister) *CgroupKiller {
	return &CgroupKiller{
		cg:     cg,
		kill:   func(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) },
		Rounds: 10,
	}
}

// Evict kills every process in pod.Group.
func (k *CgroupKiller) Evict(ctx context.Context, pod OfflinePod, _, _ string) error {
	for range k.Rounds {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("kill pod %s: %w", pod.Group, err)
		}
		pids, err := k.cg.Procs(pod.Group, true)
		if err != nil {
			return fmt.Errorf("list processes of %s: %w", pod.Group, err)
		}
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			if err := k.kill(pid); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("kill pid %d of %s: %w", pid, pod.Group, err)
			}
		}
	}
	// Killed processes can stay listed until they are reaped; what is still
	// there is killed again on the next eviction round.
	return nil
}
