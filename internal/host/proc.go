package host

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/bigbox-dev/bigbox/pkg/cgroup"
)

// Pressure reads the node's pressure stall information for resource "cpu",
// "memory" or "io" from <proc>/pressure/<resource>. When the kernel has no
// PSI (built without CONFIG_PSI, or booted with psi=0, which leaves out
// /proc/pressure) the error wraps cgroup.ErrNotSupported.
func (r *Reader) Pressure(resource string) (cgroup.PSI, error) {
	switch resource {
	case "cpu", "memory", "io":
	default:
		return cgroup.PSI{}, fmt.Errorf("pressure: unknown resource %q, want cpu, memory or io", resource)
	}
	path := filepath.Join(r.procRoot, "pressure", resource)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.EOPNOTSUPP) {
			return cgroup.PSI{}, fmt.Errorf("pressure: %w: %w", cgroup.ErrNotSupported, err)
		}
		return cgroup.PSI{}, fmt.Errorf("pressure: %w", err)
	}
	defer f.Close() // read-only: a close error cannot lose data
	p, err := cgroup.ParsePSI(f)
	if err != nil {
		if errors.Is(err, syscall.EOPNOTSUPP) {
			// A kernel with PSI compiled in but disabled at run time fails
			// the read rather than the open.
			return cgroup.PSI{}, fmt.Errorf("pressure: %s: %w: %w", path, cgroup.ErrNotSupported, err)
		}
		return cgroup.PSI{}, fmt.Errorf("pressure: %s: %w", path, err)
	}
	return p, nil
}

// The range of oom_score_adj (OOM_SCORE_ADJ_MIN and OOM_SCORE_ADJ_MAX in
// include/uapi/linux/oom.h): -1000 exempts a process from the OOM killer,
// 1000 makes it the first victim.
const (
	OOMScoreAdjMin = -1000
	OOMScoreAdjMax = 1000
)

// SetOOMScoreAdj writes score to <proc>/<pid>/oom_score_adj. Raising a
// process's score is always allowed; lowering it below the process's
// oom_score_adj_min (inherited, normally 0; set by privileged writes) needs
// CAP_SYS_RESOURCE, else the kernel answers EACCES. When the process is gone (the
// file is missing, or the kernel answers ESRCH because it exited after the
// open) the error matches fs.ErrNotExist, so callers walking a cgroup's
// processes can skip it.
func (r *Reader) SetOOMScoreAdj(pid, score int) error {
	if pid <= 0 {
		return fmt.Errorf("set oom_score_adj: bad pid %d", pid)
	}
	if score < OOMScoreAdjMin || score > OOMScoreAdjMax {
		return fmt.Errorf("set oom_score_adj of pid %d: %d is outside [%d, %d]", pid, score, OOMScoreAdjMin, OOMScoreAdjMax)
	}
	path := r.oomScoreAdjPath(pid)
	// No O_CREATE: on a fake procfs as on the real one, a missing process
	// must not become a new file.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return processError("set oom_score_adj", pid, err)
	}
	_, werr := f.Write([]byte(strconv.Itoa(score)))
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return processError("set oom_score_adj", pid, err)
	}
	return nil
}

// OOMScoreAdj reads <proc>/<pid>/oom_score_adj. A process that is gone
// gives an error matching fs.ErrNotExist.
func (r *Reader) OOMScoreAdj(pid int) (int, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("oom_score_adj: bad pid %d", pid)
	}
	b, err := os.ReadFile(r.oomScoreAdjPath(pid))
	if err != nil {
		return 0, processError("oom_score_adj", pid, err)
	}
	score, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil || score < OOMScoreAdjMin || score > OOMScoreAdjMax {
		return 0, fmt.Errorf("oom_score_adj of pid %d: %.20q is not a score in [%d, %d]", pid, b, OOMScoreAdjMin, OOMScoreAdjMax)
	}
	return score, nil
}

func (r *Reader) oomScoreAdjPath(pid int) string {
	return filepath.Join(r.procRoot, strconv.Itoa(pid), "oom_score_adj")
}

// processError wraps err from a /proc/<pid> file, adding fs.ErrNotExist
// when the kernel says the process is gone with ESRCH (which, unlike
// ENOENT, does not match fs.ErrNotExist by itself).
func processError(op string, pid int, err error) error {
	if errors.Is(err, syscall.ESRCH) && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s of pid %d: %w: %w", op, pid, fs.ErrNotExist, err)
	}
	return fmt.Errorf("%s of pid %d: %w", op, pid, err)
}

// DiskUsage is the usage of one filesystem, in bytes.
type DiskUsage struct {
	TotalBytes uint64
	// UsedBytes is TotalBytes minus the free blocks (as df counts "Used").
	UsedBytes uint64
	// AvailableBytes is what unprivileged users may still write; it is less
	// than TotalBytes − UsedBytes by the blocks reserved for root.
	AvailableBytes uint64
}

// DiskUsage reports the usage of the filesystem holding path (statfs(2)),
// for evicting offline pods when their disk fills up. path is a host path
// (e.g. the kubelet's root directory), not one under the procfs root.
func (r *Reader) DiskUsage(path string) (DiskUsage, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return DiskUsage{}, fmt.Errorf("disk usage: statfs %s: %w", path, err)
	}
	return diskUsage(st), nil
}

func diskUsage(st syscall.Statfs_t) DiskUsage {
	// Block counts are in units of f_frsize on Linux (statfs(2)); older
	// kernels leave it zero, where f_bsize is the unit.
	unit := uint64(st.Frsize)
	if unit == 0 {
		unit = uint64(st.Bsize)
	}
	free := min(st.Bfree, st.Blocks)
	return DiskUsage{
		TotalBytes:     st.Blocks * unit,
		UsedBytes:      (st.Blocks - free) * unit,
		AvailableBytes: st.Bavail * unit,
	}
}
