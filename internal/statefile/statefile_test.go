package statefile

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bigbox-dev/bigbox/pkg/qos"
)

func TestSaveLoad(t *testing.T) {
	t.Parallel()
	f := New(filepath.Join(t.TempDir(), "sub", "state.json"))
	st, err := f.Load()
	if err != nil || st.CooldownUntil != (time.Time{}) {
		t.Fatalf("missing file: state %+v, err %v; want zero state, nil", st, err)
	}
	want := qos.State{
		CooldownUntil: time.Date(2026, 11, 25, 12, 10, 0, 0, time.UTC),
		LentCPU:       1.5, LentMemory: 1 << 30, CPUs: []int{2, 3},
		CPU: qos.Lend{Amount: 1.5},
	}
	if err := f.Save(want); err != nil {
		t.Fatal(err)
	}
	got, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !got.CooldownUntil.Equal(want.CooldownUntil) || got.LentCPU != 1.5 || got.CPU.Amount != 1.5 || len(got.CPUs) != 2 {
		t.Errorf("round trip = %+v, want %+v", got, want)
	}
	entries, err := os.ReadDir(filepath.Dir(f.path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("files left beside the state: %v", entries)
	}
}

func TestLoadCorrupt(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(p, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(p).Load(); err == nil {
		t.Fatal("corrupt state: want an error")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"cpu":{"amount":1},"memory":{"amount":2},"cooldown_until":"2026-11-25T12:10:00Z","lent_cpu":1,"lent_memory":2}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := Parse(b)
		if err != nil {
			return
		}
		// What parsed must survive a save and load unchanged.
		file := New(filepath.Join(t.TempDir(), "s.json"))
		if err := file.Save(st); err != nil {
			t.Fatal(err)
		}
		again, err := file.Load()
		if err != nil {
			t.Fatalf("reload of a parsed state: %v", err)
		}
		if !again.CooldownUntil.Equal(st.CooldownUntil) || again.LentCPU != st.LentCPU {
			t.Fatalf("round trip changed the state: %+v vs %+v", again, st)
		}
	})
}

func TestWriteFileAtomic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "a", "b.json")
	for _, content := range []string{"first", "second, longer than the first"} {
		if err := WriteFileAtomic(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != content {
			t.Errorf("content = %q, want %q", got, content)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(p))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("files left beside the target: %v", entries)
	}
	// A directory in the way of the rename fails and leaves no temporary
	// file behind.
	blocked := filepath.Join(dir, "blocked")
	if err := os.MkdirAll(filepath.Join(blocked, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(blocked, []byte("x")); err == nil {
		t.Error("rename over a non-empty directory: want an error")
	}
	left, err := filepath.Glob(filepath.Join(dir, ".state-*"))
	if err != nil || len(left) != 0 {
		t.Errorf("temporary files left: %v, %v", left, err)
	}
}
