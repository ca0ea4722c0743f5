package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetsh/fleetsh/internal/benchrec"
)

// writeTables prints a markdown table of medians per group.
func writeTables(w io.Writer, groups []group) error {
	bw := bufio.NewWriter(w)
	for i, g := range groups {
		if i > 0 {
			bw.WriteString("\n")
		}
		roles := mapNames(g.Points, func(p benchrec.Point) map[string]float64 { return p.CPUS })
		rssRoles := mapNames(g.Points, func(p benchrec.Point) map[string]float64 { return p.PeakRSSMiB })
		extras := mapNames(g.Points, func(p benchrec.Point) map[string]float64 { return p.Extra })
		head := []string{"tool", "N", "fanout", "runs", "wall s", "growth"}
		for _, r := range roles {
			head = append(head, "CPU "+r+" s (ms/node)")
		}
		for _, r := range rssRoles {
			head = append(head, "peak RSS "+r+" MiB")
		}
		head = append(head, extras...)
		fmt.Fprintf(bw, "### %s\n\n", escapeCell(g.title()))
		writeRow(bw, head)
		writeAlign(bw, len(head))
		for i, p := range g.Points {
			grow := "-"
			if i > 0 {
				if e, ok := growth(g.Points[i-1], p); ok {
					grow = strconv.FormatFloat(e, 'f', 2, 64)
				}
			}
			row := []string{p.Tool, strconv.Itoa(p.N), fanout(p.Fanout), runs(p), wallCell(p), grow}
			for _, r := range roles {
				row = append(row, cpuCell(p, r))
			}
			for _, r := range rssRoles {
				row = append(row, figure(p.PeakRSSMiB, r, p.Runs))
			}
			for _, e := range extras {
				row = append(row, figure(p.Extra, e, p.Runs))
			}
			writeRow(bw, row)
		}
	}
	return bw.Flush()
}

// growth is the exponent of wall time in N from prev to p, points of
// the same tool and fanout: 1 is linear, 2 quadratic. The target "wall
// grows linearly in N" reads it.
func growth(prev, p benchrec.Point) (float64, bool) {
	if prev.Tool != p.Tool || prev.Fanout != p.Fanout || prev.N <= 0 || p.N <= prev.N ||
		prev.Runs == 0 || p.Runs == 0 || prev.WallS <= 0 || p.WallS <= 0 {
		return 0, false
	}
	return math.Log(p.WallS/prev.WallS) / math.Log(float64(p.N)/float64(prev.N)), true
}

// writeRatios prints, per group that has points of ref, each other
// tool's wall and CPU per node against ref's at the same N and fanout.
func writeRatios(w io.Writer, groups []group, ref, role string) error {
	bw := bufio.NewWriter(w)
	found := false
	for _, g := range groups {
		if !slices.ContainsFunc(g.Points, func(p benchrec.Point) bool { return p.Tool == ref }) {
			continue
		}
		if found {
			bw.WriteString("\n")
		}
		found = true
		fmt.Fprintf(bw, "### %s: ratios to %s\n\n", escapeCell(g.title()), escapeCell(ref))
		head := []string{"tool", "N", "fanout", "wall s", "wall / ref", "CPU role (ref's)", "CPU ms/node", "CPU / ref"}
		writeRow(bw, head)
		writeAlign(bw, len(head))
		for _, p := range byNThenTool(g.Points) {
			if p.Tool == ref {
				continue
			}
			r, ok := findRef(g.Points, ref, p.N, p.Fanout)
			if !ok {
				writeRow(bw, []string{p.Tool, strconv.Itoa(p.N), fanout(p.Fanout), wallCell(p), "no ref", "", "", ""})
				continue
			}
			fo := fanout(p.Fanout)
			if r.Fanout != p.Fanout {
				fo += " (ref " + fanout(r.Fanout) + ")"
			}
			pRole, rRole := mainRole(p, role), mainRole(r, role)
			roleCell := pRole
			if roleCell == "" { // no CPU figures (every run failed)
				roleCell = "-"
			}
			if rRole != pRole {
				roleCell += " (" + rRole + ")"
			}
			pCPU, okP := cpuPerNodeMS(p, pRole)
			rCPU, okR := cpuPerNodeMS(r, rRole)
			cpuCellText, cpuRatio := "-", "-"
			if okP {
				cpuCellText = num(pCPU)
			}
			if v, ok := ratio(pCPU, rCPU); ok && okP && okR {
				cpuRatio = num(v) + "x"
			}
			wallRatio := "-"
			if v, ok := ratio(p.WallS, r.WallS); ok && p.Runs > 0 && r.Runs > 0 {
				wallRatio = num(v) + "x"
			}
			writeRow(bw, []string{p.Tool, strconv.Itoa(p.N), fo, wallCell(p), wallRatio, roleCell, cpuCellText, cpuRatio})
		}
	}
	if !found {
		return fmt.Errorf("-ref %q: no such tool in the records (tools: %q)", ref, allTools(groups))
	}
	return bw.Flush()
}

// mainRoles are the CPU roles a tool's cost is judged by, first found
// first: a fleet's work is done by its agents; a bare loop or an ssh
// tool is its client; csub alone on the in-process fleet is csub.
var mainRoles = []string{"agents", "client", "csub"}

// mainRole is the CPU role of p that ratios compare: override when set.
func mainRole(p benchrec.Point, override string) string {
	if override != "" {
		return override
	}
	for _, r := range mainRoles {
		if _, ok := p.CPUS[r]; ok {
			return r
		}
	}
	return ""
}

// cpuPerNodeMS is p's CPU time of role per node, in milliseconds.
func cpuPerNodeMS(p benchrec.Point, role string) (float64, bool) {
	v, ok := p.CPUS[role]
	if !ok || p.N <= 0 || p.Runs == 0 {
		return 0, false
	}
	return v * 1000 / float64(p.N), true
}

// ratio is a/b, when both are figures a ratio means something of.
func ratio(a, b float64) (float64, bool) {
	if b <= 0 || a < 0 || math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return 0, false
	}
	return a / b, true
}

// findRef is ref's point at n and fanout; failing that, its only point
// at n whatever its fanout (a bare loop recorded without one).
func findRef(points []benchrec.Point, ref string, n, fo int) (benchrec.Point, bool) {
	var atN []benchrec.Point
	for _, p := range points {
		if p.Tool != ref || p.N != n {
			continue
		}
		if p.Fanout == fo {
			return p, true
		}
		atN = append(atN, p)
	}
	if len(atN) == 1 {
		return atN[0], true
	}
	return benchrec.Point{}, false
}

// byNThenTool orders a copy of points for comparing tools at one size.
func byNThenTool(points []benchrec.Point) []benchrec.Point {
	s := slices.Clone(points)
	slices.SortStableFunc(s, func(a, b benchrec.Point) int {
		if a.N != b.N {
			return a.N - b.N
		}
		if a.Fanout != b.Fanout {
			return a.Fanout - b.Fanout
		}
		return strings.Compare(a.Tool, b.Tool)
	})
	return s
}

// mapNames is the sorted union of the keys of one map of the points.
func mapNames(points []benchrec.Point, get func(benchrec.Point) map[string]float64) []string {
	var names []string
	for _, p := range points {
		for name := range get(p) {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names
}

func runs(p benchrec.Point) string {
	switch {
	case p.Failed == 0:
		return strconv.Itoa(p.Runs)
	case p.Runs == 0:
		return fmt.Sprintf("0 (%d failed)", p.Failed)
	}
	return fmt.Sprintf("%d (+%d failed)", p.Runs, p.Failed)
}

func wallCell(p benchrec.Point) string {
	if p.Runs == 0 {
		return "-"
	}
	return num(p.WallS)
}

func cpuCell(p benchrec.Point, role string) string {
	v, ok := p.CPUS[role]
	if !ok || p.Runs == 0 {
		return "-"
	}
	if ms, ok := cpuPerNodeMS(p, role); ok {
		return num(v) + " (" + num(ms) + ")"
	}
	return num(v)
}

func figure(m map[string]float64, name string, okRuns int) string {
	v, ok := m[name]
	if !ok || okRuns == 0 {
		return "-"
	}
	return num(v)
}

func fanout(f int) string {
	if f == 0 {
		return "-"
	}
	return strconv.Itoa(f)
}

// num formats a figure with three significant digits, without exponents
// for the sizes benches produce.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	if a < 1e-9 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', 2-int(math.Floor(math.Log10(a))), 64)
}

func writeRow(w *bufio.Writer, cells []string) {
	w.WriteString("|")
	for _, c := range cells {
		w.WriteString(" " + escapeCell(c) + " |")
	}
	w.WriteString("\n")
}

// writeAlign writes the separator row: the first column (tool) left,
// figures right.
func writeAlign(w *bufio.Writer, n int) {
	w.WriteString("|---|")
	for i := 1; i < n; i++ {
		w.WriteString("---:|")
	}
	w.WriteString("\n")
}

// escapeCell keeps a name from breaking the table: a pipe would end the
// cell and a newline the row.
func escapeCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
