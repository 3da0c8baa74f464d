package qos_test

import (
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin without relying on the machine's zoneinfo

	"github.com/bigbox-dev/bigbox/pkg/qos"
)

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatalf("load Europe/Berlin: %v", err)
	}
	return loc
}

func hm(h, m int) time.Duration { return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute }

func TestPhase(t *testing.T) {
	t.Parallel()
	loc := berlin(t)
	at := func(y int, mo time.Month, d, h, mi int) time.Time { return time.Date(y, mo, d, h, mi, 0, 0, loc) }
	weekdays := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	night := qos.TimeWindow{Days: weekdays, Start: hm(0, 30), End: hm(8, 0), Grace: 30 * time.Minute}
	friNight := qos.TimeWindow{Days: []time.Weekday{time.Friday}, Start: hm(22, 0), End: hm(6, 0), Grace: 30 * time.Minute}
	everyNight := qos.TimeWindow{Start: hm(22, 0), End: hm(6, 0), Grace: 30 * time.Minute}
	// 2026-03-02 is a Monday; 2026-03-29 (spring forward, 23 h) and
	// 2026-10-25 (fall back, 25 h) are Sundays in Europe/Berlin.
	fallBack0030 := at(2026, 10, 25, 0, 30)
	tests := []struct {
		name    string
		windows []qos.TimeWindow
		now     time.Time
		want    qos.WindowPhase
	}{
		{"no windows is always open", nil, at(2026, 3, 2, 12, 0), qos.WindowOpen},
		{"inside a weekday window", []qos.TimeWindow{night}, at(2026, 3, 2, 3, 0), qos.WindowOpen},
		{"at the start is open", []qos.TimeWindow{night}, at(2026, 3, 2, 0, 30), qos.WindowOpen},
		{"just before the start is closed", []qos.TimeWindow{night}, at(2026, 3, 2, 0, 29), qos.WindowClosed},
		{"at end minus grace is grace", []qos.TimeWindow{night}, at(2026, 3, 2, 7, 30), qos.WindowGrace},
		{"inside the grace", []qos.TimeWindow{night}, at(2026, 3, 2, 7, 59), qos.WindowGrace},
		{"at the end is closed", []qos.TimeWindow{night}, at(2026, 3, 2, 8, 0), qos.WindowClosed},
		{"not on Saturday", []qos.TimeWindow{night}, at(2026, 3, 7, 3, 0), qos.WindowClosed},
		{"Friday night before midnight", []qos.TimeWindow{friNight}, at(2026, 3, 6, 23, 0), qos.WindowOpen},
		{"Friday night wraps into Saturday", []qos.TimeWindow{friNight}, at(2026, 3, 7, 5, 0), qos.WindowOpen},
		{"wrapped window has its grace on the next day", []qos.TimeWindow{friNight}, at(2026, 3, 7, 5, 45), qos.WindowGrace},
		{"wrapped window does not start on Saturday", []qos.TimeWindow{friNight}, at(2026, 3, 7, 23, 0), qos.WindowClosed},
		{"wrapped window: Friday early morning belongs to Thursday", []qos.TimeWindow{friNight}, at(2026, 3, 6, 5, 0), qos.WindowClosed},
		{"every night at midnight", []qos.TimeWindow{everyNight}, at(2026, 3, 2, 0, 0), qos.WindowOpen},
		{"every night at noon", []qos.TimeWindow{everyNight}, at(2026, 3, 2, 12, 0), qos.WindowClosed},
		{
			"start equal to end is a 24 h window",
			[]qos.TimeWindow{{Start: hm(10, 0), End: hm(10, 0), Grace: time.Hour}},
			at(2026, 3, 2, 8, 0), qos.WindowOpen,
		},
		{
			"24 h window grace",
			[]qos.TimeWindow{{Start: hm(10, 0), End: hm(10, 0), Grace: time.Hour}},
			at(2026, 3, 2, 9, 30), qos.WindowGrace,
		},
		{
			"open beats grace",
			[]qos.TimeWindow{night, {Start: hm(7, 0), End: hm(12, 0)}},
			at(2026, 3, 2, 7, 45), qos.WindowOpen,
		},
		{
			"grace beats closed",
			[]qos.TimeWindow{night, {Start: hm(12, 0), End: hm(13, 0)}},
			at(2026, 3, 2, 7, 45), qos.WindowGrace,
		},
		{
			"an invalid window never opens",
			[]qos.TimeWindow{{Start: 25 * time.Hour, End: hm(6, 0)}},
			at(2026, 3, 2, 3, 0), qos.WindowClosed,
		},
		{
			"an invalid day never opens",
			[]qos.TimeWindow{{Days: []time.Weekday{9}, Start: 0, End: hm(23, 0)}},
			at(2026, 3, 2, 3, 0), qos.WindowClosed,
		},
		{
			"an invalid window does not close a valid one",
			[]qos.TimeWindow{{Start: -time.Hour}, night},
			at(2026, 3, 2, 3, 0), qos.WindowOpen,
		},
		// Spring forward: 02:00 → 03:00; the day has 23 hours. End is
		// wall-clock 05:00, not midnight + 5 h (which would be 06:00).
		{
			"DST 23 h day: wall-clock end",
			[]qos.TimeWindow{{Start: 0, End: hm(5, 0)}},
			at(2026, 3, 29, 5, 30), qos.WindowClosed,
		},
		{
			"DST 23 h day: before the wall-clock end",
			[]qos.TimeWindow{{Start: 0, End: hm(5, 0)}},
			at(2026, 3, 29, 4, 59), qos.WindowOpen,
		},
		{
			"DST 23 h day: grace is elapsed time before the end",
			[]qos.TimeWindow{{Start: hm(1, 0), End: hm(5, 0), Grace: 30 * time.Minute}},
			at(2026, 3, 29, 4, 30), qos.WindowGrace,
		},
		{
			"DST 23 h day: Saturday night wraps over the gap",
			[]qos.TimeWindow{{Days: []time.Weekday{time.Saturday}, Start: hm(22, 0), End: hm(6, 0), Grace: 30 * time.Minute}},
			at(2026, 3, 29, 5, 45), qos.WindowGrace,
		},
		{
			"DST 23 h day: Saturday night ends at wall-clock 06:00",
			[]qos.TimeWindow{{Days: []time.Weekday{time.Saturday}, Start: hm(22, 0), End: hm(6, 0), Grace: 30 * time.Minute}},
			at(2026, 3, 29, 6, 0), qos.WindowClosed,
		},
		// Fall back: 03:00 CEST → 02:00 CET; the day has 25 hours and 02:30
		// happens twice.
		{
			"DST 25 h day: first 02:30",
			[]qos.TimeWindow{{Start: hm(1, 0), End: hm(4, 0), Grace: time.Hour}},
			fallBack0030.Add(2 * time.Hour), qos.WindowOpen,
		},
		{
			"DST 25 h day: second 02:30",
			[]qos.TimeWindow{{Start: hm(1, 0), End: hm(4, 0), Grace: time.Hour}},
			fallBack0030.Add(3 * time.Hour), qos.WindowOpen,
		},
		{
			"DST 25 h day: grace starts at 03:00 CET",
			[]qos.TimeWindow{{Start: hm(1, 0), End: hm(4, 0), Grace: time.Hour}},
			fallBack0030.Add(3*time.Hour + 30*time.Minute), qos.WindowGrace,
		},
		{
			"DST 25 h day: closed at wall-clock 04:00",
			[]qos.TimeWindow{{Start: hm(1, 0), End: hm(4, 0), Grace: time.Hour}},
			at(2026, 10, 25, 4, 0), qos.WindowClosed,
		},
		{
			"other zone: UTC now with a UTC window",
			[]qos.TimeWindow{night},
			time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC), qos.WindowOpen,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := qos.Phase(tc.windows, tc.now); got != tc.want {
				t.Errorf("Phase(%s) = %s, want %s", tc.now, got, tc.want)
			}
		})
	}
}

func TestWindowPhaseString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		phase qos.WindowPhase
		want  string
	}{
		{qos.WindowOpen, "open"},
		{qos.WindowGrace, "grace"},
		{qos.WindowClosed, "closed"},
		{qos.WindowPhase(7), "unknown"},
	}
	for _, tc := range tests {
		if got := tc.phase.String(); got != tc.want {
			t.Errorf("WindowPhase(%d).String() = %q, want %q", int(tc.phase), got, tc.want)
		}
	}
}
