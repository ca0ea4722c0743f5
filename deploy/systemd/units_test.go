// Package systemd holds the tests of the systemd units beside it and of
// the example tree etc/fleetsh/ they read (README.md).
package systemd

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/testreq"
	"github.com/fleetsh/fleetsh/internal/testutil"
)

const repo = "../.."

var units = []string{"fleetsh-coordinator.service", "fleetsh-agent.service"}

// bins are the programs the tests run, built once.
var bins = testutil.Binaries{Packages: []string{repo + "/cmd/coordinator", repo + "/cmd/agent", repo + "/cmd/csub"}}

func TestMain(m *testing.M) {
	code := m.Run()
	bins.Remove()
	os.Exit(code)
}

// unitValue returns the value of key in the unit file (its last line).
func unitValue(t testing.TB, unit, key string) string {
	t.Helper()
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	v := ""
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		if k, val, ok := strings.Cut(sc.Text(), "="); ok && k == key {
			v = val
		}
	}
	if v == "" {
		t.Fatalf("%s: no %s=", unit, key)
	}
	return v
}

// installed rewrites what the units and configs name under /usr/local/bin
// and /etc/fleetsh to bin and etc.
func installed(s, bin, etc string) string {
	return strings.NewReplacer("/usr/local/bin/", bin+"/", "/etc/fleetsh/", etc+"/").Replace(s)
}

// etc/fleetsh is what deploy/systemd/make-etc.sh writes from deploy/,
// and every /etc/fleetsh path the units and its configs name is in it.
func TestEtcTree(t *testing.T) {
	out := t.TempDir()
	if b, err := exec.Command("sh", "make-etc.sh", out).CombinedOutput(); err != nil {
		t.Fatalf("make-etc.sh: %v\n%s", err, b)
	}
	made, err := os.ReadDir(out)
	if err != nil || len(made) < 4 {
		t.Fatalf("make-etc.sh wrote %v: %v", made, err)
	}
	for _, e := range made {
		want, _ := os.ReadFile(filepath.Join(out, e.Name()))
		got, err := os.ReadFile(filepath.Join(repo, "etc/fleetsh", e.Name()))
		if err != nil || string(got) != string(want) {
			t.Errorf("etc/fleetsh/%s differs from what deploy/ makes (%v): run deploy/systemd/make-etc.sh", e.Name(), err)
		}
	}
	// The paths the units start the daemons with, and those the configs
	// name outside comments.
	path := regexp.MustCompile(`/etc/fleetsh/[^\s\]"',]+`)
	var named []string
	for _, u := range units {
		named = append(named, path.FindAllString(unitValue(t, u, "ExecStart"), -1)...)
	}
	for _, f := range []string{"coordinator.yaml", "agent.yaml"} {
		data, _ := os.ReadFile(filepath.Join(repo, "etc/fleetsh", f))
		for _, l := range strings.Split(string(data), "\n") {
			l, _, _ = strings.Cut(l, "#")
			named = append(named, path.FindAllString(l, -1)...)
		}
	}
	if len(named) < 3 {
		t.Fatalf("paths named: %q", named)
	}
	for _, p := range named {
		if _, err := os.Stat(filepath.Join(repo, "etc", strings.TrimPrefix(p, "/etc/"))); err != nil {
			t.Errorf("%s is named but not in etc/fleetsh: %v", p, err)
		}
	}
}

// systemd-analyze verify accepts the units (their ExecStart made the
// binaries just built: it checks they exist), and their exposure
// (systemd-analyze security) stays at most 2.0 of 10.
func TestUnitsVerify(t *testing.T) {
	analyze := testreq.LookPath(t, testreq.Systemd, "systemd-analyze")
	bin, dir := bins.Dir(t), t.TempDir()
	var files []string
	for _, u := range units {
		data, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, u)
		if err := os.WriteFile(f, []byte(strings.ReplaceAll(string(data), "/usr/local/bin/", bin+"/")), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	out, err := exec.Command(analyze, append([]string{"verify", "--man=no"}, files...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	score := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)
	for _, f := range files {
		// --threshold (tenths): the command fails above 2.0.
		out, err := exec.Command(analyze, "security", "--offline=yes", "--threshold=20", f).CombinedOutput()
		m := score.FindSubmatch(out)
		if err != nil || m == nil {
			t.Errorf("systemd-analyze security %s: %v\n%s", filepath.Base(f), err, out)
			continue
		}
		t.Logf("%s: exposure %s", filepath.Base(f), m[1])
	}
}
