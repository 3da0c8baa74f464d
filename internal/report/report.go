// Package report writes the PNG reports of `make demo` and `bigboxctl
// simulate`: a column of plot panels sharing one width, aligned so their
// time axes line up.
package report

import (
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// WritePanels draws panels top to bottom on a white page of the given size
// and writes it to w as PNG.
func WritePanels(w io.Writer, panels []*plot.Plot, width, height vg.Length, dpi int) error {
	img := vgimg.NewWith(
		vgimg.UseWH(width, height),
		vgimg.UseDPI(dpi),
		vgimg.UseBackgroundColor(color.White),
	)
	rows := make([][]*plot.Plot, len(panels))
	for i, p := range panels {
		rows[i] = []*plot.Plot{p}
	}
	tiles := draw.Tiles{
		Rows: len(rows), Cols: 1,
		PadTop: vg.Points(8), PadBottom: vg.Points(8), PadLeft: vg.Points(8), PadRight: vg.Points(12),
		PadY: vg.Points(14),
	}
	canvases := plot.Align(rows, tiles, draw.New(img))
	for i := range rows {
		rows[i][0].Draw(canvases[i][0])
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w); err != nil {
		return fmt.Errorf("report: write png: %w", err)
	}
	return nil
}
