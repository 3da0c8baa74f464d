package host

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/pkg/cgroup"
)

const psiCPU = `some avg10=0.38 avg60=1.59 avg300=0.71 total=2917311
full avg10=0.00 avg60=0.00 avg300=0.00 total=0
`

func TestReaderPressure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		proc        map[string]string
		resource    string
		want        cgroup.PSI
		wantErr     bool
		unsupported bool
	}{
		{
			name:     "cpu",
			proc:     map[string]string{"pressure/cpu": psiCPU},
			resource: "cpu",
			want: cgroup.PSI{
				Some: cgroup.PSILine{Avg10: 0.38, Avg60: 1.59, Avg300: 0.71, Total: 2917311 * time.Microsecond},
			},
		},
		{name: "no psi in this kernel", proc: map[string]string{}, resource: "memory", wantErr: true, unsupported: true},
		{name: "malformed", proc: map[string]string{"pressure/io": "some avg10=x\n"}, resource: "io", wantErr: true},
		{name: "unknown resource", proc: map[string]string{"pressure/irq": psiCPU}, resource: "irq", wantErr: true},
		{name: "path escape", proc: map[string]string{}, resource: "../stat", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, _, _ := newFakeReader(t, tt.proc, nil)
			got, err := r.Pressure(tt.resource)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Pressure(%q) error = %v, want error %v", tt.resource, err, tt.wantErr)
			}
			if got := errors.Is(err, cgroup.ErrNotSupported); got != tt.unsupported {
				t.Errorf("Pressure(%q) error = %v, errors.Is(ErrNotSupported) = %v, want %v", tt.resource, err, got, tt.unsupported)
			}
			if got != tt.want {
				t.Errorf("Pressure(%q) = %+v, want %+v", tt.resource, got, tt.want)
			}
		})
	}
}

func TestReaderOOMScoreAdjFake(t *testing.T) {
	t.Parallel()
	r, procRoot, _ := newFakeReader(t, map[string]string{
		"42/oom_score_adj":   "0\n",
		"43/oom_score_adj":   "-1000\n",
		"44/oom_score_adj":   "lots\n",
		"45/oom_score_adj":   "1001\n",
		"self/oom_score_adj": "0\n",
	}, nil)

	setTests := []struct {
		name     string
		pid      int
		score    int
		wantErr  bool
		notExist bool
	}{
		{name: "highest", pid: 42, score: 1000},
		{name: "lowest", pid: 43, score: -1000},
		{name: "above range", pid: 42, score: 1001, wantErr: true},
		{name: "below range", pid: 42, score: -1001, wantErr: true},
		{name: "bad pid", pid: 0, score: 0, wantErr: true},
		{name: "process gone", pid: 99, score: 1000, wantErr: true, notExist: true},
	}
	for _, tt := range setTests {
		err := r.SetOOMScoreAdj(tt.pid, tt.score)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: SetOOMScoreAdj(%d, %d) error = %v, want error %v", tt.name, tt.pid, tt.score, err, tt.wantErr)
		}
		if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
			t.Errorf("%s: SetOOMScoreAdj error %v: errors.Is(fs.ErrNotExist) = %v, want %v", tt.name, err, got, tt.notExist)
		}
	}
	// A missing process must not become a file in the fake procfs.
	if _, err := os.Stat(filepath.Join(procRoot, "99")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("SetOOMScoreAdj created %s/99: %v", procRoot, err)
	}

	getTests := []struct {
		name     string
		pid      int
		want     int
		wantErr  bool
		notExist bool
	}{
		{name: "written highest", pid: 42, want: 1000},
		{name: "written lowest", pid: 43, want: -1000},
		{name: "garbage", pid: 44, wantErr: true},
		{name: "out of range", pid: 45, wantErr: true},
		{name: "process gone", pid: 99, wantErr: true, notExist: true},
		{name: "bad pid", pid: -1, wantErr: true},
	}
	for _, tt := range getTests {
		got, err := r.OOMScoreAdj(tt.pid)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: OOMScoreAdj(%d) error = %v, want error %v", tt.name, tt.pid, err, tt.wantErr)
		}
		if errors.Is(err, fs.ErrNotExist) != tt.notExist {
			t.Errorf("%s: OOMScoreAdj error %v: errors.Is(fs.ErrNotExist) = %v, want %v", tt.name, err, !tt.notExist, tt.notExist)
		}
		if got != tt.want {
			t.Errorf("%s: OOMScoreAdj(%d) = %d, want %d", tt.name, tt.pid, got, tt.want)
		}
	}
}

func TestProcessErrorESRCH(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		notExist bool
	}{
		{name: "exited after open", err: &fs.PathError{Op: "write", Path: "/proc/1/oom_score_adj", Err: syscall.ESRCH}, notExist: true},
		{name: "never there", err: &fs.PathError{Op: "open", Path: "/proc/1/oom_score_adj", Err: syscall.ENOENT}, notExist: true},
		{name: "not allowed", err: &fs.PathError{Op: "write", Path: "/proc/1/oom_score_adj", Err: syscall.EACCES}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := processError("set oom_score_adj", 1, tt.err)
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(%v, fs.ErrNotExist) = %v, want %v", err, got, tt.notExist)
			}
			if !errors.Is(err, tt.err.(*fs.PathError).Err) {
				t.Errorf("%v lost its cause %v", err, tt.err)
			}
			if !strings.Contains(err.Error(), "pid 1") {
				t.Errorf("%v does not name the pid", err)
			}
		})
	}
}

func TestDiskUsageFromStatfs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		st   syscall.Statfs_t
		want DiskUsage
	}{
		{
			name: "frsize is the block unit",
			st:   syscall.Statfs_t{Bsize: 4096, Frsize: 1024, Blocks: 1000, Bfree: 400, Bavail: 350},
			want: DiskUsage{TotalBytes: 1000 * 1024, UsedBytes: 600 * 1024, AvailableBytes: 350 * 1024},
		},
		{
			name: "bsize when frsize is zero",
			st:   syscall.Statfs_t{Bsize: 4096, Blocks: 10, Bfree: 10, Bavail: 9},
			want: DiskUsage{TotalBytes: 10 * 4096, UsedBytes: 0, AvailableBytes: 9 * 4096},
		},
		{
			name: "free above blocks does not wrap",
			st:   syscall.Statfs_t{Bsize: 512, Frsize: 512, Blocks: 10, Bfree: 12, Bavail: 12},
			want: DiskUsage{TotalBytes: 10 * 512, UsedBytes: 0, AvailableBytes: 12 * 512},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := diskUsage(tt.st); got != tt.want {
				t.Errorf("diskUsage() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReaderDiskUsage(t *testing.T) {
	t.Parallel()
	r := New(t.TempDir(), t.TempDir())
	dir := t.TempDir()
	got, err := r.DiskUsage(dir)
	if err != nil {
		t.Fatalf("DiskUsage(%s) error = %v", dir, err)
	}
	if got.TotalBytes == 0 || got.UsedBytes > got.TotalBytes || got.AvailableBytes > got.TotalBytes {
		t.Errorf("DiskUsage(%s) = %+v, want 0 < used <= total, available <= total", dir, got)
	}
	missing := filepath.Join(dir, "missing")
	if _, err := r.DiskUsage(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("DiskUsage(%s) error = %v, want fs.ErrNotExist", missing, err)
	}
}
