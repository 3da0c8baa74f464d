// Package statefile keeps the agent's policy state (eviction cooldown,
// what was lent) in a small JSON file on the node, so a restarted agent
// neither forgets a cooldown nor lends at once what it had just taken back.
package statefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/bigbox-dev/bigbox/pkg/qos"
)

// File is a state file at one path.
type File struct{ path string }

// New returns the state file at path.
func New(path string) *File { return &File{path: path} }

// Load reads the state; a missing file is the zero state, not an error.
func (f *File) Load() (qos.State, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return qos.State{}, nil
	}
	if err != nil {
		return qos.State{}, fmt.Errorf("read state %s: %w", f.path, err)
	}
	st, err := Parse(b)
	if err != nil {
		return qos.State{}, fmt.Errorf("state %s: %w", f.path, err)
	}
	return st, nil
}

// Parse decodes a state document.
func Parse(b []byte) (qos.State, error) {
	var st qos.State
	if err := json.Unmarshal(b, &st); err != nil {
		return qos.State{}, fmt.Errorf("decode: %w", err)
	}
	return st, nil
}

// Save writes the state atomically (WriteFileAtomic).
func (f *File) Save(st qos.State) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return WriteFileAtomic(f.path, b)
}

// WriteFileAtomic writes data to path atomically: a temporary file in the
// same directory (created if missing), synced, then renamed over the old
// one, so a crash leaves the old or the new content, never half of one.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".state-*")
	if err != nil {
		return fmt.Errorf("create temporary state file: %w", err)
	}
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", tmp.Name(), err), os.Remove(tmp.Name()))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return errors.Join(fmt.Errorf("replace %s: %w", path, err), os.Remove(tmp.Name()))
	}
	return nil
}
