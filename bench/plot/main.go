// Command plot turns the records of bench runs (internal/benchrec, JSON
// lines written by the scenario benchmarks under integration/) into the
// markdown tables and the SVG plot that docs/BENCHMARKS.md shows.
//
//	go run ./bench/plot [-table] [-svg FILE] [-ref TOOL [-cpu ROLE]] FILE.jsonl...
//
// The records of every file are read together and grouped into points:
// the medians of every run of one tool at one size (benchrec.Medians).
// Runs that did not account for every node are counted, not averaged.
//
//	-table     print the medians as markdown tables, one per scenario and
//	           case: tool, N, fanout, runs (failed runs noted), median
//	           wall, its growth from the tool's previous N (the exponent
//	           of N: 1.00 is linear), CPU per role (seconds, and
//	           milliseconds per node), peak RSS per role, and the extra
//	           figures of the records.
//	           The default when neither -svg nor -ref is given.
//	-ref TOOL  print, per scenario and case, each other tool's ratios to
//	           TOOL at the same N and fanout: wall time, and CPU per node
//	           of each tool's main role ("agents" when the tool has it,
//	           else "client", else "csub"). When TOOL has no point at the
//	           same fanout but exactly one at that N, that one is used
//	           (bare loops often run without a fanout of their own).
//	-cpu ROLE  with -ref: compare CPU per node of ROLE for every tool.
//	-svg FILE  write one SVG: a panel per scenario and case, median wall
//	           time against N, both on log scales, a line and markers per
//	           tool. A hollow marker is a point where some runs failed;
//	           when every run failed, it sits at their median wall time,
//	           off the line. Zero or negative figures cannot be placed on a
//	           log scale: they are skipped, with a note in the panel and on
//	           standard error.
//
// The output depends only on the records (sorted, no dates), so a plot
// regenerated from the same results diffs clean.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/fleetsh/fleetsh/internal/benchrec"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "plot:", err)
		}
		os.Exit(2)
	}
}

// options are the command line's.
type options struct {
	table   bool
	svgPath string
	ref     string
	cpuRole string
	files   []string
}

func parseArgs(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("plot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.table, "table", false, "print the medians as markdown tables")
	fs.StringVar(&o.svgPath, "svg", "", "write wall time against N to this SVG `file`")
	fs.StringVar(&o.ref, "ref", "", "print each tool's ratios to this `tool`")
	fs.StringVar(&o.cpuRole, "cpu", "", "with -ref, the CPU `role` to compare (default: each tool's main role)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./bench/plot [-table] [-svg FILE] [-ref TOOL [-cpu ROLE]] FILE.jsonl...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.files = fs.Args()
	switch {
	case len(o.files) == 0:
		fs.Usage()
		return o, errors.New("no records file given")
	case o.cpuRole != "" && o.ref == "":
		return o, errors.New("-cpu needs -ref")
	}
	if !o.table && o.svgPath == "" && o.ref == "" {
		o.table = true
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseArgs(args, stderr)
	if err != nil {
		return err
	}
	var recs []benchrec.Record
	for _, path := range o.files {
		rs, err := benchrec.ReadFile(path)
		if err != nil {
			return err
		}
		recs = append(recs, rs...)
	}
	points, err := benchrec.Medians(recs)
	if err != nil {
		return fmt.Errorf("%v: %w", o.files, err)
	}
	groups := groupPoints(points)
	if o.table {
		if err := writeTables(stdout, groups); err != nil {
			return err
		}
	}
	if o.ref != "" {
		if o.table {
			fmt.Fprintln(stdout)
		}
		if err := writeRatios(stdout, groups, o.ref, o.cpuRole); err != nil {
			return err
		}
	}
	if o.svgPath != "" {
		names := make([]string, len(o.files))
		for i, f := range o.files {
			names[i] = filepath.Base(f)
		}
		if err := writeSVGFile(o.svgPath, groups, failedWalls(recs), names, stderr); err != nil {
			return err
		}
	}
	return nil
}

// group is the points of one scenario and case: one table, one panel.
type group struct {
	Scenario, Case string
	Points         []benchrec.Point
}

// title names the group in headings and panel titles.
func (g group) title() string {
	if g.Case == "" {
		return g.Scenario
	}
	return g.Scenario + ": " + g.Case
}

// groupPoints splits points (sorted by benchrec.Medians) by scenario and
// case, keeping their order.
func groupPoints(points []benchrec.Point) []group {
	var gs []group
	for _, p := range points {
		if n := len(gs); n == 0 || gs[n-1].Scenario != p.Scenario || gs[n-1].Case != p.Case {
			gs = append(gs, group{Scenario: p.Scenario, Case: p.Case})
		}
		gs[len(gs)-1].Points = append(gs[len(gs)-1].Points, p)
	}
	return gs
}

// allTools is the sorted names of the tools of groups.
func allTools(groups []group) []string {
	var tools []string
	for _, g := range groups {
		for _, p := range g.Points {
			if !slices.Contains(tools, p.Tool) {
				tools = append(tools, p.Tool)
			}
		}
	}
	slices.Sort(tools)
	return tools
}

// failedWalls is, for each point whose runs all failed, the median wall
// time of those runs: Medians leaves such a point at 0, and the plot
// still shows where it was.
func failedWalls(recs []benchrec.Record) map[benchrec.Key]float64 {
	ok := map[benchrec.Key]bool{}
	walls := map[benchrec.Key][]float64{}
	for _, r := range recs {
		k := benchrec.Key{Scenario: r.Scenario, Case: r.Case, Tool: r.Tool, N: r.N, Fanout: r.Fanout}
		if r.OK {
			ok[k] = true
		} else {
			walls[k] = append(walls[k], r.WallS)
		}
	}
	out := map[benchrec.Key]float64{}
	for k, ws := range walls {
		if !ok[k] {
			out[k] = benchrec.Median(ws)
		}
	}
	return out
}
