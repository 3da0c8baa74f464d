package predict

import (
	"fmt"
	"time"
)

// windowMax is the maximum of the samples of a sliding time window, kept in a
// fixed ring of sub-windows so memory does not grow with the sample rate. The
// window covered is between the configured length and one sub-window more,
// so it errs on the high (safe) side.
type windowMax struct {
	widthNs int64 // length of one sub-window
	ring    []bucket
}

// bucket is the maximum of one sub-window; idx is the sub-window number
// (time / width), has is false for a slot never written.
type bucket struct {
	Idx int64   `json:"i"`
	Max float64 `json:"m"`
	Has bool    `json:"h,omitempty"`
}

// newWindowMax covers window with n sub-windows (plus the current partial one).
func newWindowMax(window time.Duration, n int) windowMax {
	w := int64(window) / int64(n)
	if w <= 0 {
		w = 1
	}
	return windowMax{widthNs: w, ring: make([]bucket, n+1)}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func (w *windowMax) slot(idx int64) *bucket {
	n := int64(len(w.ring))
	return &w.ring[((idx%n)+n)%n]
}

func (w *windowMax) add(t time.Time, v float64) {
	idx := floorDiv(t.UnixNano(), w.widthNs)
	b := w.slot(idx)
	if !b.Has || b.Idx != idx {
		*b = bucket{Idx: idx, Max: v, Has: true}
		return
	}
	b.Max = max(b.Max, v)
}

// get returns the maximum over the window ending at now, and false when the
// window holds no sample.
func (w *windowMax) get(now time.Time) (float64, bool) {
	cur := floorDiv(now.UnixNano(), w.widthNs)
	oldest := cur - int64(len(w.ring)) + 1
	var m float64
	var ok bool
	for _, b := range w.ring {
		if b.Has && b.Idx >= oldest && b.Idx <= cur {
			m = max(m, b.Max)
			ok = true
		}
	}
	return m, ok
}

// windowState is the serialised form of a windowMax.
type windowState struct {
	WidthNs int64    `json:"width_ns"`
	Ring    []bucket `json:"ring"`
}

func (w *windowMax) state() windowState {
	return windowState{WidthNs: w.widthNs, Ring: append([]bucket(nil), w.ring...)}
}

func (w *windowMax) restore(s windowState) error {
	if s.WidthNs != w.widthNs || len(s.Ring) != len(w.ring) {
		return fmt.Errorf("window state has %d sub-windows of %v, want %d of %v",
			len(s.Ring), time.Duration(s.WidthNs), len(w.ring), time.Duration(w.widthNs))
	}
	for i, b := range s.Ring {
		if b.Has && !valid(b.Max) {
			return fmt.Errorf("window state: sub-window %d holds %v", i, b.Max)
		}
	}
	copy(w.ring, s.Ring)
	return nil
}
