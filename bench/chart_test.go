package bench

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
)

// writeStormChart draws the last storm run of each mode as an SVG: the
// number of reconnections in each 100 ms since the server went down, jitter
// off against jitter on.
func writeStormChart(path string) error {
	stormMu.Lock()
	off, okOff := stormLast["off"]
	on, okOn := stormLast["on"]
	stormMu.Unlock()
	if !okOff || !okOn {
		return errors.New("run BenchmarkStorm with both jitter=off and jitter=on first")
	}
	return os.WriteFile(path, []byte(stormSVGText(off, on)), 0o644)
}

func stormSVGText(off, on stormResult) string {
	return reconnectChart(
		fmt.Sprintf("Restart storm: %d clients, server down %.1f s — reconnections per 100 ms", stormClients, stormDown.Seconds()),
		on.upBin,
		[]chartSeries{
			{off.bins, "#d62728", fmt.Sprintf("no jitter: peak %d per 100 ms, p99 %.0f ms after server back", off.peak, ms(off.p99))},
			{on.bins, "#1f77b4", fmt.Sprintf("jitter ±50%%: peak %d per 100 ms, p99 %.0f ms after server back", on.peak, ms(on.p99))},
		})
}

// chartSeries is one line of a reconnection chart: reconnections per
// stormBin since the server went down.
type chartSeries struct {
	bins  []int
	color string
	label string
}

// reconnectChart draws reconnections per 100 ms against the time since the
// server went down, one line per series, with a dashed line where the
// server came back (upBin, in bins).
func reconnectChart(title string, upBin float64, series []chartSeries) string {
	const (
		width, height = 820, 380
		left, right   = 64, 20
		top, bottom   = 48, 56
	)
	plotW, plotH := float64(width-left-right), float64(height-top-bottom)
	nbins, peak := 0, 0
	for _, s := range series {
		nbins = max(nbins, len(s.bins))
		for _, v := range s.bins {
			peak = max(peak, v)
		}
	}
	ymax := niceCeil(float64(peak))
	xs := func(bin float64) float64 { return float64(left) + bin/float64(nbins)*plotW }
	ys := func(v float64) float64 { return float64(top) + plotH - v/ymax*plotH }

	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&sb, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&sb, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, title)

	// Grid and y axis labels.
	for i := 0; i <= 5; i++ {
		v := ymax * float64(i) / 5
		y := ys(v)
		fmt.Fprintf(&sb, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, width-right, y)
		fmt.Fprintf(&sb, `<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", left-6, y+4, v)
	}
	// x axis labels, one per second.
	for s := 0; float64(s*10) <= float64(nbins); s++ {
		x := xs(float64(s * 10))
		fmt.Fprintf(&sb, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#999"/>`+"\n", x, height-bottom, x, height-bottom+5)
		fmt.Fprintf(&sb, `<text x="%.1f" y="%d" text-anchor="middle">%d s</text>`+"\n", x, height-bottom+18, s)
	}
	fmt.Fprintf(&sb, `<text x="%.1f" y="%d" text-anchor="middle">time since the server went down</text>`+"\n", float64(left)+plotW/2, height-12)
	fmt.Fprintf(&sb, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, height-bottom, width-right, height-bottom)
	fmt.Fprintf(&sb, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, top, left, height-bottom)

	// Server back up.
	ux := xs(upBin)
	fmt.Fprintf(&sb, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#555" stroke-dasharray="4 3"/>`+"\n", ux, top, ux, height-bottom)
	fmt.Fprintf(&sb, `<text x="%.1f" y="%d" fill="#555">server back</text>`+"\n", ux+4, top+12)

	for _, s := range series {
		var pts strings.Builder
		for k := 0; k < nbins; k++ {
			v := 0
			if k < len(s.bins) {
				v = s.bins[k]
			}
			fmt.Fprintf(&pts, "%.1f,%.1f %.1f,%.1f ", xs(float64(k)), ys(float64(v)), xs(float64(k+1)), ys(float64(v)))
		}
		fmt.Fprintf(&sb, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.color, strings.TrimSpace(pts.String()))
	}
	fmt.Fprintf(&sb, `<rect x="%d" y="%d" width="432" height="%d" fill="white" fill-opacity="0.9" stroke="#ccc"/>`+"\n", width-right-448, top, 8+18*len(series))
	for i, s := range series {
		ly := top + 18 + 18*i
		lx := width - right - 440
		fmt.Fprintf(&sb, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", lx, ly-4, lx+24, ly-4, s.color)
		fmt.Fprintf(&sb, `<text x="%d" y="%d">%s</text>`+"\n", lx+30, ly, s.label)
	}
	sb.WriteString("</svg>\n")
	return sb.String()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
