package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/benchrec"
)

// svgPanel is what a test sees of one panel of the document.
type svgPanel struct {
	title  string
	paths  int // series lines
	xticks []string
	yticks []string
	legend []string
	notes  []string
	hollow int // markers with a white fill
}

// parseSVG decodes the whole document (failing on any XML error) and
// sums up its panels.
func parseSVG(t *testing.T, doc []byte) []svgPanel {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var panels []svgPanel
	var stack []xml.StartElement
	depth := -1 // of the current panel's <g>
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG does not parse: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			stack = append(stack, tok)
			switch {
			case tok.Name.Local == "g" && attr(tok, "class") == "panel":
				panels = append(panels, svgPanel{})
				depth = len(stack)
			case depth < 0:
			case tok.Name.Local == "path" && attr(tok, "class") == "series":
				panels[len(panels)-1].paths++
			case attr(tok, "fill") == "#ffffff" && tok.Name.Local != "rect" || tok.Name.Local == "rect" && attr(tok, "fill") == "#ffffff" && attr(tok, "stroke") != "":
				panels[len(panels)-1].hollow++
			}
		case xml.EndElement:
			if len(stack) == depth {
				depth = -1
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if depth < 0 || len(stack) == 0 {
				continue
			}
			p, el, text := &panels[len(panels)-1], stack[len(stack)-1], string(tok)
			switch {
			case el.Name.Local != "text":
			case attr(el, "class") == "xtick":
				p.xticks = append(p.xticks, text)
			case attr(el, "class") == "ytick":
				p.yticks = append(p.yticks, text)
			case attr(el, "class") == "note":
				p.notes = append(p.notes, text)
			case attr(el, "font-weight") == "bold":
				p.title = text
			case len(stack) >= 2 && attr(stack[len(stack)-2], "class") == "legend":
				p.legend = append(p.legend, text)
			}
		}
	}
	return panels
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func TestSVG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.svg")
	_, stderr, err := runPlot(t, "-svg", path, fixture)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	panels := parseSVG(t, doc)
	var titles []string
	for _, p := range panels {
		titles = append(titles, p.title)
	}
	want := []string{"exec", "output: 10000 nodes x 1000 identical lines", "output: 50 nodes x 200000 distinct lines -b", "sim", "sshd"}
	if !slices.Equal(titles, want) {
		t.Fatalf("panels %q, want %q", titles, want)
	}
	// One line per tool (and per fanout of a tool when it has several).
	for i, n := range []int{2, 2, 1, 4, 8} {
		if panels[i].paths != n || len(panels[i].legend) != n {
			t.Errorf("panel %q: %d paths, legend %q, want %d", titles[i], panels[i].paths, panels[i].legend, n)
		}
	}
	sim := panels[3]
	if !slices.Equal(sim.xticks, []string{"1k", "10k", "100k"}) || !slices.Equal(sim.yticks, []string{"1 s", "10 s", "100 s"}) {
		t.Errorf("sim ticks x %q y %q", sim.xticks, sim.yticks)
	}
	if sim.hollow != 1 || panels[0].hollow != 1 || panels[4].hollow != 0 {
		t.Errorf("hollow markers: sim %d, exec %d, sshd %d; want 1, 1, 0", sim.hollow, panels[0].hollow, panels[4].hollow)
	}
	if !slices.Contains(panels[4].legend, "csub -R openssh (fanout 256)") {
		t.Errorf("sshd legend %q", panels[4].legend)
	}
	// A single N still gets ticks around it.
	if len(panels[1].xticks) < 2 || !slices.Contains(panels[1].xticks, "10k") {
		t.Errorf("single N: x ticks %q", panels[1].xticks)
	}
	for _, s := range []string{"N (nodes, log scale)", "median wall time (s, log scale)", "<title>Median wall time against N (sample.jsonl)</title>"} {
		if !bytes.Contains(doc, []byte(s)) {
			t.Errorf("SVG lacks %q", s)
		}
	}
	// The zero wall time is skipped with a note, in the panel and on stderr.
	if len(panels[2].notes) != 1 || !strings.Contains(panels[2].notes[0], "skipped a tool with a very long name | and a pipe <to escape>") ||
		!strings.Contains(stderr, "skipped a tool") {
		t.Errorf("notes %q, stderr %q", panels[2].notes, stderr)
	}
	// The same records give the same bytes.
	path2 := filepath.Join(t.TempDir(), "p.svg")
	if _, _, err := runPlot(t, "-svg", path2, fixture); err != nil {
		t.Fatal(err)
	}
	if doc2, _ := os.ReadFile(path2); !bytes.Equal(doc, doc2) {
		t.Error("two runs wrote different SVGs")
	}
	if _, _, err := runPlot(t, "-svg", filepath.Join(t.TempDir(), "no", "dir.svg"), fixture); err == nil {
		t.Error("an SVG path that cannot be written: no error")
	}
}

// TestSVGEdges draws the awkward cases: many tools, long names, a single
// point, every value of a panel unplaceable, tiny and huge figures.
func TestSVGEdges(t *testing.T) {
	var recs []benchrec.Record
	long := strings.Repeat("very long tool name ", 8)
	for i := range 25 {
		recs = append(recs, benchrec.Record{Scenario: "many", Tool: fmt.Sprintf("tool %02d", i), N: 1000 * (i + 1), WallS: float64(i + 1), OK: true})
	}
	recs = append(recs,
		benchrec.Record{Scenario: "one", Tool: long, N: 7, WallS: 0.003, OK: true},
		benchrec.Record{Scenario: "none", Tool: "a", N: 0, WallS: 1, OK: true},
		benchrec.Record{Scenario: "none", Tool: "b", N: 10, WallS: -1, OK: true},
		benchrec.Record{Scenario: "none", Tool: "c", N: 10, WallS: 5, OK: false},
		benchrec.Record{Scenario: "wide", Tool: "a", N: 1, WallS: 1e-6, OK: true},
		benchrec.Record{Scenario: "wide", Tool: "a", N: 1e9, WallS: 1e6, OK: true},
	)
	points, err := benchrec.Medians(recs)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	notes := writeSVG(&b, groupPoints(points), failedWalls(recs), nil)
	panels := parseSVG(t, b.Bytes())
	if len(panels) != 4 {
		t.Fatalf("%d panels", len(panels))
	}
	many, none, one, wide := panels[0], panels[1], panels[2], panels[3]
	if many.paths != 25 || len(many.legend) != 25 {
		t.Errorf("25 tools: %d paths, %d legend entries", many.paths, len(many.legend))
	}
	// The first twenty tools differ in colour or shape.
	seen := map[style]bool{}
	for i := range 20 {
		seen[styleOf(i, 0)] = true
	}
	if len(seen) != 20 {
		t.Errorf("%d distinct styles for 20 tools", len(seen))
	}
	if one.paths != 1 || len(one.xticks) < 2 || len(one.yticks) < 2 {
		t.Errorf("single point: %+v", one)
	}
	if l := one.legend[0]; len([]rune(l)) != maxLabel || !strings.HasSuffix(l, "…") {
		t.Errorf("long name in the legend: %q", l)
	}
	// c's only run failed: it is drawn hollow at its wall time, off the line.
	if none.paths != 1 || none.hollow != 1 || len(none.notes) != 2 || len(notes) != 2 {
		t.Errorf("unplaceable values: %+v, notes %q", none, notes)
	}
	if !slices.Equal(wide.xticks, []string{"1", "10", "100", "1k", "10k", "100k", "1M", "10M", "100M", "1000M"}) ||
		wide.yticks[0] != "0.000001 s" || wide.yticks[len(wide.yticks)-1] != "1000000 s" {
		t.Errorf("wide ranges: x %q y %q", wide.xticks, wide.yticks)
	}
	// A document of nothing placeable is still a document.
	b.Reset()
	writeSVG(&b, groupPoints(points[25:26]), nil, []string{"x<y>.jsonl"})
	parseSVG(t, b.Bytes())
}

func TestTicks(t *testing.T) {
	label := func(lo, hi float64) []string {
		var out []string
		for _, tk := range ticks(math.Log10(lo), math.Log10(hi)) {
			if tk.label {
				out = append(out, secLabel(tk.v))
			}
		}
		return out
	}
	if got := label(0.08, 150); !slices.Equal(got, []string{"0.1 s", "1 s", "10 s", "100 s"}) {
		t.Errorf("4 decades: %q", got)
	}
	// Under two decades the 2s and 5s are labelled too.
	if got := label(3, 30); !slices.Equal(got, []string{"5 s", "10 s", "20 s"}) {
		t.Errorf("one decade: %q", got)
	}
	if lo, hi := logRange(42, 42); hi-lo < 1 || lo >= math.Log10(42) || hi <= math.Log10(42) {
		t.Errorf("single value: range %v..%v", lo, hi)
	}
	for v, want := range map[float64]string{50: "50", 200: "200", 1000: "1k", 20000: "20k", 100000: "100k", 1e6: "1M", 2.5e6: "2.5M"} {
		if got := nLabel(v); got != want {
			t.Errorf("nLabel(%v) = %q, want %q", v, got, want)
		}
	}
}

// FuzzRecordsToOutputs reads any records file through to the tables and
// the SVG: nothing panics, and the SVG always parses.
func FuzzRecordsToOutputs(f *testing.F) {
	seed, err := os.ReadFile(fixture)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"scenario":"s\u0001<","tool":"\u00ff&","n":-3,"wall_s":1e300,"cpu_s":{"agents":-1},"ok":true}` + "\n"))
	f.Add([]byte(`{"scenario":"s","tool":"t","n":1,"wall_s":5e-324,"ok":false}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := benchrec.Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		points, err := benchrec.Medians(recs)
		if err != nil {
			return
		}
		groups := groupPoints(points)
		if err := writeTables(io.Discard, groups); err != nil {
			t.Fatal(err)
		}
		_ = writeRatios(io.Discard, groups, points[0].Tool, "")
		var b bytes.Buffer
		writeSVG(&b, groups, failedWalls(recs), []string{"fuzz"})
		parseSVG(t, b.Bytes())
	})
}
