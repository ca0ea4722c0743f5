// Package policy decides who may run what on a fleet: which users (or
// groups of users) may run which commands, on which nodes, with which
// workers, whether they may copy files to or from the nodes, and which
// fleet admin actions they may take. The coordinator checks every job
// against it at submit, and an agent given the same file checks each
// shard again before running it.
//
// # The file
//
// A policy file is YAML (docs/SECURITY.md, "Policy", has a full example):
//
//	groups:                  # groups of users, named @hpc in rules
//	  hpc: [alice, bob]
//	rules:
//	  - name: hpc-status     # named in every decision and the audit log
//	    users: ["@hpc", carol]  # user ids, @groups, or "*" (every user)
//	    commands: [uname, "uname *", uptime]
//	    nodes: "@compute,login[1-2]"  # a node set; "*" is every node
//	    workers: [ssh]       # default: default, ssh, openssh, rsh, pdsh
//	    info: [ssh_options]  # privileged task info keys (see Privileged)
//	    copy: false          # copies to the nodes (csub --copy)
//	    reverse_copy: false  # copies from the nodes (csub --rcopy)
//	    paths: ["/etc/**"]   # where copies may write / read on the nodes
//	    actions: []          # see_all, cancel_any, attach_any, agents
//
// # Decisions
//
// Once a policy is given, everything is denied unless a rule allows it.
// Rules only allow; there is no deny rule, so their order never matters:
// a job is allowed when one rule allows all of it at once (its user, its
// command or copy, its worker, its privileged task info keys and every
// one of its nodes); two rules that each allow half of the nodes do not
// allow the job. A denial's reason names the rule that came closest and
// what it lacked.
//
// # Command patterns
//
// A pattern matches the whole command line, as the submitter typed it
// (before %h substitution). "*" matches any characters except the shell's
// metacharacters ; & | < > ( ) $ ` \ and line ends, "?" one such
// character, "**" anything at all, and "\x" the character x. So
// "uname *" matches "uname -a" but not "uname; rm -rf /", "uname $(rm
// -rf /)" or "uname -a | sh"; a command with metacharacters matches only
// a pattern that spells them out or uses "**". The empty command (csub
// with no command starts a login shell reading standard input) matches
// only "**".
//
// Pitfalls: "*" still matches any arguments, and some commands run other
// commands from their arguments: "find *" allows "find / -delete" and
// "find / -exec rm {} +", "env *", "xargs *", "sudo *", "sh *" and
// "awk *" allow anything. Allow such commands only with fixed arguments.
// A command that reads standard input (sh, bash, python) runs whatever
// csub forwards. Quotes are ordinary characters: "echo *" matches
// "echo 'a b'" but not "echo 'a;b'".
//
// # Workers
//
// A job names its worker (csub -R); "default" stands for a job that names
// none (the agent's own default, --worker, which an agent with a policy
// checks under its real name). A rule without workers allows the
// remote-shell workers: default, ssh, openssh, rsh and pdsh. Any other
// worker, "exec" above all (it runs the command on the agent's or the
// coordinator's host, as their user), must be named; "*" allows every
// worker.
//
// # Task info keys
//
// A job's task info keys (clush.conf's ssh_path, ssh_options ..., csub
// -O) configure the agent's engine. Those that choose a program the agent
// runs, its options or a client configuration (see Privileged: ssh_path
// runs any program, ssh_options -oProxyCommand=... any command, on the
// agent's host) are a privilege like exec: a job may set one only if its
// rule names it in info ("*": all). Every other key is always allowed.
//
// # Copies
//
// A copy reads its source (csub --copy) or writes its destination (csub
// --rcopy) on the disk of the agent that serves the node, as the agent's
// user: a copy can read any file the agent can, its credential included.
// Rules allow copies only when they say so (copy, reverse_copy).
//
// A rule's paths limit the copy's path on the nodes: where a push writes
// (its destination) and what a reverse copy reads (its source); a rule
// without paths allows any path. The path is cleaned first (path.Clean:
// "/etc/../root/x" is /root/x, "/etc/" is /etc); "~" and a leading "~/"
// are the login user's home on the node, like a relative path; a
// relative path that climbs out of its directory ("../x") matches no
// pattern. Patterns use the command patterns' syntax with "/" as a
// separator: "*" is any characters of one name and "?" one, neither a
// slash nor a shell metacharacter; "**" as a whole name is any number of
// names, none included, so "/etc/**" allows /etc itself and everything
// under it, "/etc/*" the names in /etc, "**" every path in the home
// directory. A path matches only patterns of its kind: an absolute path
// only patterns beginning with "/", a relative one only relative
// patterns, "~alice/x" (another user's home, for the scp program) only
// patterns beginning with "~". A path holding a shell metacharacter
// matches only a pattern that writes it out (pdcp and scp's legacy
// protocol hand the path to a shell on the node). A pattern that is not
// clean as written, and paths on a rule without copy or reverse_copy,
// are refused at load.
// The check is of the path named: a copy writes or reads everything
// under it, and follows the symbolic links it finds on the node.
//
// # Without a policy file
//
// Default is the coordinator's built-in policy: every user may run any
// command on any node with the remote-shell workers; only the admins may
// use other workers (exec), set privileged task info keys, copy files and
// take admin actions. AllowAll allows everything: it is the policy of
// csub's in-process fleet, whose only user owns the process anyway.
package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Action is a fleet admin action.
type Action string

// The admin actions.
const (
	// SeeAll lists, and reads the status of, every user's jobs.
	SeeAll Action = "see_all"
	// CancelAny cancels any user's job.
	CancelAny Action = "cancel_any"
	// AttachAny attaches to (reads the output of) any user's job.
	AttachAny Action = "attach_any"
	// Agents lists the fleet's agents.
	Agents Action = "agents"
)

var actions = []Action{SeeAll, CancelAny, AttachAny, Agents}

// DefaultWorker is the worker name a job that names none is checked as.
const DefaultWorker = "default"

// remoteShells are the workers a rule without workers allows.
var remoteShells = []string{DefaultWorker, "ssh", "openssh", "rsh", "pdsh"}

// Request is a job as the policy sees it.
type Request struct {
	// User is the submitter's id (from its credential).
	User string
	// Command is the command line (a command job).
	Command string
	// Copy, when set, makes the request a copy; Reverse one from the nodes.
	Copy, Reverse bool
	// Path is a copy's path on the nodes: the destination of a push, the
	// source of a reverse copy (a rule's paths limit it).
	Path string
	// Worker is the job's worker ("" or DefaultWorker: the default).
	Worker string
	// Info is the task info keys the job sets (JobSpec.Info).
	Info []string
	// Nodes is the job's (or shard's) node set.
	Nodes *nodeset.NodeSet
}

// FromSpec is the request of spec for nodes (the job's or a shard's).
func FromSpec(spec *protocol.JobSpec, nodes *nodeset.NodeSet) Request {
	r := Request{User: spec.User, Command: spec.Command, Worker: spec.Worker, Nodes: nodes}
	for k := range spec.Info {
		r.Info = append(r.Info, k)
	}
	slices.Sort(r.Info) // the same key named first in every denial
	if spec.Copy != nil {
		r.Copy, r.Reverse, r.Command, r.Path = true, spec.Copy.Reverse, "", spec.Copy.Dest
		if r.Reverse {
			r.Path = spec.Copy.Source
		}
	}
	return r
}

// Decision is the answer to a request.
type Decision struct {
	Allowed bool
	// Rule names the rule that allowed the request ("" when denied).
	Rule string
	// Reason is one line for people: the rule that allowed it, or why
	// nothing did.
	Reason string
}

// Err is nil for an allowed request, else the denial with the wire code
// protocol.CodeDenied.
func (d Decision) Err() error {
	if d.Allowed {
		return nil
	}
	return &protocol.CodedError{Code: protocol.CodeDenied, Err: errors.New(d.Reason)}
}

// Policy is a set of rules. Its methods are safe for concurrent use.
type Policy struct {
	name  string // where it came from, for logs
	says  string // how denials begin: "denied by policy"
	rules []*rule
}

// String names the policy: its file, or the built-in one it is.
func (p *Policy) String() string { return p.name }

// Rules returns how many rules the policy has.
func (p *Policy) Rules() int { return len(p.rules) }

// rule is one compiled rule.
type rule struct {
	name     string
	anyUser  bool
	users    map[string]bool
	commands []*glob
	copy     bool
	reverse  bool
	paths    []*pathGlob // nil: any path
	anyNode  bool
	nodes    *nodeset.NodeSet
	anyWork  bool
	workers  []string
	anyInfo  bool
	info     []string // privileged task info keys allowed (lower case)
	actions  []Action
}

// AllowAll returns the policy that allows every request and action.
func AllowAll() *Policy {
	return &Policy{name: "allow-all (built in)", says: "denied by policy", rules: []*rule{everything("allow-all", nil)}}
}

// Default returns the coordinator's built-in policy for a fleet without
// a policy file: admins may do everything; every user may run any
// command on any node with the remote-shell workers.
func Default(admins []string) *Policy {
	p := &Policy{name: "default (built in)", says: "denied by the built-in default policy"}
	if len(admins) > 0 {
		p.rules = append(p.rules, everything("default-admins", admins))
	}
	users := everything("default-users", nil)
	users.anyWork, users.workers, users.anyInfo, users.actions = false, remoteShells, false, nil
	users.copy, users.reverse = false, false // copies read and write the agents' disks
	p.rules = append(p.rules, users)
	return p
}

// everything is a rule allowing users (nil: every user) everything.
func everything(name string, users []string) *rule {
	r := &rule{name: name, anyUser: users == nil, users: map[string]bool{},
		copy: true, reverse: true, anyNode: true, anyWork: true, anyInfo: true, actions: actions}
	for _, u := range users {
		r.users[u] = true
	}
	g, _ := compileGlob("**")
	r.commands = []*glob{g}
	return r
}

// Check decides req.
func (p *Policy) Check(req Request) Decision {
	if req.Worker == "" {
		req.Worker = DefaultWorker
	}
	best, why := -1, ""
	for _, r := range p.rules {
		st, reason := r.check(&req)
		if st == stageAllowed {
			return Decision{Allowed: true, Rule: r.name, Reason: fmt.Sprintf("allowed by policy rule %q", r.name)}
		}
		if st > best {
			best, why = st, reason
		}
	}
	if best < 0 {
		why = "no rule names this user"
	}
	return Decision{Reason: fmt.Sprintf("%s: user %s: %s", p.says, clip(req.User), why)}
}

// Allow decides whether user may take action.
func (p *Policy) Allow(user string, a Action) Decision {
	for _, r := range p.rules {
		if r.names(user) && slices.Contains(r.actions, a) {
			return Decision{Allowed: true, Rule: r.name, Reason: fmt.Sprintf("allowed by policy rule %q", r.name)}
		}
	}
	return Decision{Reason: fmt.Sprintf("%s: user %s: no rule allows the admin action %s", p.says, clip(user), a)}
}

// MayCopy reports whether a rule naming user allows a push (copy: true),
// to some path on some nodes: whether the user may store file content in
// the fleet for one.
func (p *Policy) MayCopy(user string) bool {
	return slices.ContainsFunc(p.rules, func(r *rule) bool { return r.copy && r.names(user) })
}

// MayReverseCopy reports whether a rule naming user allows a reverse
// copy (reverse_copy: true), from some path on some nodes.
func (p *Policy) MayReverseCopy(user string) bool {
	return slices.ContainsFunc(p.rules, func(r *rule) bool { return r.reverse && r.names(user) })
}

// How far a request got through a rule: the denial reports the rule
// that got furthest.
const (
	stageUser = iota
	stageKind
	stageCommand
	stageWorker
	stageInfo
	stageAllowed
)

func (r *rule) names(user string) bool { return r.anyUser || r.users[user] }

// check returns how far req got through r, and what stopped it.
func (r *rule) check(req *Request) (int, string) {
	if !r.names(req.User) {
		return -1, ""
	}
	switch {
	case req.Copy && req.Reverse && !r.reverse:
		return stageUser, fmt.Sprintf("rule %q allows no copy from the nodes", r.name)
	case req.Copy && !req.Reverse && !r.copy:
		return stageUser, fmt.Sprintf("rule %q allows no copy to the nodes", r.name)
	case !req.Copy && len(r.commands) == 0:
		return stageUser, fmt.Sprintf("rule %q allows no command", r.name)
	}
	if req.Copy {
		if why := r.checkPath(req); why != "" {
			return stageKind, why
		}
	}
	if !req.Copy && !slices.ContainsFunc(r.commands, func(g *glob) bool { return g.match(req.Command) }) {
		return stageKind, fmt.Sprintf("rule %q does not allow the command %s", r.name, clip(req.Command))
	}
	if !r.anyWork && !slices.Contains(r.workers, req.Worker) {
		return stageCommand, fmt.Sprintf("rule %q allows the command but not the worker %s (workers: %s)", r.name, clip(req.Worker), strings.Join(r.workers, ", "))
	}
	if !r.anyInfo {
		for _, k := range req.Info {
			if Privileged(k) && !slices.Contains(r.info, strings.ToLower(k)) {
				return stageWorker, fmt.Sprintf("rule %q allows the command but not the task info key %s (it chooses a program or options the agent runs)", r.name, clip(k))
			}
		}
	}
	if !r.anyNode {
		if req.Nodes == nil {
			return stageInfo, fmt.Sprintf("rule %q: the job names no node set", r.name)
		}
		if out := req.Nodes.Difference(r.nodes); out.Len() > 0 {
			return stageInfo, fmt.Sprintf("rule %q allows the command but not on %s (its nodes: %s)", r.name, clip(out.String()), clip(r.nodes.String()))
		}
	}
	return stageAllowed, ""
}

// Privileged reports whether the task info key chooses a program the
// agent runs, its options or a client configuration: ssh_path,
// ssh_options (-oProxyCommand runs a local command), ssh_config,
// ssh_known_hosts, and any key ending in _path, _options, _config or
// _known_hosts (case does not matter). Setting one is like running
// -R exec on the agent's host: a rule must name the key (info).
func Privileged(key string) bool {
	k := strings.ToLower(key)
	for _, suffix := range []string{"_path", "_options", "_config", "_known_hosts"} {
		if strings.HasSuffix(k, suffix) {
			return true
		}
	}
	return false
}

// maxReason bounds a command or node set quoted in a reason.
const maxReason = 120

// clip quotes s for a one-line reason, cut to maxReason bytes.
func clip(s string) string {
	if len(s) > maxReason {
		return fmt.Sprintf("%q...", s[:maxReason])
	}
	return fmt.Sprintf("%q", s)
}
