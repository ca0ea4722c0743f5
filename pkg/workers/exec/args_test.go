package exec

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	osexec "os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/testreq"
)

var splitCases = []string{
	"", "  ", "-oPort=22 -i ~/.ssh/id", `-o "ProxyCommand ssh gw -W %h:%p"`,
	`a'b c'd`, `'' ""`, `a\ b`, `"a\"b\\c\d"`, `'a\b'`, "x\ty\nz\r", `\'`, `"$HOME"`,
}

func TestSplitArgsMatchesPython(t *testing.T) {
	want := map[string][]string{
		"":                                  nil,
		"-oPort=22 -i ~/.ssh/id":            {"-oPort=22", "-i", "~/.ssh/id"},
		`-o "ProxyCommand ssh gw -W %h:%p"`: {"-o", "ProxyCommand ssh gw -W %h:%p"},
		`a'b c'd`:                           {"ab cd"},
		`'' ""`:                             {"", ""},
		`"a\"b\\c\d"`:                       {`a"b\c\d`},
	}
	for s, w := range want {
		got, err := SplitArgs(s)
		if err != nil || !slices.Equal(got, w) {
			t.Errorf("SplitArgs(%q) = %q, %v; want %q", s, got, err, w)
		}
	}
	for _, s := range []string{`"a`, `'a`, `a\`} {
		if _, err := SplitArgs(s); err == nil {
			t.Errorf("SplitArgs(%q): no error", s)
		}
	}
	py := testreq.LookPath(t, testreq.Python3, "python3")
	in, _ := json.Marshal(splitCases)
	cmd := osexec.Command(py, "-c", "import json,shlex,sys; json.dump([shlex.split(s) for s in json.load(sys.stdin)], sys.stdout)")
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var pyWant [][]string
	if err := json.Unmarshal(out, &pyWant); err != nil {
		t.Fatal(err)
	}
	for i, s := range splitCases {
		got, _ := SplitArgs(s)
		if !slices.Equal(got, pyWant[i]) {
			t.Errorf("SplitArgs(%q) = %q; python %q", s, got, pyWant[i])
		}
	}
}

func TestExpandUser(t *testing.T) {
	t.Setenv("HOME", "/home/me/")
	for in, want := range map[string]string{
		"~": "/home/me", "~/x": "/home/me/x", "a~": "a~", "-i": "-i",
		"~nosuchuser-fleetsh/x": "~nosuchuser-fleetsh/x", "~root/x": "/root/x",
	} {
		if in == "~root/x" {
			if _, err := os.Stat("/root"); err != nil {
				continue
			}
		}
		if got := ExpandUser(in); got != want {
			t.Errorf("ExpandUser(%q) = %q, want %q", in, got, want)
		}
	}
	t.Setenv("HOME", "/")
	if got := ExpandUser("~"); got != "/" {
		t.Errorf("ExpandUser(~) with HOME=/ = %q", got)
	}
}

func TestSplitInfoArgs(t *testing.T) {
	t.Setenv("HOME", "/h")
	info := func(k string) (any, bool) {
		switch k {
		case "opts":
			return "-i ~/id  -oX='a b'", true
		case "bad":
			return `"`, true
		case "num":
			return 5, true
		}
		return nil, false
	}
	got, err := SplitInfoArgs(info, "opts", true)
	if err != nil || !slices.Equal(got, []string{"-i", "/h/id", "-oX=a b"}) {
		t.Errorf("SplitInfoArgs = %q, %v", got, err)
	}
	if got, _ := SplitInfoArgs(info, "opts", false); got[1] != "~/id" {
		t.Errorf("expanded without expand: %q", got)
	}
	if _, err := SplitInfoArgs(info, "bad", false); !errors.Is(err, ErrNoClosingQuotation) || !strings.Contains(err.Error(), "bad") {
		t.Errorf("bad quoting: %v", err)
	}
	if got, err := SplitInfoArgs(info, "unset", true); got != nil || err != nil {
		t.Errorf("unset: %q %v", got, err)
	}
	if InfoString(info, "num") != "5" || InfoString(nil, "x") != "" {
		t.Error("InfoString")
	}
}

func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 0, -time.Second: 0, time.Millisecond: 1, 1500 * time.Millisecond: 1, 10 * time.Second: 10} {
		if got := Seconds(d); got != want {
			t.Errorf("Seconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestLineFilter(t *testing.T) {
	var out bytes.Buffer
	var seen []string
	f := &LineFilter{W: &out, MaxLine: 10, Keep: func(l []byte) bool {
		seen = append(seen, string(l))
		return !bytes.HasPrefix(l, []byte("DROP"))
	}}
	for _, chunk := range []string{"a\nDR", "OP me\r\nb", "c\n", "0123456789abcdef", "ghi\nDROP\n", "x\r\nDROP tail"} {
		if n, err := f.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write: %d %v", n, err)
		}
	}
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := "a\nbc\n0123456789abcdefghi\nx\r\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	if want := []string{"a", "DROP me", "bc", "DROP", "x", "DROP tail"}; !slices.Equal(seen, want) {
		t.Errorf("Keep saw %q, want %q", seen, want)
	}
}
