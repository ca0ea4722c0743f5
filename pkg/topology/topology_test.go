package topology

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// The ClusterShell example (conf/topology.conf.example).
const rioConf = `[routes]
rio0: rio[10-13]
rio[10-11]: rio[100-240]
rio[12-13]: rio[300-440]
`

func parse(t testing.TB, conf string) *Topology {
	t.Helper()
	topo, err := Parse(strings.NewReader(conf), "topology.conf", Options{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return topo
}

// routeStrings returns "line: src -> dst" for each route.
func routeStrings(topo *Topology) []string {
	var out []string
	for _, r := range topo.Routes {
		out = append(out, itoa(r.Line)+": "+r.String())
	}
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestParseRoutes(t *testing.T) {
	tests := []struct {
		name string
		conf string
		want []string
	}{
		{"clustershell example", rioConf, []string{
			"2: rio0 -> rio[10-13]",
			"3: rio[10-11] -> rio[100-240]",
			"4: rio[12-13] -> rio[300-440]",
		}},
		{"deprecated Main section", "[Main]\nrio0: rio[10-13]\n", []string{"2: rio0 -> rio[10-13]"}},
		{"routes wins over Main", "[Main]\nx: y\n[routes]\nrio0: rio[10-13]\n", []string{"4: rio0 -> rio[10-13]"}},
		{"other sections ignored", "[other]\nx: x\n[routes]\na: b\n", []string{"4: a -> b"}},
		{"equals separator and spaces", "[routes]\n  a  =  b[1-2] , b3\n", []string{"2: a -> b[1-3]"}},
		{"first separator splits", "[routes]\na=b:c\n", []string{"2: a -> b:c"}},
		{"comments", "# head\n; head\n[routes]\n# comment\n  ; indented comment\na: b\n\n#c: d\n", []string{"6: a -> b"}},
		{"keys are case-sensitive", "[routes]\nGW: b\ngw: c\n", []string{"2: GW -> b", "3: gw -> c"}},
		{"continuation after comma", "[routes]\na: b[1-2],\n   b3\n", []string{"2: a -> b[1-3]"}},
		{"continuation without comma", "[routes]\na: b[1-2]\n   b3\n\n   # comment\n   b4\n", []string{"2: a -> b[1-4]"}},
		{"continuation with operator", "[routes]\na: b[1-9]\n   !b5\n   ,c\n", []string{"2: a -> b[1-4,6-9],c"}},
		{"continuation inside brackets", "[routes]\na: b[1-2,\n   5]\n", []string{"2: a -> b[1-2,5]"}},
		{"continuation is relative to the key", "[routes]\n  a: b\n   c\n  d: e\n", []string{"2: a -> b,c", "4: d -> e"}},
		{"empty destination ignored", "[routes]\na:\nb: c\n", []string{"3: b -> c"}},
		{"empty source ignored", "[routes]\nx!x: y\nb: c\n", []string{"3: b -> c"}},
		{"empty route does not hide a later one", "[routes]\na: b!b\nc: b\n", []string{"3: c -> b"}},
		{"DEFAULT options are routes", "[DEFAULT]\nd: e\n[routes]\na: b\n", []string{"2: d -> e", "4: a -> b"}},
		{"section overrides DEFAULT in place", "[DEFAULT]\na: x\nd: e\n[routes]\na: b\n", []string{"5: a -> b", "3: d -> e"}},
		{"interpolation", "[routes]\nbase: node\na: %(base)s[1-2],x%%\n", []string{"2: base -> node", "3: a -> node[1-2],x%"}},
		{"CRLF and CR line ends", "[routes]\r\na: b\r\nc: d\re: f", []string{"2: a -> b", "3: c -> d", "4: e -> f"}},
		{"byte order mark", "\ufeff[routes]\na: b\n", []string{"2: a -> b"}},
		{"header text after bracket", "[routes] # comment\na: b\n", []string{"2: a -> b"}},
		{"no routes", "[routes]\n", nil},
		{"equal sources written differently", "[routes]\ngw[1-2]: n[1-10]\ngw1,gw2: n[11-20]\n", []string{"2: gw[1-2] -> n[1-10]", "3: gw[1-2] -> n[11-20]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := routeStrings(parse(t, tt.conf))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("routes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestParseErrors checks every error. The ClusterShell messages come from
// ClusterShell 1.9.1 (Debian python3-clustershell), with conf in FILE:
//
//	/usr/bin/python3 -c 'import sys; from ClusterShell.Topology import TopologyParser
//	p = TopologyParser(); p.load(sys.argv[1])' FILE
//
// ClusterShell reports every ConfigParser error as "Invalid configuration
// file: FILE"; the texts of those cases come from Python 3.11's
// configparser (/usr/bin/python3 -c 'import configparser as c; p =
// c.ConfigParser(); p.optionxform = str; p.read(FILE); p.items("routes")').
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		conf string
		kind error
		want string
	}{
		// ClusterShell: TopologyError: Source and destination nodesets overlap
		{"overlap", "[routes]\na: b\nb: b,c\n", ErrOverlap,
			"topology.conf:3: Source and destination nodesets overlap: b -> b,c (both hold b)"},
		// ClusterShell: TopologyError: Loop detected! Cannot add route b -> a
		{"loop of two", "[routes]\na: b\nb: a\n", ErrLoop,
			"topology.conf:3: Loop detected! Cannot add route b -> a (line 3: b -> a, line 2: a -> b, back to b)"},
		// ClusterShell: TopologyError: Loop detected! Cannot add route c -> a
		{"loop of three", "[routes]\na: b\nb: c\nc: a\n", ErrLoop,
			"topology.conf:4: Loop detected! Cannot add route c -> a (line 4: c -> a, line 2: a -> b, line 3: b -> c, back to c)"},
		// ClusterShell 1.9.1 accepts these routes, then hangs building its
		// tree (TopologyParser(FILE).tree("a") never returns).
		{"loop ClusterShell misses", "[routes]\nc: a\nd: x\na: c,d\n", ErrLoop,
			"topology.conf:4: Loop detected! Cannot add route a -> c,d (line 4: a -> c,d, line 2: c -> a, back to a)"},
		{"loop through part of a source", "[routes]\na[1-2]: b\nb: c\nc: a1\n", ErrLoop,
			"topology.conf:4: Loop detected! Cannot add route c -> a1 (line 4: c -> a1, line 2: a[1-2] -> b, line 3: b -> c, back to c)"},
		// ClusterShell: TopologyError: Convergent path detected! Cannot add route c -> b
		{"two sources reach one node", "[routes]\na: b[1-5]\nc: b5\n", ErrConvergentPath,
			"topology.conf:3: Convergent path detected! Cannot add route c -> b5 (b5 already reached from a, line 2)"},
		// ClusterShell: TopologyError: Convergent path detected! Cannot add route b[1-3] -> c
		{"source superset of a destination", "[routes]\na: b[1-2]\nb[1-3]: c\n", ErrConvergentPath,
			"topology.conf:3: Convergent path detected! Cannot add route b[1-3] -> c (the source is a superset of the destination b[1-2] of line 2)"},
		// ClusterShell: TopologyError: Convergent path detected! Cannot add route c -> a[1-2]
		{"destination subset of a source", "[routes]\na[1-3]: b\nc: a[1-2]\n", ErrConvergentPath,
			"topology.conf:3: Convergent path detected! Cannot add route c -> a[1-2] (the destination is a subset of the source a[1-3] of line 2)"},
		// ClusterShell: TopologyError: Convergent path detected! Cannot add route x -> b[1-2]
		{"second parent for a gateway group", "[routes]\na: b[1-2]\nb[1-2]: c\nx: b[1-2]\n", ErrConvergentPath,
			"topology.conf:4: Convergent path detected! Cannot add route x -> b[1-2] (b[1-2] already reached from a, line 2)"},
		// configparser: MissingSectionHeaderError: File contains no section headers.
		{"no section header", "\n# c\na: b\n", ErrSyntax,
			`topology.conf:3: File contains no section headers: "a: b"`},
		// configparser: NoSectionError: No section: 'Main'
		{"no routes section", "[other]\na: b\n", ErrSyntax, "topology.conf: no [routes] section"},
		{"empty file", "", ErrSyntax, "topology.conf: no [routes] section"},
		// configparser: ParsingError: Source contains parsing errors: [line  2]: 'foo\n'
		{"no separator", "[routes]\nfoo\n", ErrSyntax,
			`topology.conf:2: parsing error: "foo" has no ':' or '=' between source and destination`},
		// configparser: ParsingError: Source contains parsing errors: [line  2]: ': b\n'
		{"no key", "[routes]\n : b\n", ErrSyntax,
			`topology.conf:2: parsing error: ": b" has no source before ":"`},
		{"continuation is not indented enough", "[routes]\n  a: b\n c\n", ErrSyntax,
			`topology.conf:3: parsing error: "c" has no ':' or '=' between source and destination`},
		// configparser: DuplicateOptionError: While reading from 'FILE' [line  3]: option 'a' in section 'routes' already exists
		{"duplicate key", "[routes]\na: b\na: c\n", ErrSyntax,
			`topology.conf:3: option "a" in section "routes" already exists`},
		// configparser: DuplicateSectionError: While reading from 'FILE' [line  3]: section 'routes' already exists
		{"duplicate section", "[routes]\na: b\n[routes]\nc: d\n", ErrSyntax,
			`topology.conf:3: section "routes" already exists`},
		// configparser: InterpolationSyntaxError: '%' must be followed by '%' or '(', found: '%'
		{"lone percent", "[routes]\na: b%\n", ErrSyntax,
			`topology.conf:2: '%' must be followed by '%' or '(', found: "%"`},
		// configparser: InterpolationMissingOptionError: Bad value substitution: option 'a' in section 'routes' contains an interpolation key 'x' which is not a valid option name. Raw value: '%(x)s'
		{"unknown interpolation key", "[routes]\na: %(x)s\n", ErrSyntax,
			`topology.conf:2: Bad value substitution: option "a" in section "routes" contains an interpolation key "x" which is not a valid option name. Raw value: "%(x)s"`},
		// configparser: InterpolationSyntaxError: bad interpolation variable reference '%(x'
		{"bad interpolation reference", "[routes]\na: %(x\n", ErrSyntax,
			`topology.conf:2: bad interpolation variable reference "%(x"`},
		// configparser: InterpolationDepthError: Recursion limit exceeded in value substitution: ...
		{"recursive interpolation", "[routes]\na: %(a)s\n", ErrSyntax,
			`topology.conf:2: Recursion limit exceeded in value substitution: option "a" in section "routes" contains an interpolation key which cannot be substituted in 10 steps. Raw value: "%(a)s"`},
		// ClusterShell: NodeSetParseError (not a TopologyError): bad range: "invalid values in range : "3-1""
		{"bad destination", "[routes]\na: b\nc: d[3-1]\n", ErrSyntax,
			`topology.conf:3: destination "d[3-1]": bad range: "invalid values in range : "3-1""`},
		{"bad source", "[routes]\nd[1-: b\n", ErrSyntax,
			`topology.conf:2: source "d[1-": missing bracket: "d[1-"`},
		// ClusterShell reads the comment as part of the node names "rio10 # first rack" ...
		{"inline comment", "[routes]\nrio0: rio[10-13] # first rack\n", ErrSyntax,
			`topology.conf:2: destination "rio[10-13] # first rack": node names "rio[10-13] # first rack" contain white space (comments must be on lines of their own)`},
		{"space in a name", "[routes]\nrio0 rio1: rio[10-13]\n", ErrSyntax,
			`topology.conf:2: source "rio0 rio1": node names "rio0 rio1" contain white space`},
		{"invalid UTF-8", "[routes]\na: b\xff\n", ErrSyntax, "topology.conf:2: invalid UTF-8 text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topo, err := Parse(strings.NewReader(tt.conf), "topology.conf", Options{})
			if err == nil {
				t.Fatalf("no error, routes %q", routeStrings(topo))
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("error %v is not %v", err, tt.kind)
			}
			var te *Error
			if !errors.As(err, &te) || te.File != "topology.conf" {
				t.Errorf("error %#v is not an *Error naming the file", err)
			}
		})
	}
}

func TestParseErrorUnwrapsNodesetError(t *testing.T) {
	_, err := Parse(strings.NewReader("[routes]\na: b[2-1]\n"), "t.conf", Options{})
	var pe *nodeset.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v does not wrap a *nodeset.ParseError", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "topology.conf")
	if err := os.WriteFile(path, []byte(rioConf), 0o644); err != nil {
		t.Fatal(err)
	}
	topo, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.Routes) != 3 || topo.File != path {
		t.Errorf("Load: %d routes, file %q", len(topo.Routes), topo.File)
	}

	_, err = Load(filepath.Join(dir, "missing.conf"), Options{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
	if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, "missing.conf")+": ") {
		t.Errorf("Load error %q does not start with the file name", err)
	}

	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("[routes]\na: a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad, Options{}); err == nil || !strings.HasPrefix(err.Error(), bad+":2: ") {
		t.Errorf("Load error %q does not name file and line", err)
	}
}

func TestParseGroups(t *testing.T) {
	res, err := nodeset.NewStaticResolver(map[string]map[string]string{
		"topo": {
			"admin":    "adm1",
			"gateways": "gw[1-4]",
			"rack1":    "node[1-100]",
			"rack2":    "node[101-200]",
			"empty":    "",
		},
		"hw": {"gpu": "gpu[1-8]"},
	}, "topo")
	if err != nil {
		t.Fatal(err)
	}
	conf := `[routes]
@admin: @gateways
gw[1-2]: @rack1
gw[3-4]: @rack2,@hw:gpu
@empty: node999
gw1: @empty
`
	topo, err := Parse(strings.NewReader(conf), "topology.conf", Options{Parser: &nodeset.Parser{Resolver: res}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"2: adm1 -> gw[1-4]",
		"3: gw[1-2] -> node[1-100]",
		"4: gw[3-4] -> gpu[1-8],node[101-200]",
	}
	if got := routeStrings(topo); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("routes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Without a resolver, "@admin" is a node name.
	topo = parse(t, "[routes]\n@admin: gw1\n")
	if got := topo.Routes[0].Src.String(); got != "@admin" {
		t.Errorf("source without groups = %q", got)
	}

	// "@source:group" cannot be a source: the first ':' ends the key.
	_, err = Parse(strings.NewReader("[routes]\n@hw:gpu: @rack1\n"), "topology.conf", Options{Parser: &nodeset.Parser{Resolver: res}})
	if want := `topology.conf:2: destination "gpu: @rack1": node names "gpu: @rack1" contain white space (the source ends at the first ':', so it is "@hw": a route's source cannot name a group source)`; err == nil || err.Error() != want {
		t.Errorf("group source in a source:\n got %v\nwant %s", err, want)
	}

	// An unknown group source is an error naming the line.
	_, err = Parse(strings.NewReader("[routes]\na: b\nc: @nosrc:x\n"), "topology.conf", Options{Parser: &nodeset.Parser{Resolver: res}})
	if err == nil || !strings.HasPrefix(err.Error(), `topology.conf:3: destination "@nosrc:x": `) || !errors.Is(err, ErrSyntax) {
		t.Errorf("unknown group source: %v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	for _, tt := range []struct {
		err  *Error
		want string
	}{
		{&Error{File: "f", Line: 3, Msg: "m"}, "f:3: m"},
		{&Error{File: "f", Msg: "m"}, "f: m"},
		{&Error{Line: 3, Msg: "m"}, "line 3: m"},
		{&Error{Msg: "m", Err: errors.New("e")}, "m: e"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%#v: %q, want %q", tt.err, got, tt.want)
		}
	}
	if errors.Is(&Error{Msg: "m"}, ErrSyntax) {
		t.Error("an error without kind matches ErrSyntax")
	}
}

func TestParseTooLarge(t *testing.T) {
	big := strings.NewReader("[routes]\n#" + strings.Repeat("x", maxFileSize))
	if _, err := Parse(big, "big.conf", Options{}); !errors.Is(err, ErrSyntax) {
		t.Errorf("huge file: %v", err)
	}
}
