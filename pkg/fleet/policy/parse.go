package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Bounds of a policy file: what parsing one may allocate grows with its
// size, which these cap.
const (
	// MaxFile is the largest policy file.
	MaxFile = 256 << 10
	// maxRules bounds the rules, maxList any one list of a rule or group.
	maxRules = 1024
	maxList  = 4096
	maxNodes = 64 << 10 // bytes of one rule's node set expression
	// maxPatterns bounds the bytes of all command and path patterns: a
	// compiled pattern takes some hundred times its size.
	maxPatterns = 64 << 10
)

// Options are the settings a policy is read with.
type Options struct {
	// Parser parses the rules' node sets; with a Resolver, @groups are
	// resolved once, at load time (nil: nodeset.Parser{}, no groups).
	Parser *nodeset.Parser
}

// file is the YAML document.
type file struct {
	Groups map[string][]string `yaml:"groups"`
	Rules  []fileRule          `yaml:"rules"`
}

type fileRule struct {
	Name        string   `yaml:"name"`
	Users       []string `yaml:"users"`
	Commands    []string `yaml:"commands"`
	Nodes       string   `yaml:"nodes"`
	Workers     []string `yaml:"workers"`
	Info        []string `yaml:"info"`
	Copy        bool     `yaml:"copy"`
	ReverseCopy bool     `yaml:"reverse_copy"`
	Paths       []string `yaml:"paths"`
	Actions     []Action `yaml:"actions"`
}

// Load reads the policy file at path.
func Load(path string, opts Options) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFile+1))
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	p, err := Parse(data, opts)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	p.name = path
	return p, nil
}

// Parse reads a policy from the contents of a policy file.
func Parse(data []byte, opts Options) (*Policy, error) {
	if len(data) > MaxFile {
		return nil, fmt.Errorf("over %d bytes", MaxFile)
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty policy: it would deny everything")
		}
		return nil, err
	}
	// Aliases could make a small file decode into a huge one.
	if line := findAlias(&doc, 0); line != 0 {
		return nil, fmt.Errorf("line %d: YAML aliases are not allowed in a policy", line)
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true) // a misspelt key must not silently allow or deny
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	parser := opts.Parser
	if parser == nil {
		parser = &nodeset.Parser{}
	}
	return compile(&f, parser)
}

// findAlias returns the line of an alias in n, or 0. depth bounds the
// walk (yaml.v3 itself refuses documents nested deeper).
func findAlias(n *yaml.Node, depth int) int {
	if n.Kind == yaml.AliasNode {
		return max(n.Line, 1)
	}
	if depth > 10000 {
		return max(n.Line, 1)
	}
	for _, c := range n.Content {
		if l := findAlias(c, depth+1); l != 0 {
			return l
		}
	}
	return 0
}

func compile(f *file, parser *nodeset.Parser) (*Policy, error) {
	if len(f.Rules) == 0 {
		return nil, errors.New("no rules: the policy would deny everything")
	}
	if len(f.Rules) > maxRules {
		return nil, fmt.Errorf("over %d rules", maxRules)
	}
	for g, members := range f.Groups {
		if err := protocol.ValidID(g); err != nil {
			return nil, fmt.Errorf("group %q: %w", g, err)
		}
		if len(members) > maxList {
			return nil, fmt.Errorf("group %s: over %d members", g, maxList)
		}
		for _, u := range members {
			if err := protocol.ValidID(u); err != nil {
				return nil, fmt.Errorf("group %s: user %q: %w", g, u, err)
			}
		}
	}
	p := &Policy{name: "policy", says: "denied by policy"}
	seen := map[string]bool{}
	patterns := 0
	for i := range f.Rules {
		fr := &f.Rules[i]
		for _, c := range slices.Concat(fr.Commands, fr.Paths) {
			if patterns += len(c); patterns > maxPatterns {
				return nil, fmt.Errorf("command and path patterns over %d bytes in all", maxPatterns)
			}
		}
		if fr.Name == "" {
			fr.Name = fmt.Sprintf("#%d", i+1)
		}
		if seen[fr.Name] {
			return nil, fmt.Errorf("two rules named %q", fr.Name)
		}
		seen[fr.Name] = true
		r, err := compileRule(fr, f.Groups, parser)
		if err != nil {
			return nil, fmt.Errorf("rule %q: %w", fr.Name, err)
		}
		p.rules = append(p.rules, r)
	}
	return p, nil
}

func compileRule(fr *fileRule, groups map[string][]string, parser *nodeset.Parser) (*rule, error) {
	for what, n := range map[string]int{"users": len(fr.Users), "commands": len(fr.Commands), "workers": len(fr.Workers), "paths": len(fr.Paths), "info": len(fr.Info), "actions": len(fr.Actions)} {
		if n > maxList {
			return nil, fmt.Errorf("over %d %s", maxList, what)
		}
	}
	if len(fr.Name) > maxReason {
		return nil, fmt.Errorf("name over %d bytes", maxReason)
	}
	r := &rule{name: fr.Name, users: map[string]bool{}, copy: fr.Copy, reverse: fr.ReverseCopy}
	if len(fr.Users) == 0 {
		return nil, errors.New(`no users (name some, or "*" for every user)`)
	}
	for _, u := range fr.Users {
		switch {
		case u == "*":
			r.anyUser = true
		case len(u) > 1 && u[0] == '@':
			members, ok := groups[u[1:]]
			if !ok {
				return nil, fmt.Errorf("users: no group %q in groups", u[1:])
			}
			for _, m := range members {
				r.users[m] = true
			}
		default:
			if err := protocol.ValidID(u); err != nil {
				return nil, fmt.Errorf("user %q: %w", u, err)
			}
			r.users[u] = true
		}
	}
	for _, c := range fr.Commands {
		g, err := compileGlob(c)
		if err != nil {
			return nil, err
		}
		r.commands = append(r.commands, g)
	}
	switch {
	case fr.Paths == nil:
		// Any path: what a rule without paths always meant.
	case !r.copy && !r.reverse:
		return nil, errors.New("paths without copy or reverse_copy: paths only limit copies, this rule allows none")
	case len(fr.Paths) == 0:
		return nil, errors.New(`paths: an empty list would allow no copy (leave the key out for any path, or write "/**" and "**")`)
	}
	for _, s := range fr.Paths {
		g, err := compilePathGlob(s)
		if err != nil {
			return nil, err
		}
		r.paths = append(r.paths, g)
	}
	jobs := len(r.commands) > 0 || r.copy || r.reverse
	switch {
	case fr.Nodes == "*":
		r.anyNode = true
	case fr.Nodes == "" && jobs:
		return nil, errors.New(`no nodes (a node set, or "*" for every node)`)
	case len(fr.Nodes) > maxNodes:
		return nil, fmt.Errorf("nodes over %d bytes", maxNodes)
	case parser.Resolver == nil && strings.Contains(fr.Nodes, "@"):
		// Without groups "@compute" would be a node of that name, and
		// the rule would silently allow none of the group's nodes.
		return nil, fmt.Errorf("nodes %q: @groups need a groups configuration (groups.conf), none is loaded", fr.Nodes)
	case fr.Nodes != "":
		ns, err := parser.Parse(fr.Nodes)
		if err != nil {
			return nil, fmt.Errorf("nodes: %w", err)
		}
		r.nodes = ns
	}
	if len(fr.Workers) == 0 {
		r.workers = remoteShells
	}
	for _, w := range fr.Workers {
		switch {
		case w == "*":
			r.anyWork = true
		case w == "":
			return nil, errors.New(`workers: an empty name (the default worker is "default")`)
		default:
			r.workers = append(r.workers, w)
		}
	}
	for _, k := range fr.Info {
		switch {
		case k == "*":
			r.anyInfo = true
		case !Privileged(k):
			return nil, fmt.Errorf("info: %q is not a privileged task info key (those end in _path, _options, _config or _known_hosts); every other key is always allowed", k)
		default:
			r.info = append(r.info, strings.ToLower(k))
		}
	}
	for _, a := range fr.Actions {
		if !slices.Contains(actions, a) {
			return nil, fmt.Errorf("unknown action %q (actions: see_all, cancel_any, attach_any, agents)", a)
		}
		r.actions = append(r.actions, a)
	}
	if !jobs && len(r.actions) == 0 {
		return nil, errors.New("allows nothing: no commands, copies or actions")
	}
	return r, nil
}
