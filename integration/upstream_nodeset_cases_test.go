package integration

// The cases of TestUpstreamNodeset: the command lines of ClusterShell
// 1.9.1's tests/CLINodesetTest.py, read from
// testdata/upstream/nodeset_cases.txt (its first lines say how it is
// written), and the calls that upstream makes in loops, made by the
// generators below.

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

// upstreamNodesetCasesFile holds CLINodesetTest.py's calls, one a line.
const upstreamNodesetCasesFile = "testdata/upstream/nodeset_cases.txt"

// nsBuilder collects the cases of the upstream test methods.
type nsBuilder struct {
	cases  []upstreamNodesetCase
	method string
	conf   string
	pre    []string // arguments before each call's
}

// t adds a call without standard input.
func (b *nsBuilder) t(args ...string) { b.in("", args...) }

// in adds a call reading stdin.
func (b *nsBuilder) in(stdin string, args ...string) {
	args = append(append([]string{}, b.pre...), args...)
	b.cases = append(b.cases, upstreamNodesetCase{method: b.method, conf: b.conf, args: args, stdin: stdin})
}

// upstreamNodesetCases reads upstreamNodesetCasesFile.
func upstreamNodesetCases() ([]upstreamNodesetCase, error) {
	f, err := os.Open(upstreamNodesetCasesFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := &nsBuilder{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		if err := b.line(sc.Text()); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", upstreamNodesetCasesFile, n, err)
		}
	}
	return b.cases, sc.Err()
}

// line adds what one line of upstreamNodesetCasesFile says.
func (b *nsBuilder) line(line string) error {
	if line == "" || strings.HasPrefix(line, "#") {
		return nil
	}
	if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
		b.method = line[1 : len(line)-1]
		return nil
	}
	words, quoted, err := splitCaseLine(line)
	if err != nil {
		return err
	}
	switch {
	case !quoted[0] && words[0] == "%conf" && len(words) > 1:
		if _, ok := upstreamNodesetConfs[words[1]]; !ok {
			return fmt.Errorf("no configuration %q", words[1])
		}
		b.conf, b.pre = words[1], words[2:]
		return nil
	case !quoted[0] && words[0] == "%gen" && len(words) > 1:
		gen, ok := nsGenerators[words[1]]
		if !ok {
			return fmt.Errorf("no generator %q", words[1])
		}
		gen(b, words[2:])
		return nil
	}
	var stdin string
	if !quoted[0] && words[0] == "<" {
		if len(words) < 2 {
			return fmt.Errorf("< without its text")
		}
		stdin, words, quoted = words[1], words[2:], quoted[2:]
	}
	var want *string
	if k := len(words) - 2; k >= 0 && !quoted[k] && words[k] == "=>" {
		want, words = &words[k+1], words[:k]
	}
	b.in(stdin, words...)
	b.cases[len(b.cases)-1].want = want
	return nil
}

// splitCaseLine splits a line into its words, bare or Go-quoted, and says
// which were quoted (a quoted "<" is an argument, a bare one is not).
func splitCaseLine(line string) (words []string, quoted []bool, err error) {
	for rest := strings.TrimLeft(line, " "); rest != ""; rest = strings.TrimLeft(rest, " ") {
		if rest[0] != '"' {
			w, after, _ := strings.Cut(rest, " ")
			words, quoted, rest = append(words, w), append(quoted, false), after
			continue
		}
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return nil, nil, fmt.Errorf("%w at %.20q", err, rest)
		}
		w, _ := strconv.Unquote(q)
		words, quoted, rest = append(words, w), append(quoted, true), rest[len(q):]
	}
	return words, quoted, nil
}

// nsGenerators make the calls that upstream makes in loops, for the
// "%gen name args..." lines of upstreamNodesetCasesFile.
var nsGenerators = map[string]func(b *nsBuilder, args []string){
	// CLINodesetTest._battery_count, after the given options.
	"count": func(b *nsBuilder, pre []string) { b.battery("--count", pre) },
	// CLINodesetTest._battery_fold, after the given options.
	"fold": func(b *nsBuilder, pre []string) { b.battery("--fold", pre) },
	// The shuffled node names of test_023, as arguments after the options.
	"ib": func(b *nsBuilder, opts []string) { b.t(append(opts, shuffledIB()...)...) },
	// The shuffled node names of test_024, one a line on stdin.
	"ib-stdin": func(b *nsBuilder, opts []string) { b.in(strings.Join(shuffledIB(), "\n")+"\n", opts...) },
	// test_025: --pick 1 to 99, of a node set and of a range set.
	"pick": func(b *nsBuilder, _ []string) {
		for n := 1; n < 100; n++ {
			b.t("--count", "--pick", strconv.Itoa(n), "foo[1-100]")
			b.t("--count", "--pick", strconv.Itoa(n), "-R", "1-100")
		}
	},
}

// battery is CLINodesetTest._battery_count (op "--count") or
// _battery_fold (op "--fold", which has two more argument lists): op on
// each argument list, then on each standard input, after pre.
func (b *nsBuilder) battery(op string, pre []string) {
	argLists := [][]string{
		{""}, {"foo"}, {"foo", "bar"}, {"foo", "foo"}, {"foo", "foo", "bar"}, {"foo[0]"}, {"foo[2]"},
		{"foo[1,2]"}, {"foo[1-2]"}, {"foo[1,2]", "foo[1-2]"}, {"foo[1-200,245-394]"},
		{"foo[395-442]", "foo[1-200,245-394]"}, {"foo[395-442]", "foo", "foo[1-200,245-394]"},
		{"foo[395-442]", "foo", "foo[0-200,245-394]"}, {"foo[395-442]", "bar3,bar24", "foo[1-200,245-394]"},
	}
	if op == "--fold" {
		argLists = append(argLists, []string{"foo3\nfoo1\nfoo2\nbar"}, []string{"foo3\n\n\nfoo1\n\nfoo2\n\n"})
	}
	opts := append(append([]string{}, pre...), op)
	for _, args := range argLists {
		b.t(append(append([]string{}, opts...), args...)...)
	}
	for _, in := range []string{
		"\n", "foo\n", "foo\nbar\n", "foo\nfoo\n", "foo\nfoo\nbar\n", "foo[0]\n", "foo[2]\n", "foo[1,2]\n",
		"foo[1-2]\n", "foo[1,2]\nfoo[1-2]\n", "foo[1-200,245-394]\n", "foo[395-442]\nfoo[1-200,245-394]\n",
		"foo[395-442]\nfoo\nfoo[1-200,245-394]\n", "foo[395-442]\nfoo\nfoo[0-200,245-394]\n",
		"foo[395-442]\nbar3,bar24\nfoo[1-200,245-394]\n",
	} {
		b.in(in, opts...)
	}
}

// shuffledIB is node%d-ib%d for 500 indexes and 2 interfaces, shuffled
// (upstream shuffles with random.shuffle; any fixed order will do).
func shuffledIB() []string {
	var ib []string
	for i := range 2 {
		for idx := range 500 {
			ib = append(ib, fmt.Sprintf("node%d-ib%d", idx, i))
		}
	}
	r := rand.New(rand.NewPCG(23, 24))
	r.Shuffle(len(ib), func(i, j int) { ib[i], ib[j] = ib[j], ib[i] })
	return ib
}
