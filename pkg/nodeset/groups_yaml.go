package nodeset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// yamlLoader is ClusterShell's YAMLGroupLoader: one autodir *.yaml file
// holding several sources ("source: {group: nodes}"). Like ClusterShell it
// re-reads the file once cacheTime has passed, updating the groups of the
// sources found at first load; sources added to the file later are ignored
// until the configuration is loaded again.
type yamlLoader struct {
	filename  string
	cacheTime float64
	expiry    float64
	env       *gcEnv
	order     []string // sources, in file order, from the first load
	groups    map[string]*yamlGroups
}

// yamlGroups is one source's groups, in file order (Python dicts keep it).
type yamlGroups struct {
	names []string
	vals  map[string]yamlGroupValue
}

// yamlGroupValue is a group's nodes joined by ',' when written as a list;
// null keeps apart "all: ~", which ClusterShell treats as no all group.
type yamlGroupValue struct {
	nodes string
	null  bool
}

// loadYAMLGroups reads and validates filename. A file that cannot be read
// gives the plain os error, which the caller ignores like ClusterShell;
// anything wrong with its content is a *ConfigError.
func loadYAMLGroups(filename string, env *gcEnv) (*yamlLoader, error) {
	l := &yamlLoader{filename: filename, cacheTime: defaultCacheTime, env: env}
	if err := l.load(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *yamlLoader) load() error {
	data, err := os.ReadFile(l.filename)
	if err != nil {
		return err
	}
	order, groups, err := parseYAMLSources(l.filename, data)
	if err != nil {
		return err
	}
	if l.groups == nil {
		l.order, l.groups = order, groups
	} else {
		for name, g := range groups {
			if _, known := l.groups[name]; known {
				l.groups[name] = g
			}
		}
	}
	l.expiry = l.env.seconds() + l.cacheTime
	return nil
}

// sourceGroups returns the groups of source name, re-reading the file first
// when its cache time has passed. A file that became unreadable or invalid
// is an error, as in ClusterShell, until it is fixed.
func (l *yamlLoader) sourceGroups(name string) (*yamlGroups, error) {
	if l.expiry < l.env.seconds() {
		if err := l.load(); err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				return nil, err
			}
			return nil, &ConfigError{Msg: fmt.Sprintf("%s: reload: %v", l.filename, err)}
		}
	}
	return l.groups[name], nil
}

// fileSource is ClusterShell's FileGroupSource: one source of a YAML file.
type fileSource struct {
	name   string
	loader *yamlLoader
}

func (s *fileSource) clearCache() {}

func (s *fileSource) resolvMap(group string) (string, error) {
	g, err := s.loader.sourceGroups(s.name)
	if err != nil {
		return "", err
	}
	return g.vals[group].nodes, nil
}

// resolvAll answers from the special group "all"; without it the caller
// falls back to the union of all groups.
func (s *fileSource) resolvAll() (string, error) {
	g, err := s.loader.sourceGroups(s.name)
	if err != nil {
		return "", err
	}
	v, ok := g.vals["all"]
	if !ok || v.null {
		return "", &NoUpcallError{Source: s.name, Upcall: "all"}
	}
	return v.nodes, nil
}

func (s *fileSource) resolvList() ([]string, error) {
	g, err := s.loader.sourceGroups(s.name)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), g.names...), nil
}

func (s *fileSource) hasReverse() bool { return false }

func (s *fileSource) resolvReverse(string) (string, error) {
	return "", &NoUpcallError{Source: s.name, Upcall: "reverse"}
}

// parseYAMLSources decodes and validates a groups YAML file with the checks
// of YAMLGroupLoader._load, reading scalars as PyYAML (YAML 1.1) does so
// that, e.g., an unquoted "yes:" or "1:" group name is refused as in
// ClusterShell. Group values may be a string, a list of strings (joined with
// ',') or null (no nodes); other scalars (numbers, booleans) are taken as
// written. ClusterShell 1.9.1 fails only when such a group is queried; this
// loader refuses a value that is a mapping or a nested list at load time.
func parseYAMLSources(filename string, data []byte) ([]string, map[string]*yamlGroups, error) {
	fail := func(format string, args ...any) error {
		return &ConfigError{Msg: filename + ": " + fmt.Sprintf(format, args...)}
	}
	if !utf8.Valid(data) {
		return nil, nil, fail("invalid UTF-8 text")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fail("%v", err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, nil, fail("expected a single document in the stream")
	case !errors.Is(err, io.EOF):
		return nil, nil, fail("%v", err)
	}

	c := &yamlConstructor{budget: yamlMaxNodes, inProgress: map[*yaml.Node]bool{}}
	base, err := c.construct(&doc)
	if err != nil {
		return nil, nil, fail("%v", err)
	}
	if base.kind != yMap {
		return nil, nil, fail("invalid content (base is not a dict)")
	}
	var order []string
	sources := map[string]*yamlGroups{}
	for i, k := range base.keys {
		v := base.vals[i]
		if k.kind != yStr {
			return nil, nil, fail("group source %s not a string (add quotes?)", k.pyStr())
		}
		if v.kind != yMap {
			return nil, nil, fail("invalid content (group source '%s' is not a dict)", k.text)
		}
		g := &yamlGroups{vals: map[string]yamlGroupValue{}}
		for j, gk := range v.keys {
			if gk.kind != yStr {
				return nil, nil, fail("%s: group name %s not a string (add quotes?)", k.text, gk.pyStr())
			}
			val, err := groupValue(v.vals[j])
			if err != nil {
				return nil, nil, fail("%s: group %s: %v", k.text, gk.text, err)
			}
			g.names = append(g.names, gk.text)
			g.vals[gk.text] = val
		}
		order = append(order, k.text)
		sources[k.text] = g
	}
	return order, sources, nil
}

func groupValue(v *yval) (yamlGroupValue, error) {
	switch v.kind {
	case yNull:
		return yamlGroupValue{null: true}, nil
	case yMap:
		return yamlGroupValue{}, errors.New("invalid value (a mapping, expected a string or a list of strings)")
	case ySeq:
		var parts []string
		for _, e := range v.seq {
			switch e.kind {
			case yNull:
				// An empty list item adds no node.
			case yMap, ySeq:
				return yamlGroupValue{}, errors.New("invalid value (nested collection, expected a string or a list of strings)")
			default:
				parts = append(parts, e.text)
			}
		}
		return yamlGroupValue{nodes: strings.Join(parts, ",")}, nil
	default:
		return yamlGroupValue{nodes: v.text}, nil
	}
}

// ykind is the Python type PyYAML's safe loader would build.
type ykind int

const (
	yNull ykind = iota
	yStr
	yBool
	yInt
	yFloat
	yTimestamp
	yBinary
	ySeq
	yMap
)

// yval is a constructed YAML value; scalars keep their text as written.
type yval struct {
	kind ykind
	text string
	seq  []*yval
	keys []*yval
	vals []*yval
}

// pyStr renders a scalar as Python's str() would, for ClusterShell's
// "not a string" messages.
func (v *yval) pyStr() string {
	switch v.kind {
	case yNull:
		return "None"
	case yBool:
		switch strings.ToLower(v.text) {
		case "yes", "true", "on":
			return "True"
		}
		return "False"
	case yInt:
		if n, ok := yamlInt(v.text); ok {
			return n.String()
		}
	case yFloat:
		if f, ok := yamlFloat(v.text); ok {
			return pyfmt.FloatRepr(f)
		}
	case ySeq:
		return "[...]"
	case yMap:
		return "{...}"
	}
	return v.text
}

// yamlMaxNodes bounds how many values aliases may expand to, against
// "billion laughs" files.
const yamlMaxNodes = 1 << 20

type yamlConstructor struct {
	budget     int
	inProgress map[*yaml.Node]bool
}

// PyYAML's implicit resolvers (yaml/resolver.py), in registration order.
// yaml11Resolvers is compiled on first use: most runs read no YAML file,
// and compiling the expressions at start-up would slow every command.
var yaml11Resolvers = sync.OnceValue(func() []yamlResolver {
	return []yamlResolver{
		{"!!bool", regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)},
		{"!!float", regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?` +
			`|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?` +
			`|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*` +
			`|[-+]?\.(?:inf|Inf|INF)` +
			`|\.(?:nan|NaN|NAN))$`)},
		{"!!int", regexp.MustCompile(`^(?:[-+]?0b[0-1_]+` +
			`|[-+]?0[0-7_]+` +
			`|[-+]?(?:0|[1-9][0-9_]*)` +
			`|[-+]?0x[0-9a-fA-F_]+` +
			`|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)},
		{"!!merge", regexp.MustCompile(`^(?:<<)$`)},
		{"!!null", regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)},
		{"!!timestamp", regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]` +
			`|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?` +
			`(?:[Tt]|[ \t]+)[0-9][0-9]?` +
			`:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?` +
			`(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`)},
		{"!!value", regexp.MustCompile(`^(?:=)$`)},
	}
})

type yamlResolver struct {
	tag string
	re  *regexp.Regexp
}

// scalarTag returns the tag PyYAML gives a scalar: its explicit tag, str
// when quoted or a block scalar, else the YAML 1.1 implicit resolution
// (where yaml.v3 would apply YAML 1.2 rules).
func scalarTag(n *yaml.Node) string {
	if n.Style&yaml.TaggedStyle != 0 {
		return n.Tag
	}
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return "!!str"
	}
	for _, r := range yaml11Resolvers() {
		if r.re.MatchString(n.Value) {
			return r.tag
		}
	}
	return "!!str"
}

func (c *yamlConstructor) construct(n *yaml.Node) (*yval, error) {
	c.budget--
	if c.budget < 0 {
		return nil, errors.New("document contains too many aliased values")
	}
	switch n.Kind {
	case 0: // an empty stream: PyYAML's safe_load gives None
		return &yval{kind: yNull}, nil
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return &yval{kind: yNull}, nil
		}
		return c.construct(n.Content[0])
	case yaml.AliasNode:
		if n.Alias == nil || c.inProgress[n.Alias] {
			return nil, fmt.Errorf("line %d: recursive alias %q", n.Line, n.Value)
		}
		c.inProgress[n.Alias] = true
		defer delete(c.inProgress, n.Alias)
		return c.construct(n.Alias)
	case yaml.ScalarNode:
		return c.scalar(n, false)
	case yaml.SequenceNode:
		if n.Style&yaml.TaggedStyle != 0 && n.Tag != "!!seq" {
			return nil, fmt.Errorf("line %d: unsupported tag %s", n.Line, n.Tag)
		}
		v := &yval{kind: ySeq}
		for _, e := range n.Content {
			ev, err := c.construct(e)
			if err != nil {
				return nil, err
			}
			v.seq = append(v.seq, ev)
		}
		return v, nil
	case yaml.MappingNode:
		return c.mapping(n)
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

// yamlScalarKinds are the scalar tags PyYAML's safe loader can construct.
var yamlScalarKinds = map[string]ykind{
	"!!str": yStr, "!!null": yNull, "!!bool": yBool, "!!int": yInt,
	"!!float": yFloat, "!!timestamp": yTimestamp, "!!binary": yBinary,
}

func (c *yamlConstructor) scalar(n *yaml.Node, isKey bool) (*yval, error) {
	tag := scalarTag(n)
	if tag == "!!value" && isKey {
		// PyYAML turns a "=" key into the string "=".
		tag = "!!str"
	}
	k, ok := yamlScalarKinds[tag]
	if !ok {
		return nil, fmt.Errorf("line %d: could not determine a constructor for the tag %s", n.Line, tag)
	}
	return &yval{kind: k, text: n.Value}, nil
}

// mapping builds a mapping as PyYAML does: merge keys ("<<: *anchor")
// first contribute their pairs, then the explicit ones; a repeated key keeps
// its first position and takes its last value.
func (c *yamlConstructor) mapping(n *yaml.Node) (*yval, error) {
	if n.Style&yaml.TaggedStyle != 0 && n.Tag != "!!map" {
		return nil, fmt.Errorf("line %d: unsupported tag %s", n.Line, n.Tag)
	}
	pairs, err := c.flatten(n)
	if err != nil {
		return nil, err
	}
	v := &yval{kind: yMap}
	index := map[string]int{}
	for _, p := range pairs {
		kn := p[0]
		for kn.Kind == yaml.AliasNode && kn.Alias != nil {
			kn = kn.Alias
		}
		if kn.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: found unhashable key", kn.Line)
		}
		key, err := c.scalar(kn, true)
		if err != nil {
			return nil, err
		}
		val, err := c.construct(p[1])
		if err != nil {
			return nil, err
		}
		if key.kind == yStr {
			if i, dup := index[key.text]; dup {
				v.vals[i] = val
				continue
			}
			index[key.text] = len(v.keys)
		}
		v.keys = append(v.keys, key)
		v.vals = append(v.vals, val)
	}
	return v, nil
}

// flatten is PyYAML's SafeConstructor.flatten_mapping.
func (c *yamlConstructor) flatten(n *yaml.Node) ([][2]*yaml.Node, error) {
	if c.inProgress[n] {
		return nil, fmt.Errorf("line %d: recursive merge", n.Line)
	}
	c.inProgress[n] = true
	defer delete(c.inProgress, n)
	var merge, own [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || scalarTag(k) != "!!merge" {
			own = append(own, [2]*yaml.Node{k, v})
			continue
		}
		for v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		switch v.Kind {
		case yaml.MappingNode:
			sub, err := c.flatten(v)
			if err != nil {
				return nil, err
			}
			merge = append(merge, sub...)
		case yaml.SequenceNode:
			var subs [][][2]*yaml.Node
			for _, e := range v.Content {
				for e.Kind == yaml.AliasNode && e.Alias != nil {
					e = e.Alias
				}
				if e.Kind != yaml.MappingNode {
					return nil, fmt.Errorf("line %d: expected a mapping for merging", e.Line)
				}
				sub, err := c.flatten(e)
				if err != nil {
					return nil, err
				}
				subs = append(subs, sub)
			}
			for i := len(subs) - 1; i >= 0; i-- {
				merge = append(merge, subs[i]...)
			}
		default:
			return nil, fmt.Errorf("line %d: expected a mapping or list of mappings for merging", v.Line)
		}
	}
	return append(merge, own...), nil
}

// yamlInt is PyYAML's construct_yaml_int (0b, 0x, leading-0 octal,
// base-60 "1:30", underscores).
func yamlInt(s string) (*big.Int, bool) {
	s = strings.ReplaceAll(s, "_", "")
	sign := int64(1)
	if strings.HasPrefix(s, "-") {
		sign = -1
	}
	s = strings.TrimLeft(s, "+-")
	n := new(big.Int)
	ok := true
	switch {
	case s == "0":
	case strings.HasPrefix(s, "0b"):
		_, ok = n.SetString(s[2:], 2)
	case strings.HasPrefix(s, "0x"):
		_, ok = n.SetString(s[2:], 16)
	case strings.HasPrefix(s, "0"):
		_, ok = n.SetString(s[1:], 8)
	case strings.Contains(s, ":"):
		for _, part := range strings.Split(s, ":") {
			d, err := strconv.ParseInt(part, 10, 64)
			if err != nil {
				return nil, false
			}
			n.Mul(n, big.NewInt(60))
			n.Add(n, big.NewInt(d))
		}
	default:
		_, ok = n.SetString(s, 10)
	}
	if !ok {
		return nil, false
	}
	return n.Mul(n, big.NewInt(sign)), true
}

// yamlFloat is PyYAML's construct_yaml_float.
func yamlFloat(s string) (float64, bool) {
	s = strings.ToLower(strings.ReplaceAll(s, "_", ""))
	sign := 1.0
	if strings.HasPrefix(s, "-") {
		sign = -1
	}
	s = strings.TrimLeft(s, "+-")
	switch {
	case s == ".inf":
		return sign * math.Inf(1), true
	case s == ".nan":
		return math.NaN(), true
	case strings.Contains(s, ":"):
		f := 0.0
		for _, part := range strings.Split(s, ":") {
			d, err := strconv.ParseFloat(part, 64)
			if err != nil {
				return 0, false
			}
			f = f*60 + d
		}
		return sign * f, true
	}
	f, err := strconv.ParseFloat(s, 64)
	return sign * f, err == nil
}
