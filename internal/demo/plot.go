package demo

import (
	"github.com/bigbox-dev/bigbox/internal/report"

	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// The report's size: 12 × 14 inches at 100 dots per inch.
const (
	reportWidthInches  = 12
	reportHeightInches = 14
	reportDPI          = 100
)

// ReportPixels returns the width and height of the report PNG in pixels.
func ReportPixels() (width, height int) {
	return reportWidthInches * reportDPI, reportHeightInches * reportDPI
}

// bytesPerGiB converts bytes to the GiB the memory panel shows.
const bytesPerGiB = 1 << 30

// series is one line of a panel: a name and a value per sample, NaN where
// there is none (the line is broken there).
type series struct {
	name  string
	color uint32
	dash  bool
	value func(Sample) float64
}

// WriteReport draws the samples as four stacked panels sharing the time
// axis (CPU, latency, load, memory), with the phase boundaries marked, and
// writes a PNG to w. capacityCores stands in for an unlimited quota.
func WriteReport(w io.Writer, samples []Sample, capacityCores float64) error {
	if len(samples) == 0 {
		return fmt.Errorf("report: no samples")
	}
	bounds := phaseBounds(samples)
	nan := math.NaN()
	panels := []struct {
		title, unit string
		lines       []series
	}{
		{
			title: "CPU", unit: "cores",
			lines: []series{
				{name: "online", color: blue, value: func(s Sample) float64 { return s.OnlineCores }},
				{name: "offline", color: red, value: func(s Sample) float64 { return s.OfflineCores }},
				{name: "node", color: gray, value: func(s Sample) float64 { return s.NodeCores }},
				{name: "big box quota (unlimited = capacity)", color: green, dash: true, value: func(s Sample) float64 {
					if s.QuotaCores < 0 {
						return capacityCores
					}
					return s.QuotaCores
				}},
				{name: "reclaimable (agent)", color: orange, dash: true, value: func(s Sample) float64 {
					if !s.Agent {
						return nan
					}
					return s.ReclaimableCores
				}},
			},
		},
		{
			title: "online latency", unit: "ms",
			lines: []series{
				{name: "p50", color: blue, value: func(s Sample) float64 { return orNaN(s.P50Millis, s.Requests > s.Errors) }},
				{name: "p99", color: red, value: func(s Sample) float64 { return orNaN(s.P99Millis, s.Requests > s.Errors) }},
			},
		},
		{
			title: "online load", unit: "requests/s",
			lines: []series{
				{name: "target", color: gray, dash: true, value: func(s Sample) float64 { return s.LoadRPS }},
				{name: "answered", color: blue, value: func(s Sample) float64 { return float64(s.Requests - s.Errors) }},
				{name: "errors", color: red, value: func(s Sample) float64 { return float64(s.Errors) }},
			},
		},
		{
			title: "memory", unit: "GiB",
			lines: []series{
				{name: "online", color: blue, value: func(s Sample) float64 { return s.OnlineMemoryBytes / bytesPerGiB }},
				{name: "offline", color: red, value: func(s Sample) float64 { return s.OfflineMemoryBytes / bytesPerGiB }},
				{name: "big box limit", color: green, dash: true, value: func(s Sample) float64 {
					if s.MemoryLimitBytes < 0 {
						return nan
					}
					return s.MemoryLimitBytes / bytesPerGiB
				}},
			},
		},
	}

	plots := make([][]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.Y.Label.Text = pn.unit
		p.Y.Min = 0
		p.X.Min = 0
		if i == len(panels)-1 {
			p.X.Label.Text = "seconds since start"
		}
		if i == 0 {
			p.Title.Text = pn.title + "   (phases: " + phaseTitle(bounds) + ")"
		}
		p.Legend.Top = true
		p.Legend.Left = true
		p.Add(plotter.NewGrid())
		yMax := 0.0
		for _, ln := range pn.lines {
			var first *plotter.Line
			for _, seg := range segments(samples, ln.value) {
				for _, pt := range seg {
					yMax = max(yMax, pt.Y)
				}
				l, err := plotter.NewLine(seg)
				if err != nil {
					return fmt.Errorf("report: %s %s: %w", pn.title, ln.name, err)
				}
				l.Color = rgb(ln.color)
				l.Width = vg.Points(1.5)
				if ln.dash {
					l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
				}
				p.Add(l)
				if first == nil {
					first = l
				}
			}
			if first != nil {
				p.Legend.Add(ln.name, first)
			}
		}
		if yMax <= 0 {
			yMax = 1
		}
		// Head room above the data for the legend in the top left corner.
		p.Y.Max = yMax * (1.2 + 0.08*float64(len(pn.lines)))
		for _, b := range bounds[1:] {
			l, err := plotter.NewLine(plotter.XYs{{X: b.start, Y: 0}, {X: b.start, Y: p.Y.Max}})
			if err != nil {
				return fmt.Errorf("report: phase line: %w", err)
			}
			l.Color = color.Black
			l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
			p.Add(l)
		}
		plots[i] = []*plot.Plot{p}
	}

	column := make([]*plot.Plot, len(plots))
	for i := range plots {
		column[i] = plots[i][0]
	}
	return report.WritePanels(w, column, reportWidthInches*vg.Inch, reportHeightInches*vg.Inch, reportDPI)
}

// Line colours, as 0xRRGGBB.
const (
	blue   = 0x1f77b4
	red    = 0xd62728
	green  = 0x2ca02c
	orange = 0xff7f0e
	gray   = 0x7f7f7f
)

// rgb turns 0xRRGGBB into an opaque colour.
func rgb(c uint32) color.Color {
	return color.RGBA{R: uint8(c >> 16), G: uint8(c >> 8), B: uint8(c), A: 0xff}
}

func orNaN(v float64, ok bool) float64 {
	if !ok {
		return math.NaN()
	}
	return v
}

// segments splits the samples into runs where value is a number, one
// plotter line each, so a missing value breaks the line.
func segments(samples []Sample, value func(Sample) float64) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for _, s := range samples {
		v := value(s)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, plotter.XY{X: s.Seconds, Y: v})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// phaseBound is where a phase starts on the time axis.
type phaseBound struct {
	phase      Phase
	start, end float64
}

// phaseBounds finds the phases in the order the samples list them. A
// sample's time is the end of its second, so a phase starts one second
// before its first sample.
func phaseBounds(samples []Sample) []phaseBound {
	var out []phaseBound
	for _, s := range samples {
		if len(out) == 0 || out[len(out)-1].phase != s.Phase {
			out = append(out, phaseBound{phase: s.Phase, start: max(s.Seconds-1, 0)})
		}
		out[len(out)-1].end = s.Seconds
	}
	return out
}

func phaseTitle(bounds []phaseBound) string {
	var s string
	for i, b := range bounds {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %.0f–%.0f s", b.phase, b.start, b.end)
	}
	return s
}
