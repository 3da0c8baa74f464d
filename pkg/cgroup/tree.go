package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// hierarchies returns the distinct hierarchies bigbox uses, as controller
// names: on v1 one per mount (cpu and cpuacct share one on a joint mount),
// on v2 the one tree.
func (f *FS) hierarchies() []string {
	if f.version == V2 {
		return []string{CPU}
	}
	return f.hier
}

// v2Controllers returns the controllers Create enables for bigbox's groups
// on v2.
func v2Controllers() []string { return []string{"cpu", "cpuset", "memory"} }

// Create makes group and any missing ancestors.
//
// v1: in every hierarchy bigbox uses (cpu, cpuacct, cpuset, memory); each
// new cpuset level gets cpuset.cpus and cpuset.mems from its parent, as the
// kernel leaves them empty and refuses tasks until they are set.
//
// v2: before making each level, the cpu, cpuset and memory controllers
// (those the parent has) are enabled in the parent's
// cgroup.subtree_control. Nothing is written where they already are.
func (f *FS) Create(group string) error {
	if err := checkGroup(group); err != nil {
		return err
	}
	if group == "" {
		return errors.New("create: empty group")
	}
	levels := levelsOf(group)
	if f.version == V2 {
		for _, g := range levels {
			if err := f.enableV2Controllers(parent(g)); err != nil {
				return err
			}
			if err := mkdir(f.Path(CPU, g)); err != nil {
				return err
			}
		}
		return nil
	}
	for _, c := range f.hierarchies() {
		for _, g := range levels {
			if err := mkdir(f.Path(c, g)); err != nil {
				return err
			}
			if c != CPUSet {
				continue
			}
			for _, name := range []string{"cpuset.cpus", "cpuset.mems"} {
				if err := f.inheritCpuset(g, name); err != nil {
					return fmt.Errorf("create %s: %w", group, err)
				}
			}
		}
	}
	return nil
}

// levelsOf returns "a", "a/b", "a/b/c" for "a/b/c".
func levelsOf(group string) []string {
	var out []string
	for i := range len(group) {
		if group[i] == '/' {
			out = append(out, group[:i])
		}
	}
	return append(out, group)
}

func mkdir(path string) error {
	if err := os.Mkdir(path, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("mkdir %s: %w", path, unwrapPathError(err))
	}
	return nil
}

func (f *FS) enableV2Controllers(group string) error {
	var buf [256]byte
	avail, _, err := f.readGroupFile(CPU, group, "cgroup.controllers", buf[:])
	if err != nil {
		return err
	}
	var sbuf [256]byte
	enabled, _, err := f.readGroupFile(CPU, group, "cgroup.subtree_control", sbuf[:])
	if err != nil {
		return err
	}
	have := strings.Fields(string(avail))
	on := strings.Fields(string(enabled))
	for _, c := range v2Controllers() {
		if !slices.Contains(have, c) || slices.Contains(on, c) {
			continue
		}
		if err := f.write(CPU, group, "cgroup.subtree_control", "+"+c); err != nil {
			return err
		}
	}
	return nil
}

// Remove removes group and all its descendants, deepest first, in every
// hierarchy; groups already gone are ignored. It fails (EBUSY) while a
// process is still in one of them.
func (f *FS) Remove(group string) error {
	if err := checkGroup(group); err != nil {
		return err
	}
	if group == "" {
		return errors.New("remove: refusing to remove the root")
	}
	var errs []error
	for _, c := range f.hierarchies() {
		errs = append(errs, removeTree(f.Path(c, group)))
	}
	return errors.Join(errs...)
}

func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, unwrapPathError(err))
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(dir + "/" + e.Name()); err != nil {
				return err
			}
		}
	}
	// rmdir(2), not os.RemoveAll: a cgroup directory is removed while its
	// control files are still listed, and nothing in it may be unlinked.
	if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("rmdir %s: %w", dir, err)
	}
	return nil
}

// AddProc moves the process pid (all its threads) into group, in every
// hierarchy bigbox uses.
func (f *FS) AddProc(group string, pid int) error {
	if pid <= 0 {
		return fmt.Errorf("add proc: bad pid %d", pid)
	}
	for _, c := range f.hierarchies() {
		if err := f.write(c, group, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}
