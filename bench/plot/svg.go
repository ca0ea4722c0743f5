package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetsh/fleetsh/internal/benchrec"
)

// The page: panels stacked in one column, each a plot area with its
// title above, its axes' labels below and left, then its legend and
// notes, one per row, so that long tool names never overlap the plot.
const (
	pageW     = 760.0
	pageTop   = 44.0 // the document's title
	marginL   = 76.0 // y tick labels and the y axis label
	marginR   = 24.0
	plotW     = pageW - marginL - marginR
	titleH    = 30.0 // a panel's title
	plotH     = 280.0
	axisH     = 46.0 // x tick labels and the x axis label
	rowH      = 18.0 // a legend entry or a note
	panelGap  = 18.0
	maxLabel  = 70 // runes of a tool's name in the legend; the full name is its tooltip
	markerR   = 4.0
	pageFoot  = 10.0
	gridMajor = "#c8c8c8"
	gridMinor = "#ececec"
)

// palette holds colours that stay apart for most eyes (Tableau 10);
// series past ten take the next marker shape too (shapes), so twenty
// tools are told apart by colour and shape together.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

const shapes = 4 // circle, square, triangle, diamond

// style is how one series is drawn: the same tool has the same colour in
// every panel; its fanouts differ by marker shape and dashes.
type style struct {
	color  string
	shape  int
	dashed bool
}

// plotPoint is one marker.
type plotPoint struct {
	n, wall float64
	hollow  bool // some runs failed
	offLine bool // every run failed: the median of the failed runs
}

// series is one line of a panel: a tool at one fanout.
type series struct {
	label  string
	style  style
	points []plotPoint
}

// panel is a group ready to draw.
type panel struct {
	title  string
	series []series
	notes  []string
	hollow bool
}

// writeSVGFile writes the plot of groups to path; notes about skipped
// values go to stderr too.
func writeSVGFile(path string, groups []group, failed map[benchrec.Key]float64, sources []string, stderr io.Writer) error {
	var b bytes.Buffer
	notes := writeSVG(&b, groups, failed, sources)
	for _, n := range notes {
		fmt.Fprintln(stderr, "plot:", n)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("svg: %w", err)
	}
	return nil
}

// writeSVG draws groups into one SVG document and returns the notes it
// put in panels (skipped values).
func writeSVG(w io.Writer, groups []group, failed map[benchrec.Key]float64, sources []string) []string {
	panels := makePanels(groups, failed)
	height := pageTop
	for _, p := range panels {
		height += panelHeight(p) + panelGap
	}
	height += pageFoot
	s := &svgWriter{w: w}
	s.printf(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	s.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`+"\n",
		f1(pageW), f1(height), f1(pageW), f1(height))
	title := "Median wall time against N"
	if len(sources) > 0 {
		title += " (" + strings.Join(sources, ", ") + ")"
	}
	s.printf("<title>%s</title>\n", esc(title))
	s.printf(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	s.printf(`<text x="%s" y="26" font-size="16" font-weight="bold">%s</text>`+"\n", f1(marginL), esc(title))
	var notes []string
	y := pageTop
	for _, p := range panels {
		drawPanel(s, p, y)
		y += panelHeight(p) + panelGap
		for _, n := range p.notes {
			notes = append(notes, p.title+": "+n)
		}
	}
	s.printf("</svg>\n")
	return notes
}

func panelHeight(p panel) float64 {
	rows := len(p.series) + len(p.notes)
	if p.hollow {
		rows++
	}
	return titleH + plotH + axisH + float64(rows)*rowH
}

// makePanels places each group's points: one series per tool and
// fanout, sorted, with styles shared across panels.
func makePanels(groups []group, failed map[benchrec.Key]float64) []panel {
	ranks := toolRanks(groups)
	panels := make([]panel, 0, len(groups))
	for _, g := range groups {
		p := panel{title: g.title()}
		fanouts := map[string][]int{}
		for _, pt := range g.Points {
			if !slices.Contains(fanouts[pt.Tool], pt.Fanout) {
				fanouts[pt.Tool] = append(fanouts[pt.Tool], pt.Fanout)
			}
		}
		idx := map[[2]string]int{}
		for _, pt := range g.Points { // sorted by tool, fanout, N
			wall, hollow, off := pt.WallS, pt.Failed > 0, false
			if pt.Runs == 0 {
				wall, off = failed[pt.Key], true
			}
			if pt.N <= 0 || wall <= 0 || math.IsNaN(wall) || math.IsInf(wall, 0) {
				p.notes = append(p.notes, fmt.Sprintf("skipped %s at N=%d: wall %s s, N must be positive and wall too (log scales)", pt.Tool, pt.N, num(wall)))
				continue
			}
			key := [2]string{pt.Tool, strconv.Itoa(pt.Fanout)}
			i, ok := idx[key]
			if !ok {
				label := pt.Tool
				if len(fanouts[pt.Tool]) > 1 {
					label += " (fanout " + fanout(pt.Fanout) + ")"
				}
				i = len(p.series)
				idx[key] = i
				st := styleOf(ranks[pt.Tool], slices.Index(fanouts[pt.Tool], pt.Fanout))
				p.series = append(p.series, series{label: label, style: st})
			}
			p.series[i].points = append(p.series[i].points, plotPoint{n: float64(pt.N), wall: wall, hollow: hollow, offLine: off})
			p.hollow = p.hollow || hollow
		}
		panels = append(panels, p)
	}
	return panels
}

// toolRanks gives every tool a rank among all tools, so that a tool
// has the same colour in every panel.
func toolRanks(groups []group) map[string]int {
	tools := allTools(groups)
	ranks := make(map[string]int, len(tools))
	for i, t := range tools {
		ranks[t] = i
	}
	return ranks
}

// styleOf is the style of the tool of rank rank at its fanoutRank-th
// fanout (in the panel): colour by tool; past ten tools, and for each
// further fanout of one tool, the next shape; every other fanout dashed.
func styleOf(rank, fanoutRank int) style {
	return style{
		color:  palette[rank%len(palette)],
		shape:  (rank/len(palette) + fanoutRank) % shapes,
		dashed: fanoutRank%2 == 1,
	}
}

// scale maps log10 of figures onto pixels.
type scale struct {
	lo, hi   float64 // log10 of the ends
	from, to float64 // pixels of lo and hi
}

func (s scale) at(v float64) float64 {
	return s.from + (math.Log10(v)-s.lo)/(s.hi-s.lo)*(s.to-s.from)
}

// logRange is the log10 range drawn for figures from min to max: at
// least a decade (so a single point or a single N has ticks around it),
// padded so markers clear the frame.
func logRange(min, max float64) (lo, hi float64) {
	lo, hi = math.Log10(min), math.Log10(max)
	if hi-lo < 1 {
		c := (lo + hi) / 2
		lo, hi = c-0.5, c+0.5
	}
	pad := (hi - lo) * 0.06
	return lo - pad, hi + pad
}

// tick is a gridline, labelled or not.
type tick struct {
	v     float64
	label bool
}

// ticks are the 1, 2, 5 multiples of powers of ten within [lo, hi] (log10).
// Over two decades or more only the decades are labelled; over less the
// 2s and 5s are too.
func ticks(lo, hi float64) []tick {
	var ts []tick
	for k := int(math.Floor(lo)); k <= int(math.Ceil(hi)); k++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow10(k)
			if l := math.Log10(v); l < lo-1e-9 || l > hi+1e-9 {
				continue
			}
			ts = append(ts, tick{v: v, label: m == 1})
		}
	}
	if hi-lo < 2 {
		for i := range ts {
			ts[i].label = true
		}
	}
	return ts
}

// roundSig rounds v to 3 significant digits, so that 2*0.1 prints 0.2.
func roundSig(v float64) string {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// nLabel is a node count: 50, 200, 1k, 10k, 100k, 1M.
func nLabel(v float64) string {
	switch {
	case v >= 1e6:
		return roundSig(v/1e6) + "M"
	case v >= 1e3:
		return roundSig(v/1e3) + "k"
	}
	return roundSig(v)
}

// secLabel is a wall time: 0.1 s, 1 s, 10 s, 100 s.
func secLabel(v float64) string { return roundSig(v) + " s" }

func drawPanel(s *svgWriter, p panel, top float64) {
	minN, maxN, minW, maxW := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, sr := range p.series {
		for _, pt := range sr.points {
			minN, maxN = math.Min(minN, pt.n), math.Max(maxN, pt.n)
			minW, maxW = math.Min(minW, pt.wall), math.Max(maxW, pt.wall)
		}
	}
	if len(p.series) == 0 { // nothing placeable: empty axes, and the notes say why
		minN, maxN, minW, maxW = 100, 10000, 0.1, 10
	}
	px0, py0 := marginL, top+titleH
	xlo, xhi := logRange(minN, maxN)
	ylo, yhi := logRange(minW, maxW)
	xs := scale{lo: xlo, hi: xhi, from: px0, to: px0 + plotW}
	ys := scale{lo: ylo, hi: yhi, from: py0 + plotH, to: py0}

	s.printf(`<g class="panel">` + "\n")
	s.printf(`<text x="%s" y="%s" font-size="14" font-weight="bold">%s</text>`+"\n", f1(px0), f1(top+20), esc(p.title))
	s.printf(`<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#555555"/>`+"\n", f1(px0), f1(py0), f1(plotW), f1(plotH))
	for _, t := range ticks(xlo, xhi) {
		x := xs.at(t.v)
		s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", f1(x), f1(py0), f1(x), f1(py0+plotH), gridColor(t))
		if t.label {
			s.printf(`<text class="xtick" x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", f1(x), f1(py0+plotH+16), esc(nLabel(t.v)))
		}
	}
	for _, t := range ticks(ylo, yhi) {
		y := ys.at(t.v)
		s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", f1(px0), f1(y), f1(px0+plotW), f1(y), gridColor(t))
		if t.label {
			s.printf(`<text class="ytick" x="%s" y="%s" text-anchor="end">%s</text>`+"\n", f1(px0-6), f1(y+4), esc(secLabel(t.v)))
		}
	}
	s.printf(`<text x="%s" y="%s" text-anchor="middle">N (nodes, log scale)</text>`+"\n", f1(px0+plotW/2), f1(py0+plotH+36))
	cy := py0 + plotH/2
	s.printf(`<text x="18" y="%s" text-anchor="middle" transform="rotate(-90 18 %s)">median wall time (s, log scale)</text>`+"\n", f1(cy), f1(cy))

	for _, sr := range p.series {
		var d strings.Builder
		for _, pt := range sr.points {
			if pt.offLine {
				continue
			}
			cmd := "L"
			if d.Len() == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%s %s ", cmd, f1(xs.at(pt.n)), f1(ys.at(pt.wall)))
		}
		s.printf(`<g><title>%s</title>`+"\n", esc(sr.label))
		s.printf(`<path class="series" d="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.TrimSpace(d.String()), sr.style.color, dash(sr.style))
		for _, pt := range sr.points {
			marker(s, sr.style, xs.at(pt.n), ys.at(pt.wall), pt.hollow)
		}
		s.printf("</g>\n")
	}

	y := py0 + plotH + axisH
	for _, sr := range p.series {
		s.printf(`<g class="legend"><title>%s</title>`+"\n", esc(sr.label))
		s.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"%s/>`+"\n", f1(px0), f1(y+rowH/2), f1(px0+28), f1(y+rowH/2), sr.style.color, dash(sr.style))
		marker(s, sr.style, px0+14, y+rowH/2, false)
		s.printf(`<text x="%s" y="%s">%s</text></g>`+"\n", f1(px0+36), f1(y+rowH/2+4), esc(truncate(sr.label, maxLabel)))
		y += rowH
	}
	if p.hollow {
		s.printf(`<text x="%s" y="%s" fill="#444444">hollow marker: some runs failed to account for every node (every run failed: their median, off the line)</text>`+"\n", f1(px0), f1(y+rowH/2+4))
		y += rowH
	}
	for _, n := range p.notes {
		s.printf(`<text class="note" x="%s" y="%s" fill="#b00000">%s</text>`+"\n", f1(px0), f1(y+rowH/2+4), esc(truncate(n, 95)))
		y += rowH
	}
	s.printf("</g>\n")
}

func gridColor(t tick) string {
	if t.label {
		return gridMajor
	}
	return gridMinor
}

func dash(st style) string {
	if st.dashed {
		return ` stroke-dasharray="6 3"`
	}
	return ""
}

// marker draws one point's marker: filled, or hollow (white inside).
func marker(s *svgWriter, st style, x, y float64, hollow bool) {
	fill := st.color
	if hollow {
		fill = "#ffffff"
	}
	paint := fmt.Sprintf(`fill="%s" stroke="%s" stroke-width="1.5"`, fill, st.color)
	r := markerR
	switch st.shape {
	case 0:
		s.printf(`<circle cx="%s" cy="%s" r="%s" %s/>`+"\n", f1(x), f1(y), f1(r), paint)
	case 1:
		s.printf(`<rect x="%s" y="%s" width="%s" height="%s" %s/>`+"\n", f1(x-r), f1(y-r), f1(2*r), f1(2*r), paint)
	case 2:
		s.printf(`<polygon points="%s,%s %s,%s %s,%s" %s/>`+"\n", f1(x), f1(y-r-1), f1(x+r+1), f1(y+r), f1(x-r-1), f1(y+r), paint)
	default:
		s.printf(`<polygon points="%s,%s %s,%s %s,%s %s,%s" %s/>`+"\n", f1(x), f1(y-r-1), f1(x+r+1), f1(y), f1(x), f1(y+r+1), f1(x-r-1), f1(y), paint)
	}
}

// truncate shortens s to n runes, with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// f1 formats a coordinate: one decimal is finer than a pixel, and fixed
// so the file diffs clean.
func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// esc escapes text for XML content.
func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) // writes to a Builder: never fails
	return b.String()
}

// svgWriter writes the document, keeping the first write error (the
// document goes to a buffer; the file is written whole).
type svgWriter struct {
	w   io.Writer
	err error
}

func (s *svgWriter) printf(format string, args ...any) {
	if s.err == nil {
		_, s.err = fmt.Fprintf(s.w, format, args...)
	}
}
