package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// TestDebugLines: with debug on, the loop prints each line read just
// before OnRead, on both streams, with the job's key; none for a last
// line without line ending, none with debug off.
func TestDebugLines(t *testing.T) {
	drv := &funcDriver{run: func(ctx context.Context, j *Job) Result {
		fmt.Fprint(j.Stdout, "a\r\nit's\n")
		fmt.Fprint(j.Stderr, "e\n")
		fmt.Fprint(j.Stdout, "tail")
		return Result{}
	}}
	for _, debug := range []bool{true, false} {
		task := New()
		rec := &recorder{}
		task.SetInfo(InfoDebug, debug)
		task.SetInfo(InfoPrintDebug, func(_ *Task, line string) { rec.add("debug %s", line) })
		if _, err := task.Shell("x", Options{Nodes: nodeset.MustParse("n1"), Handler: rec, Driver: drv, Stderr: true}); err != nil {
			t.Fatal(err)
		}
		if err := task.Resume(0); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range rec.events {
			if strings.HasPrefix(e, "debug") || strings.HasPrefix(e, "read") {
				got = append(got, e)
			}
		}
		// Both streams are one driver goroutine here: their order holds.
		want := "read n1 stdout a|read n1 stdout it's|read n1 stderr e|read n1 stdout tail"
		if debug {
			want = "debug n1: b'a'|read n1 stdout a|debug n1: b\"it's\"|read n1 stdout it's|debug n1: b'e'|read n1 stderr e|read n1 stdout tail"
		}
		if strings.Join(got, "|") != want {
			t.Errorf("debug %v: events %q\nwant %q", debug, got, want)
		}
	}
}
