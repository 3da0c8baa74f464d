package cgroup

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
)

// UsageCounter reads one group's cumulative CPU time through a file kept
// open: one pread(2) at offset 0 per read, which makes the kernel render the
// file anew, instead of open, read and close. The agent's fast loop reads
// two of these 20 times a second; opening the files was most of its cost.
// Safe for concurrent use.
type UsageCounter struct {
	f     *FS
	group string

	mu   sync.Mutex
	fd   int
	path string
}

// OpenUsageCounter opens the usage file of group (v1 cpuacct.usage, v2
// cpu.stat).
func (f *FS) OpenUsageCounter(group string) (*UsageCounter, error) {
	c := &UsageCounter{f: f, group: group, fd: -1}
	if err := c.open(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *UsageCounter) open() error {
	ctrl, name := CPUAcct, "cpuacct.usage"
	if c.f.version == V2 {
		ctrl, name = CPU, "cpu.stat"
	}
	path, err := c.f.file(ctrl, c.group, name)
	if err != nil {
		return err
	}
	fd, err := openRetry(path, syscall.O_RDONLY|syscall.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	c.fd, c.path = fd, path
	return nil
}

// Read returns the group's cumulative CPU time in nanoseconds. When the
// group was removed (and maybe made anew, as a restarted kubelet does) the
// file is opened again once.
func (c *UsageCounter) Read() (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, err := c.read()
	if err == nil || !(errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.EBADF)) {
		return v, err
	}
	c.closeLocked()
	if err := c.open(); err != nil {
		return 0, err
	}
	return c.read()
}

func (c *UsageCounter) read() (uint64, error) {
	if c.fd < 0 {
		return 0, fmt.Errorf("read usage of %s: %w", c.group, syscall.EBADF)
	}
	var buf [512]byte
	n, err := preadFull(c.fd, buf[:])
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", c.path, err)
	}
	if c.f.version == V2 {
		v, err := parseUsageUsec(buf[:n])
		if err != nil {
			return 0, fmt.Errorf("parse %s: %w", c.path, err)
		}
		return v, nil
	}
	v, err := parseUint(buf[:n])
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", c.path, err)
	}
	return v, nil
}

// preadFull reads the file from offset 0 into buf until EOF or buf is full.
func preadFull(fd int, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := syscall.Pread(fd, buf[n:], int64(n))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if m == 0 {
			return n, nil
		}
		n += m
	}
	return 0, fmt.Errorf("larger than %d bytes", len(buf))
}

// Close closes the file.
func (c *UsageCounter) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeLocked()
}

func (c *UsageCounter) closeLocked() error {
	if c.fd < 0 {
		return nil
	}
	err := syscall.Close(c.fd)
	c.fd = -1
	if err != nil {
		return fmt.Errorf("close %s: %w", c.path, err)
	}
	return nil
}
