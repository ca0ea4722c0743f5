package optparse

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// testdata/textwrap.json holds textwrap.wrap() results computed by the
// real Python (testdata/gen_cases.py); "py" is the call evaluated.
func TestWrapTextPythonCases(t *testing.T) {
	data, err := os.ReadFile("testdata/textwrap.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases struct {
		Wrap []struct {
			Py         string   `json:"py"`
			Text       string   `json:"text"`
			Width      int      `json:"width"`
			Initial    string   `json:"initial"`
			Subsequent string   `json:"subsequent"`
			Lines      []string `json:"lines"`
		} `json:"wrap"`
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases.Wrap) < 100 {
		t.Fatalf("only %d cases", len(cases.Wrap))
	}
	for _, c := range cases.Wrap {
		got := wrapText(c.Text, c.Width, c.Initial, c.Subsequent)
		if strings.Join(got, "\n") != strings.Join(c.Lines, "\n") || len(got) != len(c.Lines) {
			t.Errorf("%s:\n got %q\nwant %q", c.Py, got, c.Lines)
		}
	}
}

func TestWrapTextChunks(t *testing.T) {
	// The example of TextWrapper._split's docstring:
	// TextWrapper()._split('Look, goof-ball -- use the -b option!')
	want := []string{"Look,", " ", "goof-", "ball", " ", "--", " ", "use", " ", "the", " ", "-b", " ", "option!"}
	var got []string
	for _, c := range splitChunks([]rune("Look, goof-ball -- use the -b option!")) {
		got = append(got, string(c))
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestWrapTextNoHang(t *testing.T) {
	// Python's textwrap.wrap('\n 日本-語  é-é ', 2, initial_indent='    ',
	// subsequent_indent='    ') never returns; we must. A regression would
	// loop forever: the calls run aside, and a generous bound (they take
	// microseconds) turns a hang into a failure naming it rather than the
	// go test timeout.
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = wrapText("\n 日本-語  é-é ", 2, "    ", "    ")
		_ = wrapText("    --- _x-y_\né-é", 1, "    ", "    ")
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("wrapText hangs on an indent wider than the width (Python's textwrap loops forever there)")
	}
}
