package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

const example = `
groups:
  hpc: [alice, bob]
  ops: [carol]
rules:
  - name: hpc-status
    users: ["@hpc"]
    commands: [uname, "uname *", uptime, "echo *"]
    nodes: "n[1-10]"
  - name: hpc-copy
    users: ["@hpc"]
    nodes: "n[1-4]"
    copy: true
  - name: ops
    users: ["@ops"]
    commands: ["**"]
    nodes: "*"
    workers: [default, ssh, exec]
    copy: true
    reverse_copy: true
    actions: [see_all, cancel_any, attach_any, agents]
  - name: dave-pipe
    users: [dave]
    commands: ["dmesg | tail *"]
    nodes: "n1"
    info: [ssh_options]
`

func mustParse(t *testing.T, src string) *Policy {
	t.Helper()
	p, err := Parse([]byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func cmdReq(user, cmd, nodes string) Request {
	return Request{User: user, Command: cmd, Nodes: nodeset.MustParse(nodes)}
}

// checkCase is a request and the decision it should get.
type checkCase struct {
	name string
	req  Request
	rule string // "" = denied
	why  string // in the denial's reason
}

// checkAll checks every case against p.
func checkAll(t *testing.T, p *Policy, cases []checkCase) {
	t.Helper()
	for _, c := range cases {
		d := p.Check(c.req)
		if d.Allowed != (c.rule != "") || d.Rule != c.rule {
			t.Errorf("%s: %+v, want rule %q", c.name, d, c.rule)
			continue
		}
		if !strings.Contains(d.Reason, c.why) || strings.Contains(d.Reason, "\n") {
			t.Errorf("%s: reason %q, want one line with %q", c.name, d.Reason, c.why)
		}
		if c.rule == "" {
			if protocol.CodeOf(d.Err()) != protocol.CodeDenied {
				t.Errorf("%s: code %q", c.name, protocol.CodeOf(d.Err()))
			}
		} else if d.Err() != nil {
			t.Errorf("%s: allowed with an error", c.name)
		}
	}
}

func TestCheck(t *testing.T) {
	checkAll(t, mustParse(t, example), []checkCase{
		{"group member", cmdReq("alice", "uname -a", "n[1-3]"), "hpc-status", ""},
		{"exact command", cmdReq("bob", "uptime", "n10"), "hpc-status", ""},
		{"pattern needs its space", cmdReq("bob", "unamex", "n1"), "", `does not allow the command "unamex"`},
		{"separator", cmdReq("alice", "uname ; rm -rf /", "n1"), "", "does not allow the command"},
		{"glued separator", cmdReq("alice", "uname -a;rm -rf /", "n1"), "", "does not allow the command"},
		{"and", cmdReq("alice", "uname && rm -rf /", "n1"), "", "does not allow"},
		{"pipe", cmdReq("alice", "uname | sh", "n1"), "", "does not allow"},
		{"substitution", cmdReq("alice", "echo $(rm -rf /)", "n1"), "", "does not allow"},
		{"backquote", cmdReq("alice", "echo `rm -rf /`", "n1"), "", "does not allow"},
		{"newline", cmdReq("alice", "uname\nrm -rf /", "n1"), "", "does not allow"},
		{"redirection", cmdReq("alice", "echo x > /etc/passwd", "n1"), "", "does not allow"},
		{"quoted separator still refused", cmdReq("alice", "echo 'a;b'", "n1"), "", "does not allow"},
		{"quotes are fine", cmdReq("alice", "echo 'a b'", "n1"), "hpc-status", ""},
		{"empty command is a shell", cmdReq("alice", "", "n1"), "", "does not allow the command"},
		{"forbidden nodeset", cmdReq("alice", "uname", "n[9-12]"), "", `not on "n[11-12]"`},
		{"exec is a privilege", Request{User: "alice", Command: "uname", Worker: "exec", Nodes: nodeset.MustParse("n1")}, "", "not the worker"},
		{"ssh by name", Request{User: "alice", Command: "uname", Worker: "ssh", Nodes: nodeset.MustParse("n1")}, "hpc-status", ""},
		{"unknown user", cmdReq("mallory", "uname", "n1"), "", "no rule names this user"},
		{"empty user", cmdReq("", "uname", "n1"), "", "no rule names this user"},
		{"copy", Request{User: "bob", Copy: true, Nodes: nodeset.MustParse("n[1-4]")}, "hpc-copy", ""},
		{"copy beyond its nodes", Request{User: "bob", Copy: true, Nodes: nodeset.MustParse("n[1-5]")}, "", `not on "n5"`},
		{"reverse copy", Request{User: "bob", Copy: true, Reverse: true, Nodes: nodeset.MustParse("n1")}, "", "no copy from the nodes"},
		{"ops exec anywhere", Request{User: "carol", Command: "id; rm x", Worker: "exec", Nodes: nodeset.MustParse("x[1-1000]")}, "ops", ""},
		{"ops shell", cmdReq("carol", "", "a"), "ops", ""},
		{"ops pdsh not named", Request{User: "carol", Command: "id", Worker: "pdsh", Nodes: nodeset.MustParse("a")}, "", "not the worker"},
		{"harmless info key", Request{User: "alice", Command: "uname", Info: []string{"USER_x", "ssh_user", "debug"}, Nodes: nodeset.MustParse("n1")}, "hpc-status", ""},
		{"ssh_path is exec in disguise", Request{User: "alice", Command: "uname", Info: []string{"ssh_path"}, Nodes: nodeset.MustParse("n1")}, "", `task info key "ssh_path"`},
		{"ProxyCommand", Request{User: "alice", Command: "uname", Info: []string{"ssh_options"}, Nodes: nodeset.MustParse("n1")}, "", `task info key "ssh_options"`},
		{"info key named", Request{User: "dave", Command: "dmesg | tail -1", Info: []string{"SSH_OPTIONS"}, Nodes: nodeset.MustParse("n1")}, "dave-pipe", ""},
		{"other info key not named", Request{User: "dave", Command: "dmesg | tail -1", Info: []string{"ssh_config"}, Nodes: nodeset.MustParse("n1")}, "", "ssh_config"},
		{"ops any info", Request{User: "carol", Command: "x", Worker: "exec", Info: []string{"ssh_config"}, Nodes: nodeset.MustParse("n1")}, "", "task info key"},
		{"spelt out metacharacter", cmdReq("dave", "dmesg | tail -5", "n1"), "dave-pipe", ""},
		{"spelt out, still no second one", cmdReq("dave", "dmesg | tail -5; rm x", "n1"), "", "does not allow"},
	})
}

// A job must fit one rule: two rules each allowing half of it do not
// allow it.
func TestOneRuleAllowsAll(t *testing.T) {
	p := mustParse(t, `
rules:
  - {name: a, users: [u], commands: [id], nodes: "n[1-2]"}
  - {name: b, users: [u], commands: [id], nodes: "n[3-4]"}
`)
	if d := p.Check(cmdReq("u", "id", "n[1-4]")); d.Allowed {
		t.Fatalf("allowed by halves: %+v", d)
	}
	if d := p.Check(cmdReq("u", "id", "n[3-4]")); d.Rule != "b" {
		t.Fatalf("%+v", d)
	}
}

func TestActions(t *testing.T) {
	p := mustParse(t, example)
	if d := p.Allow("carol", CancelAny); !d.Allowed || d.Rule != "ops" {
		t.Errorf("carol: %+v", d)
	}
	if d := p.Allow("alice", SeeAll); d.Allowed || !strings.Contains(d.Reason, "see_all") {
		t.Errorf("alice: %+v", d)
	}
}

func TestBuiltIn(t *testing.T) {
	all := AllowAll()
	for _, r := range []Request{
		{User: "x", Command: "", Worker: "exec", Nodes: nodeset.MustParse("a")},
		{User: "", Copy: true, Reverse: true, Nodes: nodeset.MustParse("a[1-99]")},
	} {
		if d := all.Check(r); !d.Allowed {
			t.Errorf("AllowAll: %+v: %+v", r, d)
		}
	}
	if !all.Allow("x", Agents).Allowed {
		t.Error("AllowAll: agents")
	}
	def := Default([]string{"root"})
	for _, c := range []struct {
		req  Request
		want bool
	}{
		{Request{User: "u", Command: "rm -rf /tmp/x; id", Nodes: nodeset.MustParse("a")}, true},
		{Request{User: "u", Command: "id", Worker: "pdsh", Nodes: nodeset.MustParse("a")}, true},
		{Request{User: "u", Copy: true, Nodes: nodeset.MustParse("a")}, false},
		{Request{User: "u", Copy: true, Reverse: true, Nodes: nodeset.MustParse("a")}, false},
		{Request{User: "root", Copy: true, Reverse: true, Nodes: nodeset.MustParse("a")}, true},
		{Request{User: "u", Command: "id", Worker: "exec", Nodes: nodeset.MustParse("a")}, false},
		{Request{User: "root", Command: "id", Worker: "exec", Nodes: nodeset.MustParse("a")}, true},
		{Request{User: "u", Command: "id", Info: []string{"ssh_user"}, Nodes: nodeset.MustParse("a")}, true},
		{Request{User: "u", Command: "id", Info: []string{"ssh_path"}, Nodes: nodeset.MustParse("a")}, false},
		{Request{User: "root", Command: "id", Info: []string{"ssh_path"}, Nodes: nodeset.MustParse("a")}, true},
	} {
		if d := def.Check(c.req); d.Allowed != c.want {
			t.Errorf("Default: %+v: %+v", c.req, d)
		}
	}
	if def.Allow("u", SeeAll).Allowed || !def.Allow("root", SeeAll).Allowed {
		t.Error("Default: admin actions")
	}
	if Default(nil).Check(Request{User: "u", Worker: "exec", Nodes: nodeset.MustParse("a")}).Allowed {
		t.Error("Default without admins: exec allowed")
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"", "empty policy"},
		{"rules: []", "no rules"},
		{"rule: []", "field rule not found"},
		{"rules: [{users: [u], commands: [id], nodes: a, wokers: [exec]}]", "field wokers not found"},
		{"rules: [{users: [u], commands: [id]}]", "no nodes"},
		{"rules: [{commands: [id], nodes: a}]", "no users"},
		{"rules: [{users: ['@g'], commands: [id], nodes: a}]", `no group "g"`},
		{"rules: [{users: ['a b'], commands: [id], nodes: a}]", "user"},
		{"rules: [{users: [u], nodes: a}]", "allows nothing"},
		{"rules: [{users: [u], actions: [root]}]", "unknown action"},
		{"rules: [{users: [u], commands: ['a\\'], nodes: a}]", "lone backslash"},
		{"rules: [{users: [u], commands: [id], nodes: 'a[1-'}]", "nodes"},
		{"rules: [{users: [u], commands: [id], nodes: '@compute'}]", "need a groups configuration"},
		{"rules: [{users: [u], commands: [id], nodes: a, info: [ssh_user]}]", "not a privileged task info key"},
		{"rules: [{users: [u], commands: [id], nodes: a, workers: ['']}]", "empty name"},
		{"rules: [{name: x, users: [u], actions: [agents]}, {name: x, users: [u], actions: [agents]}]", "two rules"},
		{"x: &a [1]\nrules: *a", "aliases"},
		{"groups: {'a.b': [u]}\nrules: [{users: [u], actions: [agents]}]", "group"},
		{strings.Repeat(" ", MaxFile+1), "over"},
	} {
		_, err := Parse([]byte(c.src), Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.src, err, c.want)
		}
	}
}

// computeResolver returns a groups resolver whose only group, @compute,
// is nodes.
func computeResolver(t *testing.T, nodes string) *nodeset.Resolver {
	t.Helper()
	groups := filepath.Join(t.TempDir(), "groups.conf")
	if err := os.WriteFile(groups, []byte("[Main]\ndefault: local\n[local]\nmap: echo "+nodes+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := nodeset.LoadResolver(groups)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// @groups resolve with the parser given, at load time.
func TestLoadGroups(t *testing.T) {
	dir := t.TempDir()
	r := computeResolver(t, "n[1-3]")
	path := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(path, []byte("rules: [{name: g, users: [u], commands: [id], nodes: '@compute'}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path, Options{Parser: &nodeset.Parser{Resolver: r}})
	if err != nil {
		t.Fatal(err)
	}
	if p.String() != path || p.Rules() != 1 {
		t.Errorf("%s %d", p, p.Rules())
	}
	if !p.Check(cmdReq("u", "id", "n[1-3]")).Allowed || p.Check(cmdReq("u", "id", "n4")).Allowed {
		t.Error("@compute")
	}
	if _, err := Load(filepath.Join(dir, "missing"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestFromSpec(t *testing.T) {
	ns := nodeset.MustParse("a")
	r := FromSpec(&protocol.JobSpec{User: "u", Command: "ignored", Copy: &protocol.CopySpec{Reverse: true},
		Info: map[string]string{"b": "", "a": ""}}, ns)
	if !r.Copy || !r.Reverse || r.Command != "" || r.Nodes != ns || strings.Join(r.Info, ",") != "a,b" {
		t.Errorf("%+v", r)
	}
}

// deploy/policy.yaml is a valid policy, and the full example of
// docs/SECURITY.md is that file.
func TestDeployExample(t *testing.T) {
	r := computeResolver(t, "node[1-10]")
	const path = "../../../deploy/policy.yaml"
	p, err := Load(path, Options{Parser: &nodeset.Parser{Resolver: r}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		req  Request
		rule string
	}{
		{cmdReq("alice", "systemctl status sshd", "node[1-10]"), "hpc-status"},
		{cmdReq("alice", "dmesg | tail -n 20", "node1"), "hpc-status"},
		{cmdReq("alice", "dmesg | tail -n 20 | sh", "node1"), ""},
		{cmdReq("alice", "uptime", "node11"), ""},
		{Request{User: "bob", Copy: true, Reverse: true, Path: "/var/log/messages", Nodes: nodeset.MustParse("node700")}, "hpc-logs"},
		{Request{User: "bob", Copy: true, Reverse: true, Path: "/etc/shadow", Nodes: nodeset.MustParse("node700")}, ""},
		{Request{User: "bob", Copy: true, Path: "/scratch/", Nodes: nodeset.MustParse("node1")}, "hpc-copy"},
		{Request{User: "bob", Copy: true, Path: "job/input", Nodes: nodeset.MustParse("node1")}, "hpc-copy"},
		{Request{User: "bob", Copy: true, Path: "/var/log/x", Nodes: nodeset.MustParse("node1")}, ""},
		{Request{User: "bob", Copy: true, Path: "/etc/passwd", Nodes: nodeset.MustParse("node1")}, ""},
		{Request{User: "carol", Copy: true, Path: "/etc/passwd", Nodes: nodeset.MustParse("node1")}, "ops"},
		{Request{User: "dave", Worker: "exec", Nodes: nodeset.MustParse("x")}, "ops"},
		{Request{User: "nagios", Command: "cat /proc/loadavg", Worker: "ssh", Nodes: nodeset.MustParse("node5")}, "monitoring"},
		{cmdReq("nagios", "cat /proc/loadavg", "node5"), ""}, // default worker: not ssh by name
		{Request{User: "carol", Command: "x", Info: []string{"ssh_path"}, Nodes: nodeset.MustParse("x")}, "ops"},
		{Request{User: "alice", Command: "uptime", Info: []string{"ssh_options"}, Nodes: nodeset.MustParse("node1")}, "hpc-status"},
		{Request{User: "alice", Command: "uptime", Info: []string{"ssh_path"}, Nodes: nodeset.MustParse("node1")}, ""},
	} {
		if d := p.Check(c.req); d.Rule != c.rule {
			t.Errorf("%+v: %+v, want rule %q", c.req, d, c.rule)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../../docs/SECURITY.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), string(data)) {
		t.Error("docs/SECURITY.md does not show deploy/policy.yaml as it is")
	}
}

// deploy/demo-policy.yaml allows the README's quick start job, and no
// other command.
func TestDemoPolicy(t *testing.T) {
	p, err := Load("../../../deploy/demo-policy.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	job := Request{User: "anyone", Command: "echo hello from %h", Worker: "exec", Nodes: nodeset.MustParse("node[1-100],other[1-5]")}
	if d := p.Check(job); !d.Allowed {
		t.Errorf("README job: %+v", d)
	}
	job.Command = "id"
	if d := p.Check(job); d.Allowed {
		t.Errorf("id: %+v", d)
	}
}
