package pyini

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/testreq"
)

func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadGet(t *testing.T) {
	dir := t.TempDir()
	a := write(t, dir, "a.conf", "[Main]\nFanout: 8\nssh_options = -oX=1\n  -oY=2\n\n# c\nref: %(fanout)s!\n[mode:x]\npct: 100%%\n")
	b := write(t, dir, "b.conf", "[Main]\nfanout: 16\n")
	c := New()
	c.AddSection("Main")
	if err := c.Set("Main", "verbosity", "1"); err != nil {
		t.Fatal(err)
	}
	parsed, err := c.Read(a, filepath.Join(dir, "missing"), b)
	if err != nil || len(parsed) != 2 {
		t.Fatalf("parsed %v, %v", parsed, err)
	}
	for _, g := range []struct{ sect, opt, want string }{
		{"Main", "fanout", "16"}, {"Main", "ssh_options", "-oX=1\n-oY=2"}, {"Main", "verbosity", "1"},
		{"mode:x", "pct", "100%"}, {"Main", "ref", "16!"},
	} {
		if v, err := c.Get(g.sect, g.opt); err != nil || v != g.want {
			t.Errorf("%s.%s = %q, %v; want %q", g.sect, g.opt, v, err, g.want)
		}
	}
	if got := strings.Join(c.Sections(), ","); got != "Main,mode:x" {
		t.Errorf("sections %s", got)
	}
	var nse *NoSectionError
	if _, err := c.Get("nope", "x"); !errors.As(err, &nse) || err.Error() != "No section: 'nope'" {
		t.Errorf("got %v", err)
	}
	var noe *NoOptionError
	if _, err := c.Get("Main", "x"); !errors.As(err, &noe) || err.Error() != "No option 'x' in section: 'Main'" {
		t.Errorf("got %v", err)
	}
	if err := c.Set("Main", "ssh_options", "-o %h"); err == nil || err.Error() != "invalid interpolation syntax in '-o %h' at position 3" {
		t.Errorf("got %v", err)
	}
}

// TestErrorsAgainstPython checks the messages of malformed files and bad
// interpolations against Python's configparser, when python3 is there.
func TestErrorsAgainstPython(t *testing.T) {
	py := testreq.LookPath(t, testreq.Python3, "python3")
	dir := t.TempDir()
	for i, text := range []string{
		"fanout: 3\n",
		"[Main]\nfanout 3\nok: 1\n",
		"[Main]\na: 1\n[Main]\n",
		"[Main]\na: 1\nA: 2\n",
		"[Main]\na: %(b)s\n",
		"[Main]\na: 50%\n",
		"[Main]\na: %(a)s\n",
		"[Main]\n: x\n",
		"[DEFAULT]\nb: 2\n[Main]\na: %(b)s\n",
	} {
		p := write(t, dir, "c"+string(rune('0'+i))+".conf", text)
		out, err := exec.Command(py, "-c", `
import configparser, sys
c = configparser.ConfigParser()
try:
    c.read(sys.argv[1])
    print(c.get("Main", "a"), end="")
except Exception as e:
    print("ERR:" + str(e), end="")
`, p).Output()
		if err != nil {
			t.Fatal(err)
		}
		c := New()
		var got string
		if _, err := c.Read(p); err != nil {
			got = "ERR:" + err.Error()
		} else if v, err := c.Get("Main", "a"); err != nil {
			got = "ERR:" + err.Error()
		} else {
			got = v
		}
		if got != string(out) {
			t.Errorf("%q:\n got %q\nwant %q", text, got, out)
		}
	}
}
