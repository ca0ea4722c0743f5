package benchrec

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestAppendReadMedians(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	recs := []Record{
		{Scenario: "sim", Tool: "fleet 4 agents", N: 1000, Run: 1, WallS: 3, CPUS: map[string]float64{"agents": 2}, OK: true},
		{Scenario: "sim", Tool: "fleet 4 agents", N: 1000, Run: 2, WallS: 1, CPUS: map[string]float64{"agents": 4}, OK: true},
		{Scenario: "sim", Tool: "fleet 4 agents", N: 1000, Run: 3, WallS: 2, OK: true},
		{Scenario: "sim", Tool: "fleet 4 agents", N: 1000, Run: 4, WallS: 99, OK: false, Note: "lost nodes"},
		{Scenario: "sim", Tool: "bare x/crypto/ssh", N: 1000, Run: 1, WallS: 0.5, OK: true},
	}
	if err := Append(path, recs[:2]...); err != nil {
		t.Fatal(err)
	}
	if err := Append(path, recs[2:]...); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil || len(got) != len(recs) {
		t.Fatalf("read %d records, err %v", len(got), err)
	}
	points, err := Medians(got)
	if err != nil {
		t.Fatal(err)
	}
	if len(points) != 2 || points[0].Tool != "bare x/crypto/ssh" {
		t.Fatalf("points %+v", points)
	}
	p := points[1]
	// The failed run is counted, not averaged; a figure missing from a
	// run is the median of the runs that have it.
	if p.Runs != 3 || p.Failed != 1 || p.WallS != 2 || p.CPUS["agents"] != 3 {
		t.Fatalf("point %+v", p)
	}
}

func TestReadErrors(t *testing.T) {
	if _, err := Read(strings.NewReader("{\"scenario\":\"sim\"}\n\n{bad\n")); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("err %v, want one naming line 3", err)
	}
	if _, err := Medians(nil); err != ErrNoRuns {
		t.Fatalf("err %v", err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"scenario":"sim","tool":"x","n":1,"wall_s":1.5,"cpu_s":{"a":1},"ok":true}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := Read(strings.NewReader(string(data)))
		if err == nil {
			_, _ = Medians(recs)
		}
	})
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{4, 1, 2, 3}, 2.5}, {[]float64{5, 1, 3}, 3}} {
		if got := Median(c.xs); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}
