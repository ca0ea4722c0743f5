package nodeset

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/testreq"
)

func loadGroupsFrom(t *testing.T, dir string, files map[string]string) *Resolver {
	t.Helper()
	writeGroupFiles(t, dir, files)
	r, err := LoadResolver(filepath.Join(dir, "groups.conf"))
	if err != nil {
		t.Fatalf("LoadResolver: %v", err)
	}
	return r
}

func wantConfigError(t *testing.T, err error, want string) {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %T %v, want *ConfigError", err, err)
	}
	if ce.Msg != want {
		t.Fatalf("err = %q, want %q", ce.Msg, want)
	}
}

func mustStrings(t *testing.T, got []string, err error, want ...string) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error %v", err)
	}
	if want == nil {
		want = []string{}
	}
	if got == nil {
		got = []string{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// fakeClock lets cache tests move time without sleeping.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestGroupsShippedConfig(t *testing.T) {
	// testdata/groups is Debian's shipped configuration (groups.conf,
	// groups.d/local.cfg, groups.d/cluster.yaml.example renamed). The path
	// is made absolute because, as in ClusterShell, $CFGDIR is the directory
	// as given and upcalls run inside it. Expected values come from
	//   cd testdata/groups; G="--groupsconf $PWD/groups.conf"
	conf, err := filepath.Abs("testdata/groups/groups.conf")
	if err != nil {
		t.Fatal(err)
	}
	r, err := LoadResolver(conf)
	if err != nil {
		t.Fatal(err)
	}
	r.SetUpcallStderr(testWriter{t})

	// nodeset $G --list-sources → local (default), roles, racks, cpu
	if got, want := r.Sources(), []string{"local", "roles", "racks", "cpu"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Sources = %q, want %q", got, want)
	}
	if r.DefaultSource() != "local" {
		t.Errorf("DefaultSource = %q", r.DefaultSource())
	}

	// nodeset $G -ll (the list upcall gives file order; nodeset sorts)
	//   @adm example0 / @all example[4-6,32-159] / @compute example[32-159]
	//   @gpu example[156-159] / @io example[4-6] / @mds example6
	//   @oss example[4-5]
	got, err := r.GroupList("")
	mustStrings(t, got, err, "adm", "oss", "mds", "io", "compute", "gpu", "all")
	for group, want := range map[string][]string{
		"adm": {"example0"}, "oss": {"example4", "example5"}, "io": {"example[4-6]"},
		"compute": {"example[32-159]"}, "nosuch": nil,
	} {
		got, err := r.GroupNodes("", group)
		mustStrings(t, got, err, want...)
	}
	// nodeset $G -f '@*' → example[4-6,32-159]
	got, err = r.AllNodes("local")
	mustStrings(t, got, err, "example[4-6,32-159]")
	if r.HasNodeGroups("local") {
		t.Error("local has no reverse upcall")
	}

	// nodeset $G -s racks -l → @racks:new @racks:old @racks:rack[1-5]
	got, err = r.GroupList("racks")
	mustStrings(t, got, err, "rack1", "rack2", "rack3", "rack4", "old", "new", "rack5")
	// nodeset $G -f @racks:rack5 → example[200-205,245,300,401-406]
	got, err = r.GroupNodes("racks", "rack5")
	mustStrings(t, got, err, "example[200-205],example245,example300,example[401-406]")
	// nodeset $G -f @racks:old → example[0,2,32-159] (the nodeset layer
	// resolves the reference)
	got, err = r.GroupNodes("racks", "old")
	mustStrings(t, got, err, "@rack[1,3]")
	// racks has no "all" group: nodeset $G -s racks -f '@*' is the union
	// of its groups, which the caller computes after this error.
	var nu *NoUpcallError
	if _, err := r.AllNodes("racks"); !errors.As(err, &nu) || nu.Upcall != "all" || nu.Source != "racks" {
		t.Errorf("AllNodes(racks) err = %v", err)
	}
	// nodeset $G -f '@roles:*' → example[2,4-5,32-159] from "all: '@io,@compute'"
	got, err = r.AllNodes("roles")
	mustStrings(t, got, err, "@io,@compute")
	// nodeset $G -s cpu -ll → @cpu:hsw example[64-159] / @cpu:ivy example[32-63]
	got, err = r.GroupList("cpu")
	mustStrings(t, got, err, "ivy", "hsw")
	got, err = r.GroupNodes("cpu", "hsw")
	mustStrings(t, got, err, "@roles:compute!@ivy")

	// nodeset $G -f @nosrc:foo → nodeset: Unknown group source: "nosrc"
	var us *UnknownSourceError
	if _, err := r.GroupNodes("nosrc", "foo"); !errors.As(err, &us) || us.Error() != "nosrc" {
		t.Errorf("unknown source err = %v", err)
	}
}

// testWriter sends upcall stderr to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("upcall stderr: %s", bytes.TrimSpace(p))
	return len(p), nil
}

// TestGroupsShippedConfigAgainstNodeset compares with the real ClusterShell
// when it is installed.
func TestGroupsShippedConfigAgainstNodeset(t *testing.T) {
	const bin = "/usr/bin/nodeset" // Debian's clustershell package
	if _, err := os.Stat(bin); err != nil {
		testreq.Skip(t, testreq.ClusterShell, "ClusterShell's nodeset is not installed")
	}
	conf, _ := filepath.Abs("testdata/groups/groups.conf")
	r, err := LoadResolver(conf)
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) []string {
		out, err := exec.Command(bin, append([]string{"--groupsconf", conf}, args...)...).Output()
		if err != nil {
			t.Fatalf("reference nodeset %q: %v", args, err)
		}
		return strings.Fields(string(out))
	}
	want := run("-q", "--list-sources")
	if got := r.Sources(); !reflect.DeepEqual(got, want) {
		t.Errorf("Sources = %q, nodeset says %q", got, want)
	}
	for _, src := range want {
		groups, err := r.GroupList(src)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, g := range groups {
			got = append(got, "@"+src+":"+g)
		}
		slices.Sort(got)
		if w := run("-s", src, "-l"); !reflect.DeepEqual(got, w) {
			t.Errorf("GroupList(%s) = %q, nodeset -l says %q", src, got, w)
		}
	}
}

func TestGroupsConfdirAutodir(t *testing.T) {
	dir := t.TempDir()
	r := loadGroupsFrom(t, dir, map[string]string{
		"groups.conf": "[Main]\n" +
			"confdir: ${CFGDIR}/conf.d '$CFGDIR/missing dir' $CFGDIR/conf.d/../conf.d\n" +
			"autodir: $CFGDIR/auto\n" +
			"[main1]\nmap: echo m1\n",
		"conf.d/b.conf":        "[b1,b2]\nmap: echo $SOURCE:$GROUP\n",
		"conf.d/a.conf":        "[Main]\nmap: ignored\n[a1]\nmap: pwd\n",
		"conf.d/.hidden.conf":  "[hidden]\nmap: x\n",
		"conf.d/notconf.txt":   "[txt]\nmap: x\n",
		"conf.d/bad.conf/x":    "a directory named *.conf is skipped\n",
		"auto/z.yaml":          "z: {g: n1}\n",
		"auto/a.yaml":          "y1: {g: n2}\ny0: {g: n3}\n",
		"auto/README":          "not yaml\n",
		"auto/.hidden.yaml":    "hidden: {g: x}\n",
		"auto/skipped.yaml.ex": "skipped: {g: x}\n",
	})
	// confdir files in sorted order, then autodir files, then the main
	// file's sections; the first added is the default.
	want := []string{"a1", "b1", "b2", "y1", "y0", "z", "main1"}
	if got := r.Sources(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Sources = %q, want %q", got, want)
	}
	got, err := r.GroupNodes("b2", "g")
	mustStrings(t, got, err, "b2:g")
	// A confdir source runs in (and has $CFGDIR set to) its own directory.
	got, err = r.GroupNodes("a1", "x")
	mustStrings(t, got, err, filepath.Join(dir, "conf.d"))
	got, err = r.GroupNodes("y0", "g")
	mustStrings(t, got, err, "n3")
	if r.DefaultSource() != "a1" {
		t.Errorf("default = %q", r.DefaultSource())
	}
}

func TestGroupsGroupsdirWins(t *testing.T) {
	dir := t.TempDir()
	r := loadGroupsFrom(t, dir, map[string]string{
		"groups.conf":    "[Main]\nconfdir: $CFGDIR/c1\ngroupsdir: $CFGDIR/c2\n",
		"c1/one.conf":    "[one]\nmap: x\n",
		"c2/two.conf":    "[two]\nmap: x\n",
		"c2/three.conf":  "[three]\nmap: x\n",
		"c2/nested/conf": "",
	})
	if got, want := r.Sources(), []string{"three", "two"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Sources = %q, want %q", got, want)
	}
}

func TestGroupsConfigErrors(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  string // %d is the temp dir
	}{
		{"confdir not a dir", map[string]string{"groups.conf": "[Main]\nconfdir: $CFGDIR/f\n", "f": ""},
			"Defined confdir %d/f is not a directory"},
		{"groupsdir not a dir", map[string]string{"groups.conf": "[Main]\ngroupsdir: $CFGDIR/f\n", "f": ""},
			"Defined confdir %d/f is not a directory"},
		{"autodir not a dir", map[string]string{"groups.conf": "[Main]\nautodir: $CFGDIR//f/.\n", "f": ""},
			"Defined autodir %d/f is not a directory"},
		{"bad quoting", map[string]string{"groups.conf": "[Main]\nautodir: '$CFGDIR\n"},
			"[Main] autodir: No closing quotation"},
		{"bad interpolation", map[string]string{"groups.conf": "[Main]\nconfdir: 100%\n"},
			"'%' must be followed by '%' or '(', found: '%'"},
		{"no map", map[string]string{"groups.conf": "[src]\nlist: echo x\n"},
			"No option 'map' in section: 'src'"},
		{"bad cache_time", map[string]string{"groups.conf": "[src]\nmap: x\ncache_time: soon\n"},
			"could not convert string to float: 'soon'"},
		{"unknown default", map[string]string{"groups.conf": "[Main]\ndefault: nope\n[src]\nmap: x\n"},
			`Default group source not found: "nope"`},
		{"collision conf", map[string]string{
			"groups.conf": "[Main]\nconfdir: $CFGDIR/c\n[dup]\nmap: x\n",
			"c/x.conf":    "[dup]\nmap: y\n"},
			"GroupSource 'dup': name collision"},
		{"collision split section", map[string]string{"groups.conf": "[a,b]\nmap: x\n[b]\nmap: y\n"},
			"GroupSource 'b': name collision"},
		{"collision yaml", map[string]string{
			"groups.conf": "[Main]\nautodir: $CFGDIR/d\n",
			"d/1.yaml":    "s: {g: x}\n",
			"d/2.yaml":    "s: {g: y}\n"},
			"GroupSource 's': name collision"},
		{"syntax error in confdir file", map[string]string{
			"groups.conf": "[Main]\nconfdir: $CFGDIR/c\n",
			"c/x.conf":    "map: y\n"},
			"File contains no section headers.\nfile: '%d/c/x.conf', line: 1\n'map: y\\n'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeGroupFiles(t, dir, tc.files)
			_, err := LoadResolver(filepath.Join(dir, "groups.conf"))
			wantConfigError(t, err, strings.ReplaceAll(tc.want, "%d", dir))
		})
	}
}

func TestGroupsCFGDIRIsLastParsedFile(t *testing.T) {
	root := t.TempDir()
	writeGroupFiles(t, root, map[string]string{
		"first/groups.conf":  "[Main]\nautodir: $CFGDIR/d\n[s]\nmap: echo $CFGDIR\n",
		"first/d/a.yaml":     "first: {g: x}\n",
		"second/groups.conf": "[Main]\ndefault: s\n",
		"second/d/b.yaml":    "second: {g: x}\n",
	})
	r, err := LoadResolver(
		filepath.Join(root, "first/groups.conf"),
		filepath.Join(root, "second/groups.conf"),
		filepath.Join(root, "third/groups.conf"), // missing: skipped
	)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Sources(), []string{"s", "second"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Sources = %q, want %q", got, want)
	}
	got, err := r.GroupNodes("", "g")
	mustStrings(t, got, err, filepath.Join(root, "second"))
	if got, want := r.ConfigFiles(), []string{filepath.Join(root, "first/groups.conf"), filepath.Join(root, "second/groups.conf")}; !reflect.DeepEqual(got, want) {
		t.Errorf("ConfigFiles = %q", got)
	}
}

func TestGroupsNoConfig(t *testing.T) {
	r, err := LoadResolver(filepath.Join(t.TempDir(), "nope.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Sources()) != 0 || r.DefaultSource() != "" {
		t.Errorf("Sources = %q, default %q", r.Sources(), r.DefaultSource())
	}
	var us *UnknownSourceError
	if _, err := r.GroupNodes("", "g"); !errors.As(err, &us) || us.Source != "<default>" {
		t.Errorf("err = %v", err)
	}
	if _, err := r.GroupList("x"); !errors.As(err, &us) || us.Source != "x" {
		t.Errorf("err = %v", err)
	}
	if r.HasNodeGroups("") {
		t.Error("HasNodeGroups on no source")
	}
}

func TestGroupsDefaultSource(t *testing.T) {
	dir := t.TempDir()
	r := loadGroupsFrom(t, dir, map[string]string{
		"groups.conf": "[Main]\ndefault: c\n[a]\nmap: echo a\n[b]\nmap: echo b\n[c]\nmap: echo c\n",
	})
	if got, want := r.Sources(), []string{"c", "a", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Sources = %q, want %q", got, want)
	}
	got, err := r.GroupNodes("", "x")
	mustStrings(t, got, err, "c")
	// -s b
	if err := r.SetDefaultSource("b"); err != nil {
		t.Fatal(err)
	}
	if got, want := r.Sources(), []string{"b", "a", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Sources = %q, want %q", got, want)
	}
	got, err = r.GroupNodes("", "x")
	mustStrings(t, got, err, "b")
	var us *UnknownSourceError
	if err := r.SetDefaultSource("zz"); !errors.As(err, &us) || us.Source != "zz" {
		t.Errorf("SetDefaultSource(zz) = %v", err)
	}
	if r.DefaultSource() != "b" {
		t.Errorf("default changed by a failed SetDefaultSource")
	}

	// An empty default means the first source, as does no default.
	for _, main := range []string{"[Main]\ndefault:\n", "[Main]\n", ""} {
		r := loadGroupsFrom(t, t.TempDir(), map[string]string{
			"groups.conf": main + "[x]\nmap: echo\n[y]\nmap: echo\n",
		})
		if r.DefaultSource() != "x" {
			t.Errorf("%q: default = %q", main, r.DefaultSource())
		}
	}
}

func TestGroupsUpcallVariables(t *testing.T) {
	dir := t.TempDir()
	r := loadGroupsFrom(t, dir, map[string]string{
		"groups.conf": "[Main]\ndefault: s\n[s]\n" +
			// $NODE is not set for map: it reaches the shell as written and
			// the single quotes keep it; $$ is a literal $ for the shell.
			"map: printf '%s\\n' \"$GROUP@$SOURCE\" \"${CFGDIR}\" '$NODE' \"$$PWD\" 100%\n" +
			"reverse: echo \"g-$NODE\" \"h-$NODE\"\n" +
			"list: printf 'g1 g2\\n\\n  g3\\n'\n" +
			"all: echo \"  n[1-2]\n  n3  \"\n",
	})
	got, err := r.GroupNodes("s", "grp")
	mustStrings(t, got, err, "grp@s", dir, "$NODE", dir, "100%")
	if !r.HasNodeGroups("") {
		t.Fatal("HasNodeGroups = false")
	}
	got, err = r.NodeGroups("", "node1")
	mustStrings(t, got, err, "g-node1", "h-node1")
	got, err = r.GroupList("s")
	mustStrings(t, got, err, "g1", "g2", "g3")
	got, err = r.AllNodes("s")
	mustStrings(t, got, err, "n[1-2]", "n3")
}

func TestGroupsUpcallStderr(t *testing.T) {
	r := loadGroupsFrom(t, t.TempDir(), map[string]string{
		"groups.conf": "[s]\nmap: echo oops >&2; echo n1\n",
	})
	var buf bytes.Buffer
	r.SetUpcallStderr(&buf)
	got, err := r.GroupNodes("", "g")
	mustStrings(t, got, err, "n1")
	if buf.String() != "oops\n" {
		t.Errorf("stderr = %q", buf.String())
	}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func TestGroupsUpcallCache(t *testing.T) {
	dir := t.TempDir()
	r := loadGroupsFrom(t, dir, map[string]string{
		"groups.conf": "[s]\n" +
			"map: echo $GROUP >> $CFGDIR/map.count; echo n-$GROUP\n" +
			"list: echo x >> $CFGDIR/list.count; echo g1 g2\n" +
			"all: echo x >> $CFGDIR/all.count; echo n[1-9]\n" +
			"reverse: echo $NODE >> $CFGDIR/rev.count; echo g1\n" +
			"cache_time: 10\n",
	})
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	r.env.now = clock.now
	query := func() {
		t.Helper()
		for _, g := range []string{"a", "b", "a", "b"} {
			got, err := r.GroupNodes("s", g)
			mustStrings(t, got, err, "n-"+g)
		}
		got, err := r.GroupList("s")
		mustStrings(t, got, err, "g1", "g2")
		got, err = r.AllNodes("s")
		mustStrings(t, got, err, "n[1-9]")
		got, err = r.AllNodes("")
		mustStrings(t, got, err, "n[1-9]")
		got, err = r.NodeGroups("s", "n1")
		mustStrings(t, got, err, "g1")
	}
	counts := func(want ...int) {
		t.Helper()
		for i, f := range []string{"map", "list", "all", "rev"} {
			if got := countLines(t, filepath.Join(dir, f+".count")); got != want[i] {
				t.Errorf("%s upcall ran %d times, want %d", f, got, want[i])
			}
		}
	}
	query()
	counts(2, 1, 1, 1)
	clock.advance(9 * time.Second)
	query()
	counts(2, 1, 1, 1)
	clock.advance(2 * time.Second) // past the 10 s
	query()
	counts(4, 2, 2, 2)
	r.ClearCache()
	query()
	counts(6, 3, 3, 3)
}

// TestGroupsUpcallCacheRealClock: a Resolver reads the real clock, checked
// without timing anything: an entry cached for an hour is reused, one
// cached for a microsecond never is (running a command takes longer).
func TestGroupsUpcallCacheRealClock(t *testing.T) {
	dir := t.TempDir()
	r := loadGroupsFrom(t, dir, map[string]string{
		"groups.conf": "[hour]\nmap: echo x >> $CFGDIR/hour; echo n1\ncache_time: 3600\n" +
			"[micro]\nmap: echo x >> $CFGDIR/micro; echo n1\ncache_time: 0.000001\n",
	})
	for range 3 {
		for _, s := range []string{"hour", "micro"} {
			got, err := r.GroupNodes(s, "g")
			mustStrings(t, got, err, "n1")
		}
	}
	if n := countLines(t, filepath.Join(dir, "hour")); n != 1 {
		t.Errorf("ran %d times within an hour's cache_time, want 1", n)
	}
	if n := countLines(t, filepath.Join(dir, "micro")); n != 3 {
		t.Errorf("ran %d times with a microsecond's cache_time, want 3", n)
	}
}

func TestGroupsUpcallFailure(t *testing.T) {
	dir := t.TempDir()
	r := loadGroupsFrom(t, dir, map[string]string{
		"groups.conf": "[s]\nmap: echo x >> $CFGDIR/count; exit 3 # $GROUP\n",
	})
	for i := 1; i <= 2; i++ {
		_, err := r.GroupNodes("s", "grp")
		var qf *QueryFailedError
		if !errors.As(err, &qf) {
			t.Fatalf("err = %T %v", err, err)
		}
		want := "echo x >> " + dir + "/count; exit 3 # grp"
		if qf.Command != want || qf.Error() != want || qf.Source != "s" {
			t.Errorf("QueryFailedError = %+v", qf)
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Errorf("Unwrap = %v", qf.Err)
		}
		// Failures are not cached.
		if n := countLines(t, filepath.Join(dir, "count")); n != i {
			t.Errorf("ran %d times, want %d", n, i)
		}
	}
}

func TestGroupsNoUpcall(t *testing.T) {
	r := loadGroupsFrom(t, t.TempDir(), map[string]string{
		"groups.conf": "[s]\nmap:\nlist: \nreverse:\n",
	})
	for upcall, call := range map[string]func() ([]string, error){
		"map":     func() ([]string, error) { return r.GroupNodes("s", "g") },
		"all":     func() ([]string, error) { return r.AllNodes("s") },
		"list":    func() ([]string, error) { return r.GroupList("s") },
		"reverse": func() ([]string, error) { return r.NodeGroups("s", "n") },
	} {
		_, err := call()
		var nu *NoUpcallError
		if !errors.As(err, &nu) || nu.Upcall != upcall || nu.Source != "s" || err.Error() != upcall {
			t.Errorf("%s: err = %v", upcall, err)
		}
	}
	if r.HasNodeGroups("s") {
		t.Error("an empty reverse command is no reverse upcall")
	}
}

func TestGroupsIllegalChars(t *testing.T) {
	r := loadGroupsFrom(t, t.TempDir(), map[string]string{
		"groups.conf": "[ok]\nmap: echo\nlist: echo 'a b-c x_y[1-2]'\n" +
			"[at]\nmap: echo\nlist: echo good bad@x\n" +
			"[many]\nmap: echo\nlist: echo 'x*y,z!a&b^c'\nreverse: echo 'g1 @g2'\n",
	})
	got, err := r.GroupList("ok")
	mustStrings(t, got, err, "a", "b-c", "x_y[1-2]")
	for src, want := range map[string]string{"at": "@", "many": ", ! & ^ *"} {
		_, err := r.GroupList(src)
		var ic *IllegalCharError
		if !errors.As(err, &ic) || ic.Chars != want || ic.Error() != want {
			t.Errorf("%s: err = %v, want %q", src, err, want)
		}
	}
	var ic *IllegalCharError
	if _, err := r.NodeGroups("many", "n"); !errors.As(err, &ic) || ic.Chars != "@" {
		t.Errorf("reverse: err = %v", err)
	}
}

func TestGroupsYAMLSources(t *testing.T) {
	dir := t.TempDir()
	r := loadGroupsFrom(t, dir, map[string]string{
		"groups.conf": "[Main]\nautodir: $CFGDIR/d\n",
		"d/g.yaml": `
s1:
  str: 'n[1-2]'
  plain: n3 n4
  list:
    - 'n[5-6]'  # comment
    - n7
    - ~
    - 8
  empty:
  nul: null
  num: 010
  flt: 1.50
  bool: yes
  emptylist: []
  block: |
    n1
    n2
  all: ~
"s2":
  all: [a1, a2]
  "yes": quoted keys are strings
  "1": one
base: &base
  g1: b1
  g2: b2
merged:
  <<: *base
  g2: own
  g3: m3
dups:
  a: first
  b: x
  a: second
`,
	})
	if got, want := r.Sources(), []string{"s1", "s2", "base", "merged", "dups"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Sources = %q, want %q", got, want)
	}
	got, err := r.GroupList("s1")
	mustStrings(t, got, err, "str", "plain", "list", "empty", "nul", "num", "flt", "bool", "emptylist", "block", "all")
	for group, want := range map[string][]string{
		"str": {"n[1-2]"}, "plain": {"n3", "n4"}, "list": {"n[5-6],n7,8"},
		"empty": nil, "nul": nil, "num": {"010"}, "flt": {"1.50"}, "bool": {"yes"},
		"emptylist": nil, "block": {"n1", "n2"}, "unknown": nil, "all": nil,
	} {
		got, err := r.GroupNodes("s1", group)
		mustStrings(t, got, err, want...)
	}
	// "all: ~" is no all group, as in ClusterShell.
	var nu *NoUpcallError
	if _, err := r.AllNodes("s1"); !errors.As(err, &nu) || nu.Upcall != "all" {
		t.Errorf("AllNodes(s1) err = %v", err)
	}
	got, err = r.AllNodes("s2")
	mustStrings(t, got, err, "a1,a2")
	got, err = r.GroupList("s2")
	mustStrings(t, got, err, "all", "yes", "1")
	got, err = r.GroupList("merged")
	mustStrings(t, got, err, "g1", "g2", "g3")
	got, err = r.GroupNodes("merged", "g2")
	mustStrings(t, got, err, "own")
	got, err = r.GroupList("dups")
	mustStrings(t, got, err, "a", "b")
	got, err = r.GroupNodes("dups", "a")
	mustStrings(t, got, err, "second")
	if r.HasNodeGroups("s1") {
		t.Error("YAML sources have no reverse")
	}
	if _, err := r.NodeGroups("s1", "n1"); !errors.As(err, &nu) || nu.Upcall != "reverse" {
		t.Errorf("NodeGroups err = %v", err)
	}
}

func TestGroupsYAMLErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"list base", "- a\n- b\n", "%f: invalid content (base is not a dict)"},
		{"empty file", "# nothing\n", "%f: invalid content (base is not a dict)"},
		{"scalar source", "src: 'a'\n", "%f: invalid content (group source 'src' is not a dict)"},
		{"empty source", "src:\n", "%f: invalid content (group source 'src' is not a dict)"},
		{"int source", "1: {a: b}\n", "%f: group source 1 not a string (add quotes?)"},
		{"bool source", "on: {a: b}\n", "%f: group source True not a string (add quotes?)"},
		{"null source", "~: {a: b}\n", "%f: group source None not a string (add quotes?)"},
		{"int group", "src:\n  0x1F: a\n", "%f: src: group name 31 not a string (add quotes?)"},
		{"octal group", "src:\n  010: a\n", "%f: src: group name 8 not a string (add quotes?)"},
		{"float group", "src:\n  1.5: a\n", "%f: src: group name 1.5 not a string (add quotes?)"},
		{"bool group", "src:\n  No: a\n", "%f: src: group name False not a string (add quotes?)"},
		{"base 60 group", "src:\n  1:30: a\n", "%f: src: group name 90 not a string (add quotes?)"},
		{"exp float group", "src:\n  1.0e+5: a\n", "%f: src: group name 100000.0 not a string (add quotes?)"},
		{"mapping value", "src:\n  g: {a: b}\n", "%f: src: group g: invalid value (a mapping, expected a string or a list of strings)"},
		{"two documents", "a: {b: c}\n---\nd: {e: f}\n", "%f: expected a single document in the stream"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeGroupFiles(t, dir, map[string]string{
				"groups.conf": "[Main]\nautodir: $CFGDIR/d\n",
				"d/g.yaml":    tc.yaml,
			})
			_, err := LoadResolver(filepath.Join(dir, "groups.conf"))
			wantConfigError(t, err, strings.ReplaceAll(tc.want, "%f", dir+"/d/g.yaml"))
		})
	}
	// Syntax errors name the file too.
	dir := t.TempDir()
	writeGroupFiles(t, dir, map[string]string{
		"groups.conf": "[Main]\nautodir: $CFGDIR/d\n",
		"d/g.yaml":    "a: [b\n",
	})
	_, err := LoadResolver(filepath.Join(dir, "groups.conf"))
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.HasPrefix(ce.Msg, dir+"/d/g.yaml: ") {
		t.Errorf("err = %v", err)
	}
}

// TestGroupsYAMLStringKeys lists plain scalars that YAML 1.2 (yaml.v3)
// would read as numbers or booleans but PyYAML's YAML 1.1 rules read as
// strings, so ClusterShell accepts them as group names.
func TestGroupsYAMLStringKeys(t *testing.T) {
	keys := []string{"y", "n", "tRue", "nuLL", "08", "1e5", "-.5", "NaN", "0o17", "="}
	var b strings.Builder
	b.WriteString("src:\n")
	for _, k := range keys {
		b.WriteString("  " + k + ": v\n")
	}
	order, sources, err := parseYAMLSources("f", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(order, []string{"src"}) || !reflect.DeepEqual(sources["src"].names, keys) {
		t.Errorf("got %q %q", order, sources["src"].names)
	}
}

func TestGroupsYAMLUnreadableSkipped(t *testing.T) {
	dir := t.TempDir()
	writeGroupFiles(t, dir, map[string]string{
		"groups.conf":  "[Main]\nautodir: $CFGDIR/d\n",
		"d/dir.yaml/x": "",
		"d/ok.yaml":    "ok: {g: n}\n",
	})
	if err := os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "d/dangling.yaml")); err != nil {
		t.Fatal(err)
	}
	r, err := LoadResolver(filepath.Join(dir, "groups.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Sources(); !reflect.DeepEqual(got, []string{"ok"}) {
		t.Errorf("Sources = %q", got)
	}
}

func TestGroupsYAMLReload(t *testing.T) {
	dir := t.TempDir()
	r := loadGroupsFrom(t, dir, map[string]string{
		"groups.conf": "[Main]\nautodir: $CFGDIR/d\n",
		"d/g.yaml":    "s: {g: old}\n",
	})
	clock := &fakeClock{t: time.Now()}
	r.env.now = clock.now
	writeGroupFiles(t, dir, map[string]string{"d/g.yaml": "s: {g: new}\nadded: {g: x}\n"})
	got, err := r.GroupNodes("s", "g")
	mustStrings(t, got, err, "old")
	clock.advance(3601 * time.Second)
	got, err = r.GroupNodes("s", "g")
	mustStrings(t, got, err, "new")
	// Sources appearing in the file later need a new configuration load.
	if got := r.Sources(); !reflect.DeepEqual(got, []string{"s"}) {
		t.Errorf("Sources = %q", got)
	}
	// A file broken after load is an error at the next reload.
	writeGroupFiles(t, dir, map[string]string{"d/g.yaml": "- broken\n"})
	clock.advance(3601 * time.Second)
	_, err = r.GroupNodes("s", "g")
	wantConfigError(t, err, dir+"/d/g.yaml: invalid content (base is not a dict)")
}

func TestGroupsDefaultConfigPaths(t *testing.T) {
	for _, c := range []struct {
		vars map[string]string
		want []string
	}{
		{map[string]string{"HOME": "/home/u/"}, []string{
			"/etc/clustershell/groups.conf",
			"/home/u/.local/etc/clustershell/groups.conf",
			"/usr/etc/clustershell/groups.conf",
			"/home/u/.config/clustershell/groups.conf",
		}},
		{map[string]string{"HOME": "/h", "XDG_CONFIG_HOME": "/x", "CLUSTERSHELL_CFGDIR": "/c/"}, []string{
			"/etc/clustershell/groups.conf",
			"/h/.local/etc/clustershell/groups.conf",
			"/usr/etc/clustershell/groups.conf",
			"/x/clustershell/groups.conf",
			"/c/groups.conf",
		}},
		// Set but empty variables count as set, as in Python.
		{map[string]string{"HOME": "", "XDG_CONFIG_HOME": "", "CLUSTERSHELL_CFGDIR": ""}, []string{
			"/etc/clustershell/groups.conf",
			"/.local/etc/clustershell/groups.conf",
			"/usr/etc/clustershell/groups.conf",
			"clustershell/groups.conf",
			"groups.conf",
		}},
	} {
		got := DefaultConfigPaths(func(k string) (string, bool) { v, ok := c.vars[k]; return v, ok })
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: paths = %q, want %q", c.vars, got, c.want)
		}
	}
}

func TestGroupsStaticResolver(t *testing.T) {
	r, err := NewStaticResolver(map[string]map[string]string{
		"racks": {"rack2": "n[3-4]", "rack1": "n[1-2]  n9"},
		"roles": {"all": "n[1-4]", "io": "n1"},
		"bad":   {"a@b": "x"},
	}, "roles")
	if err != nil {
		t.Fatal(err)
	}
	var _ GroupResolver = r
	if got, want := r.Sources(), []string{"roles", "bad", "racks"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Sources = %q, want %q", got, want)
	}
	got, err := r.GroupList("racks")
	mustStrings(t, got, err, "rack1", "rack2")
	got, err = r.GroupNodes("racks", "rack1")
	mustStrings(t, got, err, "n[1-2]", "n9")
	got, err = r.GroupNodes("", "io")
	mustStrings(t, got, err, "n1")
	got, err = r.AllNodes("")
	mustStrings(t, got, err, "n[1-4]")
	var nu *NoUpcallError
	if _, err := r.AllNodes("racks"); !errors.As(err, &nu) || nu.Upcall != "all" {
		t.Errorf("AllNodes(racks) = %v", err)
	}
	var ic *IllegalCharError
	if _, err := r.GroupList("bad"); !errors.As(err, &ic) || ic.Chars != "@" {
		t.Errorf("GroupList(bad) = %v", err)
	}
	var us *UnknownSourceError
	if _, err := r.GroupNodes("nope", "g"); !errors.As(err, &us) || us.Source != "nope" {
		t.Errorf("unknown source = %v", err)
	}
	if r.HasNodeGroups("") {
		t.Error("HasNodeGroups")
	}
	if err := r.SetDefaultSource("racks"); err != nil || r.DefaultSource() != "racks" {
		t.Errorf("SetDefaultSource = %v", err)
	}
	if _, err := NewStaticResolver(nil, "x"); !errors.As(err, &us) {
		t.Errorf("unknown default = %v", err)
	}
	empty, err := NewStaticResolver(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := empty.GroupNodes("", "g"); !errors.As(err, &us) || us.Source != "<default>" {
		t.Errorf("no default = %v", err)
	}
	first, _ := NewStaticResolver(map[string]map[string]string{"b": nil, "a": nil}, "")
	if first.DefaultSource() != "a" {
		t.Errorf("default = %q", first.DefaultSource())
	}
}
