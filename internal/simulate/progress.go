package simulate

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// barWidth is the progress bar's width in characters.
const barWidth = 30

// Bar is a progress bar on a terminal: it redraws one line (carriage
// return, no newline) each time another percent is done, with the rate in
// steps per second. It is safe for concurrent Add.
type Bar struct {
	w     io.Writer
	clock clock.PassiveClock

	mu      sync.Mutex
	start   time.Time
	total   int64
	done    int64
	percent int
	err     error
}

// NewBar returns a Bar writing to w (a terminal: stderr).
func NewBar(w io.Writer, clk clock.PassiveClock) *Bar {
	return &Bar{w: w, clock: clk, percent: -1}
}

// Start implements Progress.
func (b *Bar) Start(total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.start, b.total = b.clock.Now(), total
	b.drawLocked()
}

// Add implements Progress.
func (b *Bar) Add(steps int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += int64(steps)
	b.drawLocked()
}

// Finish ends the bar's line and returns the first write error, if any.
func (b *Bar) Finish() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil && b.percent >= 0 {
		if _, err := fmt.Fprintln(b.w); err != nil {
			b.err = fmt.Errorf("progress: %w", err)
		}
	}
	return b.err
}

func (b *Bar) drawLocked() {
	if b.total <= 0 || b.err != nil {
		return
	}
	pct := int(min(b.done, b.total) * 100 / b.total)
	if pct == b.percent {
		return
	}
	b.percent = pct
	fill := pct * barWidth / 100
	rate := ""
	if el := b.clock.Since(b.start).Seconds(); el > 0 {
		rate = fmt.Sprintf(" %.0f steps/s", float64(b.done)/el)
	}
	_, err := fmt.Fprintf(b.w, "\r[%s%s] %3d%% %d/%d steps%s ", strings.Repeat("=", fill), strings.Repeat(" ", barWidth-fill), pct, b.done, b.total, rate)
	if err != nil {
		b.err = fmt.Errorf("progress: %w", err)
	}
}
