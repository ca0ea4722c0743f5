package ssh

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// resolveWith resolves host with config as the only config file.
func resolveWith(t *testing.T, config, host string, info map[string]any) (*target, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &Driver{Config: path, Home: dir}
	jr := newJob(host, "true")
	jr.job.ConnectTimeout = 0
	for k, v := range info {
		jr.info[k] = v
	}
	rs, err := d.newResolver(jr.job)
	if err != nil {
		return nil, err
	}
	rs.localUser = "me"
	return rs.resolve(host, nil)
}

func mustResolve(t *testing.T, config, host string, info map[string]any) *target {
	t.Helper()
	tg, err := resolveWith(t, config, host, info)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestSplitConfigLine(t *testing.T) {
	for line, want := range map[string][]string{
		"  Host a b":                     {"Host", "a", "b"},
		"HostName=x":                     {"HostName", "x"},
		"HostName = x":                   {"HostName", "x"},
		"Port\t2222 # comment":           {"Port", "2222"},
		`IdentityFile "/a b/c"`:          {"IdentityFile", "/a b/c"},
		`IdentityFile '/a b/c' "d"`:      {"IdentityFile", "/a b/c", "d"},
		`User a#b`:                       {"User", "a#b"},
		"# comment":                      nil,
		"":                               nil,
		"   ":                            nil,
		`ProxyCommand ssh -W "%h:%p" gw`: {"ProxyCommand", "ssh", "-W", "%h:%p", "gw"},
		`LocalCommand echo\ "hi"`:        {"LocalCommand", "echo hi"},
		"Match host \"a,b\" user root\r": {"Match", "host", "a,b", "user", "root"},
		// OpenSSH reads an empty keyword before a first "=", then the next word.
		"= Port=22": {"Port", "22"},
		"=":         nil,
		"= # c":     nil,
		"= =Port 1": nil,
	} {
		got, _, err := splitConfigLine(line)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %q, %v; want %q", line, got, err, want)
		}
	}
	if _, _, err := splitConfigLine(`User "unterminated`); err == nil {
		t.Error("unterminated quote accepted")
	}
	if _, raw, _ := splitConfigLine(`ProxyCommand ssh -W "%h:%p" gw # c`); raw != `ssh -W "%h:%p" gw` {
		t.Errorf("raw %q", raw)
	}
}

func TestMatchPattern(t *testing.T) {
	for _, c := range []struct {
		s, pat string
		want   bool
	}{
		{"node1", "node*", true}, {"node1", "node?", true}, {"node12", "node?", false},
		{"node1", "*", true}, {"", "*", true}, {"node1", "n*1", true}, {"node1", "NODE1", false},
		{"a.example.com", "*.example.com", true}, {"example.com", "*.example.com", false},
		{"abc", "a**c", true}, {"abc", "a?c*", true},
	} {
		if got := matchPattern(c.s, c.pat); got != c.want {
			t.Errorf("matchPattern(%q, %q) = %v", c.s, c.pat, got)
		}
	}
	if !matchHostLine([]string{"node*", "!node3"}, "node1") || matchHostLine([]string{"node*", "!node3"}, "node3") {
		t.Error("negation")
	}
	if matchHostLine([]string{"!node3"}, "node1") {
		t.Error("a negated pattern alone matches nothing")
	}
	if !matchList("node1", "gw*,node*,!node3") || matchList("node3", "node*,!node3") {
		t.Error("matchList")
	}
}

// firstValueWinsConfig is TestConfigFirstValueWins's config, and a fuzz seed.
const firstValueWinsConfig = `
# global defaults after specific blocks, as usual
Host node1
    HostName n1.%h.example
    User first
    IdentityFile ~/.ssh/one
    ConnectTimeout 7

Host node*
    User second
    Port 2200
    IdentityFile ~/.ssh/two

Host * !node2
    StrictHostKeyChecking accept-new

Host *
    Port 22
    StrictHostKeyChecking no
    UserKnownHostsFile ~/kh1 /abs/kh2
    IdentityFile ~/.ssh/two
`

func TestConfigFirstValueWins(t *testing.T) {
	const cfg = firstValueWinsConfig
	tg := mustResolve(t, cfg, "node1", nil)
	home := filepath.Dir(tg.UserKnownHostsFiles[0])
	want := &options{
		HostName: "n1.node1.example", User: "first", Port: 2200,
		IdentityFiles:         []string{home + "/.ssh/one", home + "/.ssh/two"},
		ConnectTimeout:        7 * time.Second,
		StrictHostKeyChecking: "accept-new",
		UserKnownHostsFiles:   []string{home + "/kh1", "/abs/kh2"},
	}
	if tg.HostName != want.HostName || tg.User != want.User || tg.Port != want.Port ||
		!reflect.DeepEqual(tg.IdentityFiles, want.IdentityFiles) || tg.ConnectTimeout != want.ConnectTimeout ||
		tg.StrictHostKeyChecking != want.StrictHostKeyChecking || !reflect.DeepEqual(tg.UserKnownHostsFiles, want.UserKnownHostsFiles) {
		t.Fatalf("node1: %+v", *tg.options)
	}
	tg = mustResolve(t, cfg, "node2", nil)
	if tg.HostName != "node2" || tg.User != "second" || tg.StrictHostKeyChecking != "no" {
		t.Fatalf("node2: %+v", *tg.options)
	}
	tg = mustResolve(t, cfg, "other", nil)
	if tg.User != "me" || tg.Port != 22 || len(tg.IdentityFiles) != 1 {
		t.Fatalf("other: %+v", *tg.options)
	}
	// Defaults when nothing is said.
	tg = mustResolve(t, "", "bare", nil)
	if tg.Port != 22 || tg.User != "me" || tg.StrictHostKeyChecking != "ask" || len(tg.IdentityFiles) != 3 ||
		!strings.HasSuffix(tg.UserKnownHostsFiles[0], "/.ssh/known_hosts") || tg.GlobalKnownHostsFiles[0] != "/etc/ssh/ssh_known_hosts" {
		t.Fatalf("defaults: %+v", *tg.options)
	}
	// Host names are matched as given, then lowercased.
	tg = mustResolve(t, "Host NODE1\n  Port 99\n", "NODE1", nil)
	if tg.HostName != "node1" || tg.Port != 99 {
		t.Fatalf("case: %+v", *tg.options)
	}
}

func TestConfigPrecedence(t *testing.T) {
	const cfg = "Host *\n  User cfguser\n  Port 2222\n  ConnectTimeout 30\n  StrictHostKeyChecking yes\n"
	// ssh_options beat ssh_user, which beats the config.
	tg := mustResolve(t, cfg, "n", map[string]any{"ssh_options": "-l optuser -p 1022", "ssh_user": "infouser"})
	if tg.User != "optuser" || tg.Port != 1022 {
		t.Fatalf("%+v", *tg.options)
	}
	tg = mustResolve(t, cfg, "n", map[string]any{"ssh_user": "infouser", "ssh_strict_host_key_checking": false, "ssh_known_hosts": "/kh"})
	if tg.User != "infouser" || tg.StrictHostKeyChecking != "no" || !reflect.DeepEqual(tg.UserKnownHostsFiles, []string{"/kh"}) {
		t.Fatalf("%+v", *tg.options)
	}
	// The job's connect timeout beats the config's, and ssh_options
	// beat the job's.
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &Driver{Config: path, Home: dir, User: "drvuser"}
	jr := newJob("n", "true")
	jr.job.ConnectTimeout = 3 * time.Second
	rs, _ := d.newResolver(jr.job)
	tg, _ = rs.resolve("n", nil)
	if tg.ConnectTimeout != 3*time.Second || tg.User != "cfguser" {
		t.Fatalf("%+v", *tg.options)
	}
	jr.info["ssh_options"] = "-oConnectTimeout=1m30s"
	rs, _ = d.newResolver(jr.job)
	tg, _ = rs.resolve("n", nil)
	if tg.ConnectTimeout != 90*time.Second {
		t.Fatalf("%+v", *tg.options)
	}
	// Driver.User is the weakest user.
	d.Config = "none"
	rs, _ = d.newResolver(newJob("n", "true").job)
	tg, _ = rs.resolve("n", nil)
	if tg.User != "drvuser" {
		t.Fatalf("%+v", *tg.options)
	}
}

// matchConfig is TestConfigMatch's config, and a fuzz seed.
const matchConfig = `
Host alias
    HostName real.example

Match host real.example
    Port 1001

Match originalhost alias user me
    User matched

Match !host *.example
    Port 1002

Match exec "true"
    Port 1003

Match user other
    Port 1004

Match final host real.example
    IdentityFile /final

Match all
    Port 1005
`

func TestConfigMatch(t *testing.T) {
	const cfg = matchConfig
	tg := mustResolve(t, cfg, "alias", nil)
	// Match host sees the HostName; Match user the user as known so far.
	if tg.Port != 1001 || tg.User != "matched" || !reflect.DeepEqual(tg.IdentityFiles, []string{"/final"}) {
		t.Fatalf("alias: %+v", *tg.options)
	}
	tg = mustResolve(t, cfg, "plain", nil)
	if tg.Port != 1002 {
		t.Fatalf("plain: %+v", *tg.options)
	}
	tg = mustResolve(t, "Match exec true\n  Port 1\nMatch all\n  Port 2\n", "x", nil)
	if tg.Port != 2 {
		t.Fatalf("exec: %+v", *tg.options)
	}
	if _, err := resolveWith(t, "Match host\n", "x", nil); err == nil {
		t.Fatal("Match host without a pattern accepted")
	}
}

func TestConfigInclude(t *testing.T) {
	dir := t.TempDir()
	incDir := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(incDir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"conf.d/10-a.conf": "Host a\n  Port 10\n",
		"conf.d/20-b.conf": "Port 20\nHost a b\n  User inc\n",
		"cond.conf":        "Port 30\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := "Include " + incDir + "/*.conf\nHost c\n  Include " + filepath.Join(dir, "cond.conf") + "\nHost *\n  User after\n"
	if tg := mustResolve(t, cfg, "a", nil); tg.Port != 10 || tg.User != "inc" {
		t.Fatalf("a: %+v", *tg.options)
	}
	// 20-b.conf starts active: its first Port applies to every host.
	if tg := mustResolve(t, cfg, "b", nil); tg.Port != 20 || tg.User != "inc" {
		t.Fatalf("b: %+v", *tg.options)
	}
	// An Include inside a Host block applies to that host only, and the
	// including block's state comes back after it.
	if tg := mustResolve(t, cfg, "c", nil); tg.Port != 20 || tg.User != "after" {
		t.Fatalf("c: %+v", *tg.options)
	}
	if tg := mustResolve(t, "Host c\n  Include "+filepath.Join(dir, "cond.conf")+"\n", "c", nil); tg.Port != 30 {
		t.Fatalf("c alone: %+v", *tg.options)
	}
	if tg := mustResolve(t, "Host c\n  Include "+filepath.Join(dir, "cond.conf")+"\n", "d", nil); tg.Port != 22 {
		t.Fatalf("d: %+v", *tg.options)
	}
}

func TestConfigErrors(t *testing.T) {
	for cfg, want := range map[string]string{
		"Port abc\n":                     "line 1: Bad port 'abc'",
		"Host x\n  User \"oops\n":        "line 2: invalid quotes",
		"StrictHostKeyChecking maybe\n":  `unsupported StrictHostKeyChecking value "maybe"`,
		"IdentityFile ~/%z\n":            "unknown key %z",
		"ConnectTimeout soon\n":          "ConnectTimeout",
		"Include " + "/x/%s\nPort 1\n":   "", // a missing include is fine
		"SomeFutureOption yes\nPort 1\n": "", // unknown keywords are ignored
	} {
		_, err := resolveWith(t, cfg, "x", nil)
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v", cfg, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", cfg, err, want)
		}
	}
}

func TestParseCmdLine(t *testing.T) {
	cl, err := parseCmdLine([]string{"-p2222", "-l", "bob", "-oUser=alice", "-o", "Port 1", "-q", "-T", "-i", "/k", "-F", "/cfg", "-Jgw"}, "ssh_options", false)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"port", "2222"}, {"user", "bob"}, {"user", "alice"}, {"port", "1"}, {"loglevel", "QUIET"}, {"identityfile", "/k"}, {"proxyjump", "gw"}}
	if !reflect.DeepEqual(cl.opts, want) || cl.config != "/cfg" || !cl.hasConfig {
		t.Fatalf("%+v", cl)
	}
	cl, err = parseCmdLine([]string{"-rpO", "-P", "22"}, "scp_options", true)
	if err != nil || !cl.preserve || !cl.forceSCP || !reflect.DeepEqual(cl.opts, [][]string{{"port", "22"}}) {
		t.Fatalf("scp: %+v %v", cl, err)
	}
	for _, bad := range [][]string{{"-A"}, {"-v"}, {"-oControlMaster=auto"}, {"-L", "1:a:2"}, {"-o", "ForwardX11=yes"}, {"-C"}} {
		_, err := parseCmdLine(bad, "ssh_options", false)
		if err == nil || !strings.Contains(err.Error(), "unsupported option") || !strings.Contains(err.Error(), "openssh worker") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	for _, ok := range [][]string{{"-oBatchMode=yes"}, {"-oForwardAgent=no", "-oForwardX11=no"}, {"-x", "-a"}, {"-oStrictHostKeyChecking=no", "-oUserKnownHostsFile=/dev/null"}} {
		if _, err := parseCmdLine(ok, "ssh_options", false); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

func TestParseJumps(t *testing.T) {
	got, err := parseJumps("gw1,bob@gw2:2222,ssh://alice@[::1]:22, gw3")
	if err != nil {
		t.Fatal(err)
	}
	want := []jumpSpec{{host: "gw1"}, {user: "bob", host: "gw2", port: 2222}, {user: "alice", host: "::1", port: 22}, {host: "gw3"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%+v", got)
	}
	for _, bad := range []string{"", "gw:0", "gw:x", "a,,b", "[::1"} {
		if _, err := parseJumps(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Duration{"10": 10 * time.Second, "1m30s": 90 * time.Second, "2h": 2 * time.Hour, "none": 0} {
		if got, err := parseTime(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "x", "1y", "-1"} {
		if _, err := parseTime(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
