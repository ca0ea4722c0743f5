package topology

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
	"github.com/fleetsh/fleetsh/internal/testreq"
)

// clusterShellScript loads each file with ClusterShell's TopologyParser and
// reads it with the ConfigParser that ClusterShell builds; it prints, per
// file, ConfigParser's items of the routes section and ClusterShell's
// error, if any.
const clusterShellScript = `
import configparser, json, sys
from ClusterShell.Topology import TopologyParser
out = []
for path in sys.argv[1:]:
    res = {"items": None, "error": None}
    c = configparser.ConfigParser()
    c.optionxform = str
    try:
        c.read(path, encoding="utf-8")
        res["items"] = c.items("routes" if c.has_section("routes") else "Main")
    except Exception as e:
        res["items_error"] = type(e).__name__
    try:
        TopologyParser(path)
    except Exception as e:
        res["error"] = str(e)
    out.append(res)
print(json.dumps(out))
`

// TestAgainstClusterShell compares Parse with ClusterShell 1.9 (Debian's
// python3-clustershell) when it is installed: ConfigParser must give the
// same (key, value) items as fleetsh's reader, and ClusterShell must reject
// the files fleetsh rejects, with the message fleetsh's starts with.
func TestAgainstClusterShell(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import ClusterShell.Topology").Run(); err != nil {
		testreq.Skip(t, testreq.ClusterShell, "ClusterShell's Python library is not installed: "+err.Error())
	}
	confs := []string{
		rioConf,
		"[Main]\nrio0: rio[10-13]\n",
		"[Main]\nx: y\n[routes]\nrio0: rio[10-13]\n",
		"# c\n; c\n[routes]\n# c\n  ; c\na: b\n\n#c: d\n",
		"[routes]\n  a  =  b[1-2] , b3\nc=d:e\nGW: f\ngw: g\n",
		"[routes]\na: b[1-2],\n   b3\n",
		"[routes]\na: b[1-2],\n\n   b3\n   # c\n   b4\n\n\n",
		"[routes]\n  a: b,\n   c\n  d: e\n",
		"[routes]\na: x\n   [other]\n",
		"[DEFAULT]\na: x\nd: e\n[routes]\na: b\n",
		"[routes]\nbase: node\na: %(base)s[1-2],x%%\n",
		"[routes]\r\na: b\r\nc: d\re: f",
		"[routes] # c\na: b\n[]]\nz: y\n",
		"[routes]\na: b\nb: b,c\n",
		"[routes]\na: b\nb: a\n",
		"[routes]\na: b\nb: c\nc: a\n",
		"[routes]\na: b[1-5]\nc: b5\n",
		"[routes]\na: b[1-2]\nb[1-3]: c\n",
		"[routes]\na[1-3]: b\nc: a[1-2]\n",
		"[routes]\na: b[1-2]\nb[1-2]: c\nx: b[1-2]\n",
		"[routes]\ngw[1-2]: n[1-10]\ngw1,gw2: n[11-20]\n",
		"\n# c\na: b\n",
		"[other]\na: b\n",
		"[routes]\nfoo\n",
		"[routes]\n : b\n",
		"[routes]\n  a: b\n c\n",
		"[routes]\na: b\na: c\n",
		"[routes]\na: b\n[routes]\nc: d\n",
		"[routes]\na: b%\n",
		"[routes]\na: %(x)s\n",
		"[routes]\na: %(x\n",
		"[routes]\na: %(a)s\n",
		"[routes]\na: b\nc: d[3-1]\n",
		"[routes]\nd[1-: b\n",
	}
	dir := t.TempDir()
	var paths []string
	for i, c := range confs {
		p := filepath.Join(dir, "t"+itoa(i+1)+".conf")
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	cmd := exec.Command(python, append([]string{"-c", clusterShellScript}, paths...)...)
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var results []struct {
		Items      [][2]string `json:"items"`
		ItemsError string      `json:"items_error"`
		Error      *string     `json:"error"`
	}
	if err := json.Unmarshal(out, &results); err != nil || len(results) != len(confs) {
		t.Fatalf("python output %q: %v", out, err)
	}
	for i, conf := range confs {
		res := results[i]
		// fleetsh's reader against ConfigParser.
		ini := pyfmt.NewConfigParser(pyfmt.ConfigOptions{CaseSensitive: true, StopAtFirstError: true})
		ierr := ini.ReadString(strings.TrimPrefix(conf, "\ufeff"), paths[i])
		var items []pyfmt.ConfigItem
		if ierr == nil {
			sec := "routes"
			if !ini.HasSection(sec) {
				sec = "Main"
			}
			items, ierr = ini.Items(sec)
		}
		switch {
		case (ierr != nil) != (res.Items == nil):
			t.Errorf("conf %q: fleetsh reader error %v, ConfigParser error %q", conf, ierr, res.ItemsError)
		case ierr == nil:
			var got [][2]string
			for _, it := range items {
				got = append(got, [2]string{it.Name, it.Value})
			}
			if g, w := jsonString(got), jsonString(res.Items); g != w {
				t.Errorf("conf %q: items\n got %s\nwant %s", conf, g, w)
			}
		}

		// Validation against ClusterShell.
		_, err := Parse(strings.NewReader(conf), paths[i], Options{})
		switch {
		case err == nil && res.Error != nil:
			t.Errorf("conf %q: fleetsh accepts it, ClusterShell says %q", conf, *res.Error)
		case err != nil && res.Error == nil:
			t.Errorf("conf %q: ClusterShell accepts it, fleetsh says %v", conf, err)
		case err != nil && errors.Is(err, ErrSyntax):
			// A nodeset error is ClusterShell's NodeSetParseError; a file
			// error its "Invalid configuration file".
			var te *Error
			errors.As(err, &te)
			want := "Invalid configuration file: " + paths[i]
			if te.Err != nil {
				want = te.Err.Error()
			}
			if *res.Error != want {
				t.Errorf("conf %q: fleetsh says %v, ClusterShell %q", conf, err, *res.Error)
			}
		case err != nil:
			var te *Error
			errors.As(err, &te)
			if !strings.HasPrefix(te.Msg, *res.Error) {
				t.Errorf("conf %q: fleetsh says %q, ClusterShell %q", conf, te.Msg, *res.Error)
			}
		}
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
