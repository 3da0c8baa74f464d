package simulate

import (
	"github.com/bigbox-dev/bigbox/internal/report"

	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Report size: 12 inches wide, panelHeightInches per trace, at 100 dpi.
const (
	reportWidthInches = 12
	panelHeightInches = 3.5
	reportDPI         = 100
	// plotPoints is the most points a line gets; longer replays are
	// bucketed (online: the bucket's maximum; lent: its minimum, so the plot
	// never shows more lent than there was; a violation if any step had one).
	plotPoints = 1500
)

// predictorColor is the colour of the k-th plotted predictor.
func predictorColor(k int) color.Color {
	colors := [...]uint32{0xd62728, 0x2ca02c, 0xff7f0e, 0x9467bd, 0x8c564b, 0xe377c2, 0x17becf, 0xbcbd22}
	return rgb(colors[k%len(colors)])
}

// WriteReport draws one panel per trace: online usage, what each plotted
// predictor's replay lent at its configured knob, and a marker under the
// axis wherever a step of that replay was a violation. It writes a PNG to
// w. plotted lists the predictors to draw, in order; every one must be in
// each trace's tracks.
func WriteReport(w io.Writer, sum Summary, traces []Trace, tracks []map[string]*Track, plotted []string) error {
	if len(traces) == 0 {
		return fmt.Errorf("report: no traces")
	}
	unit := "cores"
	scale := 1.0
	if sum.Resource == "memory" {
		unit = "bytes"
		if sum.Capacity >= 1<<30 {
			unit, scale = "GiB", 1<<30
		}
	}
	if sum.Capacity == 1 {
		unit = "share of capacity"
	}
	plots := make([][]*plot.Plot, len(traces))
	for t, tr := range traces {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("%s (%s): online usage, what each predictor lent at its knob; marks under 0: violations and evictions", tr.Name, sum.Resource)
		p.Y.Label.Text = unit
		p.X.Label.Text = "days since start"
		p.Legend.Top = true
		p.Legend.Left = true
		p.Add(plotter.NewGrid())
		if len(tr.Online) == 0 {
			plots[t] = []*plot.Plot{p}
			continue
		}
		t0 := tr.Online[0].Time
		days := func(i int) float64 { return tr.Online[i].Time.Sub(t0).Hours() / 24 }
		bucket := max(1, (len(tr.Online)+plotPoints-1)/plotPoints)
		watermark := sum.Capacity * sum.Policy.ReclaimWatermarkPercent / 100 / scale
		yMax := watermark
		var online plotter.XYs
		for i := 0; i < len(tr.Online); i += bucket {
			m := 0.0
			for j := i; j < min(i+bucket, len(tr.Online)); j++ {
				m = max(m, tr.Online[j].Value)
			}
			online = append(online, plotter.XY{X: days(i), Y: m / scale})
			yMax = max(yMax, m/scale)
		}
		if err := addLine(p, "online", online, color.Black, false); err != nil {
			return err
		}
		wm := plotter.XYs{{X: days(0), Y: watermark}, {X: days(len(tr.Online) - 1), Y: watermark}}
		if err := addLine(p, "reclaim watermark", wm, color.Gray{Y: 0x80}, true); err != nil {
			return err
		}
		for k, name := range plotted {
			tk := tracks[t][name]
			if tk == nil {
				return fmt.Errorf("report: trace %s: predictor %s was not tracked", tr.Name, name)
			}
			c := predictorColor(k)
			var lent, viol plotter.XYs
			markY := -yMax * 0.04 * float64(k+1)
			for i := 0; i < len(tk.Lent); i += bucket {
				m, v := tk.Lent[i], false
				for j := i; j < min(i+bucket, len(tk.Lent)); j++ {
					m = min(m, tk.Lent[j])
					v = v || tk.Violation[j] || tk.Evicted[j]
				}
				lent = append(lent, plotter.XY{X: days(i), Y: m / scale})
				if v {
					viol = append(viol, plotter.XY{X: days(i), Y: markY})
				}
			}
			if err := addLine(p, name+" lent", lent, c, false); err != nil {
				return err
			}
			if len(viol) > 0 {
				sc, err := plotter.NewScatter(viol)
				if err != nil {
					return fmt.Errorf("report: %s violations: %w", name, err)
				}
				sc.Color = c
				sc.Shape = draw.BoxGlyph{}
				sc.Radius = vg.Points(1.5)
				p.Add(sc)
			}
		}
		p.Y.Min = -yMax * 0.04 * float64(len(plotted)+1)
		// Head room above the data for the legend in the top left corner.
		p.Y.Max = yMax * (1.3 + 0.12*float64(len(plotted)+2))
		plots[t] = []*plot.Plot{p}
	}

	column := make([]*plot.Plot, len(plots))
	for i := range plots {
		column[i] = plots[i][0]
	}
	return report.WritePanels(w, column, reportWidthInches*vg.Inch, vg.Length(panelHeightInches*float64(len(traces)))*vg.Inch, reportDPI)
}

func addLine(p *plot.Plot, name string, xys plotter.XYs, c color.Color, dashed bool) error {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("report: %s: %w", name, err)
	}
	l.Color = c
	l.Width = vg.Points(1)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	}
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}

// rgb turns 0xRRGGBB into an opaque colour.
func rgb(c uint32) color.Color {
	return color.RGBA{R: uint8(c >> 16), G: uint8(c >> 8), B: uint8(c), A: 0xff}
}
