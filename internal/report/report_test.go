package report

import (
	"bytes"
	"image/png"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

func TestWritePanels(t *testing.T) {
	t.Parallel()
	var panels []*plot.Plot
	for range 3 {
		p := plot.New()
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 2}})
		if err != nil {
			t.Fatal(err)
		}
		p.Add(l)
		panels = append(panels, p)
	}
	var b bytes.Buffer
	if err := WritePanels(&b, panels, 4*vg.Inch, 6*vg.Inch, 50); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if got := img.Bounds().Size(); got.X != 200 || got.Y != 300 {
		t.Errorf("size = %v, want 200×300 (4×6 in at 50 dpi)", got)
	}
}
