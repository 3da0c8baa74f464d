package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/pkg/cgroup"
)

// treeCgroups makes and removes groups and places processes.
type treeCgroups interface {
	Create(group string) error
	Remove(group string) error
	AddProc(group string, pid int) error
}

// procLister lists the processes in a group.
type procLister interface {
	Procs(group string, recursive bool) ([]int, error)
}

// podTree is the demo's kubelet-shaped tree, all under one uniquely named
// parent so the machine's own kubepods (if any) is never touched:
//
//	bigbox-demo-<hex>/kubepods/burstable/pod<uid>   the online service
//	bigbox-demo-<hex>/kubepods/besteffort/pod<uid>  the CPU burners
//	bigbox-demo-<hex>/kubepods/besteffort/pod<uid>  the memory burner
type podTree struct {
	Parent string
	Layout cgroup.Layout
	Online string
	CPU    string
	Memory string
}

// newPodTree names a fresh tree; nothing is created yet.
func newPodTree() (podTree, error) {
	id, err := randomHex(4)
	if err != nil {
		return podTree{}, err
	}
	parent := "bigbox-demo-" + id
	t := podTree{Parent: parent, Layout: cgroup.NewLayout(parent + "/kubepods")}
	for _, pod := range []struct {
		qos string
		dst *string
	}{{"burstable", &t.Online}, {"besteffort", &t.CPU}, {"besteffort", &t.Memory}} {
		uid, err := newUID()
		if err != nil {
			return podTree{}, err
		}
		*pod.dst = t.Layout.PodGroup(pod.qos, uid)
	}
	return t, nil
}

// groups lists every group of the tree, parents first.
func (t podTree) groups() []string {
	return []string{t.Parent, t.Layout.Kubepods, t.Layout.Burstable, t.Layout.Besteffort, t.Online, t.CPU, t.Memory}
}

// create makes every group of the tree.
func (t podTree) create(cg treeCgroups) error {
	for _, g := range t.groups() {
		if err := cg.Create(g); err != nil {
			return fmt.Errorf("create cgroup %s: %w", g, err)
		}
	}
	return nil
}

// removeRetry is how often remove tries again while the kernel still
// counts an exiting process in a group.
const removeRetry = 100 * time.Millisecond

// remove removes the whole tree, retrying until ctx is done while a group
// is busy. The demo's processes must be stopped first: remove moves and
// kills nothing. It names the processes still inside when it gives up.
func (t podTree) remove(ctx context.Context, cg interface {
	treeCgroups
	procLister
}, clk clock.WithTicker) error {
	tick := clk.NewTicker(removeRetry)
	defer tick.Stop()
	for {
		err := cg.Remove(t.Parent)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			pids, perr := cg.Procs(t.Parent, true)
			if perr == nil && len(pids) > 0 {
				err = fmt.Errorf("%w (processes still inside: %v)", err, pids)
			}
			return fmt.Errorf("remove cgroup tree %s: %w", t.Parent, err)
		case <-tick.C():
		}
	}
}

// randomHex returns n random bytes in hex.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random name: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// newUID returns a random (version 4) UUID, the shape of a pod UID.
func newUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("pod uid: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}
