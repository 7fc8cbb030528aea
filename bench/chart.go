package bench

import (
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// WriteChart draws the report as a PNG: on the left the throughput of each
// op kind and of all ops, on the right the latency percentiles of all ops,
// each with one bar per target side by side.
func (r *Report) WriteChart(path string) error {
	if len(r.Targets) == 0 {
		return fmt.Errorf("bench: no results to chart")
	}
	thr, err := r.throughputPlot()
	if err != nil {
		return err
	}
	lat, err := r.latencyPlot()
	if err != nil {
		return err
	}
	const width, height = 13 * vg.Inch, 5 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	plots := [][]*plot.Plot{{thr, lat}}
	canvases := plot.Align(plots, tiles, dc)
	thr.Draw(canvases[0][0])
	lat.Draw(canvases[0][1])
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("bench: writing %s: %w", path, err)
	}
	return f.Close()
}

// groupedBars adds one bar series per target, offset side by side.
func (r *Report) groupedBars(p *plot.Plot, values func(t *TargetResult) plotter.Values) error {
	n := len(r.Targets)
	w := vg.Points(float64(60 / n))
	for i := range r.Targets {
		t := &r.Targets[i]
		b, err := plotter.NewBarChart(values(t), w)
		if err != nil {
			return fmt.Errorf("bench: chart: %w", err)
		}
		b.LineStyle.Width = 0
		b.Color = plotutil.Color(i)
		b.Offset = w * vg.Length(float64(i)-float64(n-1)/2)
		p.Add(b)
		p.Legend.Add(t.label(), b)
	}

	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Millimeter * 3
	p.Y.Min = 0
	p.Y.Max *= 1.2 // room for the legend above the bars (Add set the range)
	return nil
}

func (r *Report) throughputPlot() (*plot.Plot, error) {
	// The op kinds any target ran, in the canonical order, then all.
	var names []string
	for k := range numOpKinds {
		for _, t := range r.Targets {
			if t.op(OpKind(k).String()) != nil {
				names = append(names, OpKind(k).String())
				break
			}
		}
	}
	names = append(names, "all")
	p := plot.New()
	p.Title.Text = "Throughput " + r.Label
	p.Y.Label.Text = "ops/s"
	err := r.groupedBars(p, func(t *TargetResult) plotter.Values {
		v := make(plotter.Values, len(names))
		for i, n := range names[:len(names)-1] {
			if s := t.op(n); s != nil {
				v[i] = s.OpsPerSec
			}
		}
		v[len(v)-1] = t.OpsPerSec
		return v
	})
	p.NominalX(names...)
	return p, err
}

func (r *Report) latencyPlot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Latency, all ops " + r.Label
	p.Y.Label.Text = "µs"
	err := r.groupedBars(p, func(t *TargetResult) plotter.Values {
		l := t.Latency
		return plotter.Values{float64(l.P50Micros), float64(l.P90Micros), float64(l.P99Micros), float64(l.P999Micros)}
	})
	p.NominalX("p50", "p90", "p99", "p99.9")
	return p, err
}
