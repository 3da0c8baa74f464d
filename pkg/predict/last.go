package predict

import "time"

// last remembers the newest accepted sample and filters the input: a value
// that is negative, NaN or infinite, or a sample older than the newest one,
// is refused.
type last struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
	Has   bool      `json:"has,omitempty"`
}

// accept records s and reports whether it should be used.
func (l *last) accept(s Sample) bool {
	if !valid(s.Value) || (l.Has && s.Time.Before(l.Time)) {
		return false
	}
	*l = last{Time: s.Time, Value: s.Value, Has: true}
	return true
}
