package policy

import (
	"os"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

const pathsExample = `
groups:
  ops: [carol]
rules:
  - name: ops-push
    users: ["@ops"]
    nodes: "n[1-4]"
    copy: true
    paths: ["/etc/**", "/opt/**"]
  - name: ops-logs
    users: ["@ops"]
    nodes: "n[1-4]"
    reverse_copy: true
    paths: [/var/log/**]
  - name: home
    users: [erin]
    nodes: "*"
    copy: true
    reverse_copy: true
    paths: ["**", "/scratch/*/in", "/a/**/b", "**/conf", "~erin/**", '/srv/x\*', "/srv/a?c"]
  - name: anywhere
    users: [frank]
    nodes: "*"
    copy: true
`

func push(user, path string) Request {
	return Request{User: user, Copy: true, Path: path, Nodes: nodeset.MustParse("n1")}
}

func pull(user, path string) Request {
	r := push(user, path)
	r.Reverse = true
	return r
}

func TestCheckPaths(t *testing.T) {
	const opsPaths = `(paths: /etc/**, /opt/**)`
	checkAll(t, mustParse(t, pathsExample), []checkCase{
		{"file under", push("carol", "/etc/hosts"), "ops-push", ""},
		{"deep", push("carol", "/opt/app/lib/x.so"), "ops-push", ""},
		{"the directory itself", push("carol", "/etc"), "ops-push", ""},
		{"directory with its slash", push("carol", "/etc/"), "ops-push", ""},
		{"second pattern", push("carol", "/opt"), "ops-push", ""},
		{"dot file", push("carol", "/etc/.pwd.lock"), "ops-push", ""},
		{"space in a name", push("carol", "/etc/a b"), "ops-push", ""},
		{"elsewhere", push("carol", "/root/x"), "", `rule "ops-push" does not allow copies to "/root/x" ` + opsPaths},
		{"prefix is not a directory", push("carol", "/etcx"), "", `copies to "/etcx"`},
		{"climbs out", push("carol", "/etc/../root/x"), "", `copies to "/etc/../root/x"`},
		{"climbs out deep", push("carol", "/etc/a/../../root"), "", `copies to`},
		{"dot names", push("carol", "/etc/./x/."), "ops-push", ""},
		{"double slash", push("carol", "//etc//x"), "ops-push", ""},
		{"above the root is the root", push("carol", "/../etc/x"), "ops-push", ""},
		{"relative is not absolute", push("carol", "etc/x"), "", `copies to "etc/x"`},
		{"home is not absolute", push("carol", "~/etc"), "", `copies to "~/etc"`},
		{"substitution", push("carol", "/etc/$(reboot)"), "", `copies to "/etc/$(reboot)"`},
		{"separator", push("carol", "/etc/a;reboot"), "", "does not allow copies"},
		{"substitution cleaned away", push("carol", "/etc/$(reboot)/../x"), "", "cleaning it drops shell metacharacters"},
		{"too long", push("carol", "/etc/"+strings.Repeat("x", protocol.MaxPath)), "", "a path over 4096 bytes"},
		{"newline", push("carol", "/etc/a\nb"), "", `"/etc/a\nb"`},
		{"no path", push("carol", ""), "", `rule "ops-push": the copy names no path on the nodes (its ` + opsPaths[1:]},
		{"paths then nodes", Request{User: "carol", Copy: true, Path: "/etc/x", Nodes: nodeset.MustParse("n[4-5]")}, "", `not on "n5"`},
		{"a push path is no pull path", push("carol", "/var/log/x"), "", `"ops-push" does not allow copies to "/var/log/x"`},
		{"pull", pull("carol", "/var/log/syslog"), "ops-logs", ""},
		{"pull the directory", pull("carol", "/var/log/"), "ops-logs", ""},
		{"pull elsewhere", pull("carol", "/etc/shadow"), "", `rule "ops-logs" does not allow copies from "/etc/shadow" (paths: /var/log/**)`},
		{"pull climbing", pull("carol", "/var/log/../../etc/shadow"), "", "copies from"},

		{"home relative", push("erin", "x/y"), "home", ""},
		{"home with tilde", push("erin", "~/x"), "home", ""},
		{"home itself", push("erin", "~"), "home", ""},
		{"home dot", pull("erin", "."), "home", ""},
		{"home tilde slashes", push("erin", "~//x"), "home", ""},
		{"relative climbing", push("erin", "../bob/x"), "", `copies to "../bob/x": it climbs out of the directory it is relative to`},
		{"relative climbing later", push("erin", "a/../../x"), "", "climbs out"},
		{"tilde climbing", push("erin", "~/../x"), "", "climbs out"},
		{"relative to absolute", push("erin", "/etc/passwd"), "", `copies to "/etc/passwd"`},
		{"another home", push("erin", "~root/.ssh/authorized_keys"), "", `copies to "~root/.ssh/authorized_keys"`},
		{"another home cleaned is still it", push("erin", "~root/../x"), "", "climbs out"},
		{"own home by name", push("erin", "~erin/x"), "home", ""},
		{"own home by name itself", push("erin", "~erin/"), "home", ""},
		{"own home by name, climbing", push("erin", "~erin/../../etc"), "", "climbs out"},
		{"one name", push("erin", "/scratch/u1/in"), "home", ""},
		{"star is one name", push("erin", "/scratch/u1/u2/in"), "", "does not allow"},
		{"star is a name", push("erin", "/scratch/in"), "", "does not allow"},
		{"globstar none", push("erin", "/a/b"), "home", ""},
		{"globstar some", push("erin", "/a/x/y/b"), "home", ""},
		{"globstar is whole names", push("erin", "/a/xb"), "", "does not allow"},
		{"leading globstar is relative", push("erin", "/x/conf"), "", "does not allow"},
		{"escaped star", push("erin", "/srv/x*"), "home", ""},
		{"escaped star is a star", push("erin", "/srv/xy"), "", "does not allow"},
		{"question mark", push("erin", "/srv/abc"), "home", ""},
		{"question mark is no slash", push("erin", "/srv/a/c"), "", "does not allow"},
		{"question mark is no metacharacter", push("erin", "/srv/a|c"), "", "does not allow"},

		{"no paths: anywhere", push("frank", "/root/.ssh/authorized_keys"), "anywhere", ""},
		{"no paths: even none", push("frank", ""), "anywhere", ""},
		{"no paths: even climbing", push("frank", "../x"), "anywhere", ""},
	})
}

// Patterns' own corners: globstars in every place, and every class.
func TestPathGlob(t *testing.T) {
	for _, c := range []struct {
		pattern string
		match   []string
		miss    []string
	}{
		{"/**", []string{"/", "/etc", "/a/b/c"}, []string{".", "x", "~root", "/a$b"}},
		{"**", []string{".", "x", "a/b/c", ".hidden"}, []string{"/", "/x", "~root/x", "..", "../x"}},
		{"/", []string{"/", "//", "/.."}, []string{"/x"}},
		{"/etc", []string{"/etc", "/etc/"}, []string{"/etc/x"}},
		{"/etc/*", []string{"/etc/x", "/etc/x/"}, []string{"/etc", "/etc/x/y"}},
		{"/etc/**/**/x", []string{"/etc/x", "/etc/a/b/x"}, []string{"/etc", "/etcx"}},
		{"**/**", []string{".", "a", "a/b"}, []string{"/a"}},
		{"**/x/**", []string{"x", "a/x", "x/b", "a/b/x/c/d"}, []string{"ax", "xa/b"}},
		{"/opt/app**", []string{"/opt/app", "/opt/app1/x"}, []string{"/opt/ap", "/opt/app;x"}},
		{"~", []string{"~", ".", "~/"}, []string{"x", "/"}},
		{"~/x", []string{"x", "~/x"}, []string{"/x"}},
		{"~alice", []string{"~alice", "~alice/", "~alice/."}, []string{"~alice/x", "alice"}},
		{"~*/**", []string{"~alice", "~bob/x/y"}, []string{"x", "/x", "~/x"}},
	} {
		g, err := compilePathGlob(c.pattern)
		if err != nil {
			t.Errorf("%q: %v", c.pattern, err)
			continue
		}
		for _, p := range c.match {
			if cl, class, ok := cleanPath(p); !ok || !g.match(cl, class) {
				t.Errorf("%q does not match %q", c.pattern, p)
			}
		}
		for _, p := range c.miss {
			if cl, class, ok := cleanPath(p); ok && g.match(cl, class) {
				t.Errorf("%q matches %q", c.pattern, p)
			}
		}
	}
}

func TestParsePathsErrors(t *testing.T) {
	for _, c := range []struct{ paths, want string }{
		{"[]", "an empty list would allow no copy"},
		{`[""]`, "an empty pattern"},
		{"[/etc/]", `"/etc/" ends with a slash: paths are matched cleaned, write "/etc" (the directory itself) or "/etc/**"`},
		{"['~/']", "ends with a slash"},
		{"[/etc/../root/**]", `"/etc/../root/**" is not a clean path: paths are matched cleaned, write "/root/**"`},
		{"[./x]", `write "x"`},
		{"['~//x']", "not a clean path"},
		{"[//x]", "not a clean path"},
		{"[../x]", `"../x" climbs out`},
		{"['~a/../..']", "climbs out"},
		{`['/etc/\']`, "lone backslash"},
		{"[" + strings.Repeat("a", maxPattern+1) + "]", "path pattern over"},
	} {
		src := "rules: [{name: r, users: [u], nodes: a, copy: true, paths: " + c.paths + "}]"
		_, err := Parse([]byte(src), Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `rule "r"`) {
			t.Errorf("%s: %v, want %q", c.paths, err, c.want)
		}
	}
	for _, src := range []string{
		"rules: [{users: [u], commands: [id], nodes: a, paths: [/etc/**]}]",
		"rules: [{users: [u], actions: [agents], paths: [/etc/**]}]",
	} {
		if _, err := Parse([]byte(src), Options{}); err == nil || !strings.Contains(err.Error(), "paths without copy or reverse_copy") {
			t.Errorf("%s: %v", src, err)
		}
	}
	// A null paths key is no key: any path.
	p := mustParse(t, "rules: [{users: [u], nodes: a, copy: true, paths: }]")
	if d := p.Check(Request{User: "u", Copy: true, Path: "/x", Nodes: nodeset.MustParse("a")}); !d.Allowed {
		t.Errorf("null paths: %+v", d)
	}
	for _, ok := range []string{"[/]", "['~']", "['~/x/**']", "['**']", `['/a\*']`} {
		mustParse(t, "rules: [{users: [u], nodes: a, reverse_copy: true, paths: "+ok+"}]")
	}
	big := strings.Repeat("/"+strings.Repeat("a", maxPattern-2), 1)
	many := "[" + strings.TrimSuffix(strings.Repeat(big+", ", maxPatterns/len(big)+1), ", ") + "]"
	if _, err := Parse([]byte("rules: [{users: [u], nodes: a, copy: true, paths: "+many+"}]"), Options{}); err == nil || !strings.Contains(err.Error(), "command and path patterns over") {
		t.Errorf("all patterns: %v", err)
	}
}

func TestMayCopy(t *testing.T) {
	p := mustParse(t, pathsExample)
	for _, c := range []struct {
		p             *Policy
		user          string
		copy, reverse bool
	}{
		{p, "carol", true, true},
		{p, "erin", true, true},
		{p, "frank", true, false},
		{p, "mallory", false, false},
		{p, "", false, false},
		{mustParse(t, example), "alice", true, false}, // hpc-copy: copy only
		{mustParse(t, example), "dave", false, false}, // commands only
		{AllowAll(), "anyone", true, true},
		{Default([]string{"root"}), "root", true, true},
		{Default([]string{"root"}), "u", false, false},
		{Default(nil), "u", false, false},
	} {
		if got := c.p.MayCopy(c.user); got != c.copy {
			t.Errorf("%s: MayCopy(%q) = %v", c.p, c.user, got)
		}
		if got := c.p.MayReverseCopy(c.user); got != c.reverse {
			t.Errorf("%s: MayReverseCopy(%q) = %v", c.p, c.user, got)
		}
	}
}

func TestFromSpecPath(t *testing.T) {
	ns := nodeset.MustParse("a")
	spec := &protocol.JobSpec{User: "u", Copy: &protocol.CopySpec{Source: "/local/src", Dest: "/etc/"}}
	if r := FromSpec(spec, ns); r.Path != "/etc/" || r.Reverse {
		t.Errorf("push: %+v", r)
	}
	spec.Copy = &protocol.CopySpec{Source: "/var/log/syslog", Dest: "/local/logs", Reverse: true}
	if r := FromSpec(spec, ns); r.Path != "/var/log/syslog" || !r.Reverse {
		t.Errorf("reverse: %+v", r)
	}
	if r := FromSpec(&protocol.JobSpec{User: "u", Command: "id"}, ns); r.Path != "" {
		t.Errorf("command: %+v", r)
	}
}

// The example of docs/SECURITY.md, "Copies", is a valid policy that
// decides as the text there says.
func TestDocsPathsExample(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/SECURITY.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, _ := strings.Cut(string(doc), "```yaml\nrules:\n  - name: ops-push\n")
	block, _, ok := strings.Cut(after, "```")
	if !ok {
		t.Fatal("docs/SECURITY.md: no ops-push example")
	}
	res := computeResolver(t, "node[1-10]")
	src := "groups: {ops: [carol]}\nrules:\n  - name: ops-push\n" + block
	p, err := Parse([]byte(src), Options{Parser: &nodeset.Parser{Resolver: res}})
	if err != nil {
		t.Fatal(err)
	}
	req := Request{User: "carol", Copy: true, Path: "/root/x", Nodes: nodeset.MustParse("node1")}
	const want = `denied by policy: user "carol": rule "ops-push" does not allow copies to "/root/x" (paths: /etc/**, /opt/**)`
	if d := p.Check(req); d.Reason != want || !strings.Contains(string(doc), "`"+want+"`") {
		t.Errorf("reason %q, want %q as the doc says", d.Reason, want)
	}
	for path, rule := range map[string]string{"/etc/": "ops-push", "/opt/app/bin": "ops-push", "/var/log/x": ""} {
		req.Path = path
		if d := p.Check(req); d.Rule != rule {
			t.Errorf("push to %s: %+v", path, d)
		}
	}
	req.Reverse, req.Path = true, "/var/log/messages"
	if d := p.Check(req); d.Rule != "ops-logs" {
		t.Errorf("pull: %+v", d)
	}
}
