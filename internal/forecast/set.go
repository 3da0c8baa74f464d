package forecast

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"k8s.io/utils/clock"

	"github.com/bigbox-dev/bigbox/internal/config"
	"github.com/bigbox-dev/bigbox/internal/statefile"
)

// DocumentVersion is the version of the state document Save writes; Load
// refuses any other.
const DocumentVersion = 1

// MaxDocumentBytes bounds the state document. The largest state, a
// decaying histogram of 2200 buckets plus the default predictor's 288
// seasonal slots, is well under 100 KiB; Save refuses to write more than Load
// would read.
const MaxDocumentBytes = 1 << 20

// ErrSpecChanged marks a saved state that was not restored because the
// predictor's name or horizon differ from the ones in force.
var ErrSpecChanged = errors.New("predictor changed since the state was saved")

// Set is the forecasters of one node, CPU (cores) and memory (bytes).
type Set struct {
	CPU, Memory *Forecaster
}

// NewSet returns the forecasters for the given specs, with capacities of
// zero: Configure each with the measured capacity before relying on its
// margins (a zero capacity means zero margins).
func NewSet(cpu, memory config.PredictorSpec) (*Set, error) {
	c, err := New(cpu, 0)
	if err != nil {
		return nil, fmt.Errorf("cpu forecaster: %w", err)
	}
	m, err := New(memory, 0)
	if err != nil {
		return nil, fmt.Errorf("memory forecaster: %w", err)
	}
	return &Set{CPU: c, Memory: m}, nil
}

// Document is the state file: per resource the spec the state was learnt
// with and the forecaster's state.
type Document struct {
	Version int   `json:"version"`
	CPU     Entry `json:"cpu"`
	Memory  Entry `json:"memory"`
}

// Entry is one resource of a Document.
type Entry struct {
	Spec  Spec            `json:"spec"`
	State json.RawMessage `json:"state"`
}

// Spec is a config.PredictorSpec as written in the state file.
type Spec struct {
	Name    string  `json:"name"`
	Knob    float64 `json:"knob"`
	Horizon string  `json:"horizon"`
}

func specOf(s config.PredictorSpec) Spec {
	return Spec{Name: s.Name, Knob: s.Knob, Horizon: s.Horizon.String()}
}

// PredictorSpec converts the spec back.
func (s Spec) PredictorSpec() (config.PredictorSpec, error) {
	h, err := time.ParseDuration(s.Horizon)
	if err != nil {
		return config.PredictorSpec{}, fmt.Errorf("horizon %q: %w", s.Horizon, err)
	}
	return config.PredictorSpec{Name: s.Name, Knob: s.Knob, Horizon: h}, nil
}

// ReadDocument parses a state document of at most MaxDocumentBytes:
// strictly (unknown fields and trailing data are errors), of version
// DocumentVersion, each spec's horizon a duration and each state a JSON
// object.
func ReadDocument(r io.Reader) (Document, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxDocumentBytes+1))
	if err != nil {
		return Document{}, fmt.Errorf("read forecast state: %w", err)
	}
	if len(b) > MaxDocumentBytes {
		return Document{}, fmt.Errorf("forecast state is larger than %d bytes", MaxDocumentBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d Document
	if err := dec.Decode(&d); err != nil {
		return Document{}, fmt.Errorf("decode forecast state: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Document{}, errors.New("decode forecast state: data after the document")
	}
	if d.Version != DocumentVersion {
		return Document{}, fmt.Errorf("forecast state version %d, want %d", d.Version, DocumentVersion)
	}
	for _, e := range []struct {
		name string
		Entry
	}{{"cpu", d.CPU}, {"memory", d.Memory}} {
		if _, err := e.Spec.PredictorSpec(); err != nil {
			return Document{}, fmt.Errorf("forecast state %s.spec: %w", e.name, err)
		}
		if t := bytes.TrimSpace(e.State); len(t) == 0 || t[0] != '{' {
			return Document{}, fmt.Errorf("forecast state %s.state: not a JSON object", e.name)
		}
	}
	return d, nil
}

// Document returns the state of both forecasters.
func (s *Set) Document() (Document, error) {
	c, err := s.CPU.MarshalState()
	if err != nil {
		return Document{}, fmt.Errorf("cpu: %w", err)
	}
	m, err := s.Memory.MarshalState()
	if err != nil {
		return Document{}, fmt.Errorf("memory: %w", err)
	}
	return Document{
		Version: DocumentVersion,
		CPU:     Entry{Spec: specOf(s.CPU.Spec()), State: c},
		Memory:  Entry{Spec: specOf(s.Memory.Spec()), State: m},
	}, nil
}

// Restore restores each forecaster from its entry of d when the entry was
// learnt with the same predictor name and horizon (errors.Is ErrSpecChanged
// otherwise). A forecaster whose entry is refused stays as it was; the other
// is restored all the same.
func (s *Set) Restore(d Document) error {
	var errs []error
	for _, r := range []struct {
		name string
		f    *Forecaster
		e    Entry
	}{{"cpu", s.CPU, d.CPU}, {"memory", s.Memory, d.Memory}} {
		saved, err := r.e.Spec.PredictorSpec()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.name, err))
			continue
		}
		if cur := r.f.Spec(); !sameState(saved, cur) {
			errs = append(errs, fmt.Errorf("%s: saved %s over %s, now %s over %s: %w",
				r.name, saved.Name, saved.Horizon, cur.Name, cur.Horizon, ErrSpecChanged))
			continue
		}
		if err := r.f.RestoreState(r.e.State); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.name, err))
		}
	}
	return errors.Join(errs...)
}

// Save writes both forecasters' state to path atomically
// (statefile.WriteFileAtomic).
func (s *Set) Save(path string) error {
	d, err := s.Document()
	if err != nil {
		return fmt.Errorf("save forecast state: %w", err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode forecast state: %w", err)
	}
	if len(b) > MaxDocumentBytes {
		return fmt.Errorf("forecast state of %d bytes is larger than %d", len(b), MaxDocumentBytes)
	}
	if err := statefile.WriteFileAtomic(path, b); err != nil {
		return fmt.Errorf("save forecast state: %w", err)
	}
	return nil
}

// Load restores the state saved at path. A missing file is no error (a
// first start). A file that is unreadable, corrupt, of another version, or
// learnt with another predictor name or horizon is an error for the caller
// to log; the forecasters it could not restore start afresh.
func (s *Set) Load(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open forecast state: %w", err)
	}
	d, err := ReadDocument(f)
	cerr := f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if cerr != nil {
		return fmt.Errorf("close %s: %w", path, cerr)
	}
	if err := s.Restore(d); err != nil {
		return fmt.Errorf("forecast state %s: %w", path, err)
	}
	return nil
}

// Run saves the state to path every interval and once more when ctx is
// done, until then. A failed save is logged and retried at the next
// interval; what the predictors learn meanwhile is only at risk if the agent
// stops before a save succeeds.
func (s *Set) Run(ctx context.Context, path string, interval time.Duration, clk clock.WithTicker, logger *slog.Logger) error {
	if interval <= 0 {
		return fmt.Errorf("forecast state save interval %v is not positive", interval)
	}
	t := clk.NewTicker(interval)
	defer t.Stop()
	save := func() {
		if err := s.Save(path); err != nil {
			logger.Warn("save forecast state", "path", path, "err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			save()
			return nil
		case <-t.C():
			save()
		}
	}
}
