// Package benchrec records what the bench/ scenarios measure, as JSON
// lines: one Record per timed run of one tool at one size. The scenario
// benchmarks append records; bench/plot reads them back to draw wall time
// against N and to print the medians and ratios docs/BENCHMARKS.md quotes.
// A file of records is the whole result of a bench run: it is what the
// plot and the tables are made from, and what a later run compares with.
package benchrec

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
)

// Record is one timed run.
type Record struct {
	// Scenario is the bench scenario: "sshd", "sim", "exec", "output".
	Scenario string `json:"scenario"`
	// Case narrows the scenario when it has several (for example
	// "fanout 64", or "identical lines"); empty when it has one.
	Case string `json:"case,omitempty"`
	// Tool is what ran: "csub", "csub -R openssh", "clush", "pdsh",
	// "fleet 4 agents", "bare x/crypto/ssh", "bare spawn", ...
	Tool string `json:"tool"`
	// N is the number of nodes.
	N int `json:"n"`
	// Fanout is the tool's fanout, when it has one.
	Fanout int `json:"fanout,omitempty"`
	// Run numbers the repetitions of one (scenario, case, tool, N), from 1.
	Run int `json:"run"`
	// WallS is the wall time, in seconds.
	WallS float64 `json:"wall_s"`
	// CPUS is CPU time (user + system) by role, in seconds: "client",
	// "server", "csub", "coordinator", "agents", "simulator", ...
	CPUS map[string]float64 `json:"cpu_s,omitempty"`
	// PeakRSSMiB is the peak resident set by role, in MiB (for a role of
	// several processes, the largest).
	PeakRSSMiB map[string]float64 `json:"peak_rss_mib,omitempty"`
	// Extra holds other figures of the run, named with their unit
	// ("busy_s", "bytes_out", "limit_s").
	Extra map[string]float64 `json:"extra,omitempty"`
	// OK is false when the run did not account for every node; such a
	// run is kept (it is a result) but left out of medians.
	OK bool `json:"ok"`
	// Note says anything else about the run (an error, the machine load).
	Note string `json:"note,omitempty"`
}

// Append adds recs to the file at path, creating it if need be.
func Append(path string, recs ...Record) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("bench records: %w", err)
	}
	enc := json.NewEncoder(f)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return fmt.Errorf("bench records %s: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bench records %s: %w", path, err)
	}
	return nil
}

// maxLine bounds one record's line: a record is a few hundred bytes.
const maxLine = 1 << 20

// Read decodes the records of r, one JSON object per line.
func Read(r io.Reader) ([]Record, error) {
	var recs []Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return recs, fmt.Errorf("line %d: %w", line, err)
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		return recs, fmt.Errorf("line %d: %w", len(recs)+1, err)
	}
	return recs, nil
}

// ReadFile reads the records of the file at path.
func ReadFile(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench records: %w", err)
	}
	defer f.Close()
	recs, err := Read(f)
	if err != nil {
		return recs, fmt.Errorf("bench records %s: %w", path, err)
	}
	return recs, nil
}

// Key names one series point: every run of a tool at a size.
type Key struct {
	Scenario, Case, Tool string
	N, Fanout            int
}

// Point is the medians of a Key's successful runs.
type Point struct {
	Key
	Runs       int // successful runs
	Failed     int // runs that did not account for every node
	WallS      float64
	CPUS       map[string]float64
	PeakRSSMiB map[string]float64
	Extra      map[string]float64
}

// ErrNoRuns is returned by Medians for records that hold no run.
var ErrNoRuns = errors.New("no runs")

// Medians groups recs by Key and takes, for each, the median of every
// figure over its successful runs. Points come sorted by scenario, case,
// tool, fanout and N.
func Medians(recs []Record) ([]Point, error) {
	if len(recs) == 0 {
		return nil, ErrNoRuns
	}
	groups := map[Key][]Record{}
	for _, r := range recs {
		k := Key{r.Scenario, r.Case, r.Tool, r.N, r.Fanout}
		groups[k] = append(groups[k], r)
	}
	points := make([]Point, 0, len(groups))
	for k, rs := range groups {
		p := Point{Key: k}
		var ok []Record
		for _, r := range rs {
			if r.OK {
				ok = append(ok, r)
			} else {
				p.Failed++
			}
		}
		p.Runs = len(ok)
		p.WallS = median(ok, func(r Record) (float64, bool) { return r.WallS, true })
		p.CPUS = medianMap(ok, func(r Record) map[string]float64 { return r.CPUS })
		p.PeakRSSMiB = medianMap(ok, func(r Record) map[string]float64 { return r.PeakRSSMiB })
		p.Extra = medianMap(ok, func(r Record) map[string]float64 { return r.Extra })
		points = append(points, p)
	}
	sort.Slice(points, func(i, j int) bool {
		a, b := points[i].Key, points[j].Key
		switch {
		case a.Scenario != b.Scenario:
			return a.Scenario < b.Scenario
		case a.Case != b.Case:
			return a.Case < b.Case
		case a.Tool != b.Tool:
			return a.Tool < b.Tool
		case a.Fanout != b.Fanout:
			return a.Fanout < b.Fanout
		}
		return a.N < b.N
	})
	return points, nil
}

// Median is the median of xs (the mean of the middle two for an even
// count), 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func median(rs []Record, get func(Record) (float64, bool)) float64 {
	var xs []float64
	for _, r := range rs {
		if v, ok := get(r); ok {
			xs = append(xs, v)
		}
	}
	return Median(xs)
}

func medianMap(rs []Record, get func(Record) map[string]float64) map[string]float64 {
	names := map[string]bool{}
	for _, r := range rs {
		for name := range get(r) {
			names[name] = true
		}
	}
	if len(names) == 0 {
		return nil
	}
	out := make(map[string]float64, len(names))
	for name := range names {
		out[name] = median(rs, func(r Record) (float64, bool) {
			v, ok := get(r)[name]
			return v, ok
		})
	}
	return out
}
