package cgroup

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
)

// maxFileBytes bounds how much of one control file is read: the largest file
// bigbox reads (a v2 memory.stat) is a few KiB, cgroup.procs of a busy group
// a few hundred KiB.
const maxFileBytes = 16 << 20

// readFile reads the whole file at path into buf (growing it only when the
// file does not fit) and returns the filled part. It uses raw syscalls so a
// hot read with a caller-provided stack buffer allocates only the
// NUL-terminated path: os.Open would add an *os.File and a poller
// registration per read. Errors carry the path and keep the errno for
// errors.Is (fs.ErrNotExist, syscall.ENODEV for a removed group).
func readFile(path string, buf []byte) ([]byte, error) {
	fd, err := openRetry(path, syscall.O_RDONLY|syscall.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer syscall.Close(fd) //nolint:errcheck // read-only fd; close cannot lose data
	n := 0
	for {
		if n == len(buf) {
			if len(buf) >= maxFileBytes {
				return nil, fmt.Errorf("read %s: larger than %d bytes", path, maxFileBytes)
			}
			buf = append(buf[:n], make([]byte, max(len(buf), 512))...)
		}
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		if m == 0 {
			return buf[:n], nil
		}
		n += m
	}
}

// writeFile writes value to the control file at path in one write(2), as
// the kernel parses each write on its own. The file must exist (cgroup
// control files are never created). Errors look like
// "write <path>: device or resource busy" and match errors.Is(err,
// syscall.EBUSY).
func writeFile(path, value string) error {
	fd, err := openRetry(path, syscall.O_WRONLY|syscall.O_TRUNC|syscall.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	var werr error
	for {
		var n int
		n, werr = syscall.Write(fd, []byte(value))
		if werr == syscall.EINTR {
			continue
		}
		if werr == nil && n != len(value) {
			werr = io.ErrShortWrite
		}
		break
	}
	cerr := syscall.Close(fd)
	if werr != nil {
		return fmt.Errorf("write %s: %w", path, werr)
	}
	if cerr != nil {
		return fmt.Errorf("write %s: close: %w", path, cerr)
	}
	return nil
}

func openRetry(path string, mode int) (int, error) {
	for {
		fd, err := syscall.Open(path, mode, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// checkGroup rejects group names that would leave the hierarchy.
func checkGroup(group string) error {
	if strings.HasPrefix(group, "/") {
		return fmt.Errorf("group %q: must be relative to the hierarchy root", group)
	}
	for rest := group; rest != ""; {
		var elem string
		elem, rest, _ = strings.Cut(rest, "/")
		if elem == ".." || elem == "." {
			return fmt.Errorf("group %q: %q element not allowed", group, elem)
		}
	}
	return nil
}

// ignoreNotExist returns nil for a missing file or directory.
func ignoreNotExist(err error) error {
	if errors.Is(err, syscall.ENOENT) {
		return nil
	}
	return err
}
