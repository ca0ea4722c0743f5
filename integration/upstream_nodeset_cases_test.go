package integration

// The command lines of ClusterShell 1.9.1's tests/CLINodesetTest.py, one
// builder call per main() call, grouped by upstream test method (see
// upstream_nodeset_test.go).

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

func upstreamNodesetCases() []upstreamNodesetCase {
	b := &nsBuilder{}
	upstreamNodesetMain(b)
	upstreamNodesetMain2(b)
	upstreamNodesetGroups(b)
	return b.cases
}

// batteryCount is CLINodesetTest._battery_count.
func (b *nsBuilder) batteryCount(pre ...string) {
	for _, args := range [][]string{
		{""}, {"foo"}, {"foo", "bar"}, {"foo", "foo"}, {"foo", "foo", "bar"}, {"foo[0]"}, {"foo[2]"},
		{"foo[1,2]"}, {"foo[1-2]"}, {"foo[1,2]", "foo[1-2]"}, {"foo[1-200,245-394]"},
		{"foo[395-442]", "foo[1-200,245-394]"}, {"foo[395-442]", "foo", "foo[1-200,245-394]"},
		{"foo[395-442]", "foo", "foo[0-200,245-394]"}, {"foo[395-442]", "bar3,bar24", "foo[1-200,245-394]"},
	} {
		b.t(append(append(append([]string{}, pre...), "--count"), args...)...)
	}
	for _, in := range []string{
		"\n", "foo\n", "foo\nbar\n", "foo\nfoo\n", "foo\nfoo\nbar\n", "foo[0]\n", "foo[2]\n", "foo[1,2]\n",
		"foo[1-2]\n", "foo[1,2]\nfoo[1-2]\n", "foo[1-200,245-394]\n", "foo[395-442]\nfoo[1-200,245-394]\n",
		"foo[395-442]\nfoo\nfoo[1-200,245-394]\n", "foo[395-442]\nfoo\nfoo[0-200,245-394]\n",
		"foo[395-442]\nbar3,bar24\nfoo[1-200,245-394]\n",
	} {
		b.in(in, append(append([]string{}, pre...), "--count")...)
	}
}

// batteryFold is CLINodesetTest._battery_fold.
func (b *nsBuilder) batteryFold(pre ...string) {
	for _, args := range [][]string{
		{""}, {"foo"}, {"foo", "bar"}, {"foo", "foo"}, {"foo", "foo", "bar"}, {"foo[0]"}, {"foo[2]"},
		{"foo[1,2]"}, {"foo[1-2]"}, {"foo[1,2]", "foo[1-2]"}, {"foo[1-200,245-394]"},
		{"foo[395-442]", "foo[1-200,245-394]"}, {"foo[395-442]", "foo", "foo[1-200,245-394]"},
		{"foo[395-442]", "foo", "foo[0-200,245-394]"}, {"foo[395-442]", "bar3,bar24", "foo[1-200,245-394]"},
		{"foo3\nfoo1\nfoo2\nbar"}, {"foo3\n\n\nfoo1\n\nfoo2\n\n"},
	} {
		b.t(append(append(append([]string{}, pre...), "--fold"), args...)...)
	}
	for _, in := range []string{
		"\n", "foo\n", "foo\nbar\n", "foo\nfoo\n", "foo\nfoo\nbar\n", "foo[0]\n", "foo[2]\n", "foo[1,2]\n",
		"foo[1-2]\n", "foo[1,2]\nfoo[1-2]\n", "foo[1-200,245-394]\n", "foo[395-442]\nfoo[1-200,245-394]\n",
		"foo[395-442]\nfoo\nfoo[1-200,245-394]\n", "foo[395-442]\nfoo\nfoo[0-200,245-394]\n",
		"foo[395-442]\nbar3,bar24\nfoo[1-200,245-394]\n",
	} {
		b.in(in, append(append([]string{}, pre...), "--fold")...)
	}
}

// upstreamNodesetMain is CLINodesetTest, test_001 to test_017.
func upstreamNodesetMain(b *nsBuilder) {
	b.conf = ""
	b.m("CLINodesetTest.test_001_count")
	for _, pre := range [][]string{{}, {"--autostep=1"}, {"--autostep=2"}, {"--autostep=5"}, {"--autostep=auto"},
		{"--autostep=0%"}, {"--autostep=50%"}, {"--autostep=100%"}} {
		b.batteryCount(pre...)
	}

	b.m("CLINodesetTest.test_002_count_intersection")
	b.t("--count", "foo", "--intersection", "bar")
	b.t("--count", "foo", "--intersection", "foo")
	b.t("--count", "foo", "--intersection", "foo", "-i", "bar")
	b.t("--count", "foo[0]", "--intersection", "foo0")
	b.t("--count", "foo[2]", "--intersection", "foo")
	b.t("--count", "foo[1,2]", "--intersection", "foo[1-2]")
	b.t("--count", "foo[395-442]", "--intersection", "foo[1-200,245-394]")
	b.t("--count", "foo[395-442]", "--intersection", "foo", "-i", "foo[1-200,245-394]")
	b.t("--count", "foo[395-442]", "-i", "foo", "-i", "foo[0-200,245-394]")
	b.t("--count", "foo[395-442]", "--intersection", "bar3,bar24", "-i", "foo[1-200,245-394]")
	b.t("--count", "foo[1,2]", "-i", "foo1\nfoo2")
	b.t("--count", "foo[1,2]", "-i", "foo1\nfoo2", "foo3\nfoo4")

	b.m("CLINodesetTest.test_003_count_intersection_stdin")
	b.in("foo\n", "--count", "--intersection", "bar")
	b.in("foo\n", "--count", "--intersection", "foo")
	b.in("foo\n", "--count", "--intersection", "foo", "-i", "bar")
	b.in("foo[0]\n", "--count", "--intersection", "foo0")
	b.in("foo[2]\n", "--count", "--intersection", "foo")
	b.in("foo[1,2]\n", "--count", "--intersection", "foo[1-2]")
	b.in("foo[395-442]\n", "--count", "--intersection", "foo[1-200,245-394]")
	b.in("foo[395-442]\n", "--count", "--intersection", "foo", "-i", "foo[1-200,245-394]")
	b.in("foo[395-442]\n", "--count", "-i", "foo", "-i", "foo[0-200,245-394]")
	b.in("foo[395-442]\n", "--count", "--intersection", "bar3,bar24", "-i", "foo[1-200,245-394]")

	b.m("CLINodesetTest.test_004_fold")
	b.batteryFold()
	b.batteryFold("--autostep=3")
	b.batteryFold("--autostep=auto")
	b.batteryCount("--autostep=0%")
	b.batteryCount("--autostep=50%")
	b.batteryCount("--autostep=100%")

	b.m("CLINodesetTest.test_005_fold_autostep")
	for _, c := range [][]string{
		{"--autostep=2", "foo0", "foo2", "foo4", "foo6"}, {"--autostep=2", "foo4", "foo2", "foo0", "foo6"},
		{"--autostep=3", "foo0", "foo2", "foo4", "foo6"}, {"--autostep=4", "foo0", "foo2", "foo4", "foo6"},
		{"--autostep=5", "foo0", "foo2", "foo4", "foo6"}, {"--autostep=auto", "foo0", "foo2", "foo4", "foo6"},
		{"--autostep=auto", "foo4", "foo2", "foo0", "foo6"}, {"--autostep=auto", "foo4", "foo2", "foo0", "foo2", "foo6"},
		{"--autostep=auto", "foo4", "foo2", "foo0", "foo5", "foo6"}, {"--autostep=auto", "foo4", "foo2", "foo0", "foo9", "foo6"},
		{"--autostep=75%", "foo0", "foo2", "foo4", "foo6"}, {"--autostep=75%", "foo4", "foo2", "foo0", "foo6"},
		{"--autostep=80%", "foo4", "foo2", "foo0", "foo2", "foo6"}, {"--autostep=80%", "foo4", "foo2", "foo0", "foo5", "foo6"},
		{"--autostep=80%", "foo4", "foo2", "foo0", "foo9", "foo6"}, {"--autostep=81%", "foo4", "foo2", "foo0", "foo9", "foo6"},
		{"--autostep=100%", "foo4", "foo2", "foo0", "foo9", "foo6"},
	} {
		b.t(append([]string{c[0], "-f"}, c[1:]...)...)
	}

	b.m("CLINodesetTest.test_006_expand")
	for _, c := range [][]string{{""}, {"foo"}, {"foo", "bar"}, {"foo", "foo"}, {"foo[0]"}, {"foo[2]"}, {"foo[1,2]"}, {"foo[1-2]"}, {"foo[1-2],bar"}} {
		b.t(append([]string{"--expand"}, c...)...)
	}
	b.m("CLINodesetTest.test_007_expand_stdin")
	for _, in := range []string{"\n", "foo\n", "foo\nbar\n", "foo\nfoo\n", "foo[0]\n", "foo[2]\n", "foo[1,2]\n", "foo[1-2]\n", "foo[1-2],bar\n"} {
		b.in(in, "--expand")
	}

	b.m("CLINodesetTest.test_008_expand_separator")
	b.t("--expand", "-S", ":", "foo")
	b.t("--expand", "-S", ":", "foo", "bar")
	b.t("--expand", "--separator", ":", "foo", "bar")
	b.t("--expand", "--separator=:", "foo", "bar")
	b.t("--expand", "-S", ":", "foo", "foo")
	b.t("--expand", "-S", ":", "foo[0]")
	b.t("--expand", "-S", ":", "foo[2]")
	b.t("--expand", "-S", ":", "foo[1,2]")
	b.t("--expand", "-S", ":", "foo[1-2]")
	b.t("--expand", "-S", " ", "foo[1-2]")
	b.t("--expand", "-S", ",", "foo[1-2],bar")
	b.t("--expand", "-S", "uuu", "foo[1-2],bar")
	b.t("--expand", "-S", `\n`, "foo[1-2]")
	b.t("--expand", "-S", "\n", "foo[1-2]")

	b.m("CLINodesetTest.test_009_fold_xor")
	b.t("--fold", "foo", "-X", "bar")
	b.t("--fold", "foo", "-X", "foo")
	b.t("--fold", "foo[1,2]", "-X", "foo[1-2]")
	b.t("--fold", "foo[1-10]", "-X", "foo[5-15]")
	b.t("--fold", "foo[395-442]", "-X", "foo[1-200,245-394]")
	b.t("--fold", "foo[395-442]", "-X", "foo", "-X", "foo[1-200,245-394]")
	b.t("--fold", "foo[395-442]", "-X", "foo", "-X", "foo[0-200,245-394]")
	b.t("--fold", "foo[395-442]", "-X", "bar3,bar24", "-X", "foo[1-200,245-394]")
	b.t("--fold", "foo[1-10]", "-X", "foo5\nfoo6\nfoo7")
	b.t("--fold", "foo[1-10]", "-X", "foo5\nfoo6\nfoo7", "foo5\nfoo6")

	b.m("CLINodesetTest.test_010_fold_xor_stdin")
	b.in("foo\n", "--fold", "-X", "bar")
	b.in("foo\n", "--fold", "-X", "foo")
	b.in("foo[1,2]\n", "--fold", "-X", "foo[1-2]")
	b.in("foo[1-10]\n", "--fold", "-X", "foo[5-15]")
	b.in("foo[395-442]\n", "--fold", "-X", "foo[1-200,245-394]")
	b.in("foo[395-442]\n", "--fold", "-X", "foo", "-X", "foo[1-200,245-394]")
	b.in("foo[395-442]\n", "--fold", "-X", "foo", "-X", "foo[0-200,245-394]")
	b.in("foo[395-442]\n", "--fold", "-X", "bar3,bar24", "-X", "foo[1-200,245-394]")
	b.in("foo4 foo5 foo6\n", "-f", "foo[2-4]", "-X", "-")
	b.in("foo4 foo5 foo6\n", "-f", "-X", "-", "foo[1-6]")

	b.m("CLINodesetTest.test_011_fold_exclude")
	b.t("--fold", "foo", "-x", "foo")
	b.t("--fold", "foo,bar", "-x", "foo")
	b.t("--fold", "foo[0-5]", "-x", "foo[0-10]")
	b.t("--fold", "foo[0-10]", "-x", "foo[0-5]")
	b.t("--fold", "foo[6-10]", "-x", "bar[0-5]")
	b.t("--fold", "foo[0-10]", "foo[13-18]", "--exclude", "foo[5-10,15]")
	b.t("--fold", "foo[0-5]", "-x", "foo0\nfoo9\nfoo3\nfoo2\nfoo1")
	b.t("--fold", "foo[0-5]", "-x", "foo0\nfoo9\nfoo3\nfoo2\nfoo1", "foo5\nfoo6")

	b.m("CLINodesetTest.test_012_fold_exclude_stdin")
	b.in("", "--fold", "-x", "foo")
	b.in("\n", "--fold", "-x", "foo")
	b.in("foo\n", "--fold", "-x", "foo")
	b.in("foo,bar\n", "--fold", "-x", "foo")
	b.in("foo[0-5]\n", "--fold", "-x", "foo[0-10]")
	b.in("foo[0-10]\n", "--fold", "-x", "foo[0-5]")
	b.in("foo[6-10]\n", "--fold", "-x", "bar[0-5]")
	b.in("foo[0-10]\nfoo[13-18]\n", "--fold", "--exclude", "foo[5-10,15]")
	b.in("foo4 foo5 foo6\n", "-f", "foo[1-6]", "-x", "-")
	b.in("foo4 foo5 foo6\n", "-f", "-x", "-", "foo[1-6]")

	b.m("CLINodesetTest.test_013_fold_intersection")
	b.t("--fold", "foo", "-i", "foo")
	b.t("--fold", "foo,bar", "--intersection", "foo")
	b.t("--fold", "foo[0-5]", "-i", "foo[0-10]")
	b.t("--fold", "foo[0-10]", "-i", "foo[0-5]")
	b.t("--fold", "foo[6-10]", "-i", "bar[0-5]")
	b.t("--fold", "foo[0-10]", "foo[13-18]", "-i", "foo[5-10,15]")
	b.t("--fold", "node123[1-2]", "-i", "node1232")
	b.t("--fold", "node023[1-2]0", "-i", "node02320")
	b.t("--fold", "node023[1-2]0-ipmi2", "-i", "node02320-ipmi2")
	b.t("--fold", "-i", "foo", "foo")

	b.m("CLINodesetTest.test_014_fold_intersection_stdin")
	b.in("", "--fold", "--intersection", "foo")
	b.in("\n", "--fold", "--intersection", "foo")
	b.in("foo\n", "--fold", "-i", "foo")
	b.in("foo,bar\n", "--fold", "-i", "foo")
	b.in("foo[0-5]\n", "--fold", "-i", "foo[0-10]")
	b.in("foo[0-10]\n", "--fold", "-i", "foo[0-5]")
	b.in("foo[6-10]\n", "--fold", "-i", "bar[0-5]")
	b.in("foo[0-10]\nfoo[13-18]\n", "--fold", "-i", "foo[5-10,15]")
	b.in("foo4 foo5 foo6\n", "-f", "foo[1-6]", "-i", "-")
	b.in("foo4 foo5 foo6\n", "-f", "-i", "-", "foo[1-6]")
	b.in("node1232\n", "--fold", "-i", "node123[1-2]")
	b.in("node02320\n", "--fold", "-i", "node023[1-2]0")
	b.in("node02320-ipmi2\n", "--fold", "-i", "node023[1-2]0-ipmi2")

	b.m("CLINodesetTest.test_015_rangeset")
	b.t("--fold", "--rangeset", "1,2")
	b.t("--expand", "-R", "1-2")
	b.t("--fold", "-R", "1-2", "-X", "2-3")
	b.m("CLINodesetTest.test_016_rangeset_stdin")
	b.in("1,2\n", "--fold", "--rangeset")
	b.in("1-2\n", "--expand", "-R")
	b.in("1-2\n", "--fold", "-R", "-X", "2-3")

	b.m("CLINodesetTest.test_017_stdin")
	b.in("foo\n", "-f", "-")
	b.in("foo1 foo2 foo3\n", "-f", "-")
	b.in("foo0 foo2 foo4 foo6\n", "--autostep=2", "-f")
	b.in("foo0 foo2 foo4 foo6\n", "--autostep=auto", "-f")
	b.in("foo0 foo2 foo4 foo6\n", "--autostep=100%", "-f")
	b.in("foo0 foo2 foo4 foo6\n", "--autostep=0%", "-f")
}

// upstreamNodesetMain2 is CLINodesetTest, test_018 to test_025.
func upstreamNodesetMain2(b *nsBuilder) {
	b.conf = ""
	b.m("CLINodesetTest.test_018_split")
	b.t("--split=2", "-f", "bar")
	b.t("--split", "2", "-f", "foo,bar")
	b.t("--split", "2", "-e", "foo", "bar", "bur", "oof", "gcc")
	b.t("--split=2", "-f", "foo[2-9]")
	b.t("--split=2", "-f", "foo[2-3,7]", "bar9")
	b.t("--split=3", "-f", "foo[2-9]")
	b.t("--split=1", "-f", "foo2", "foo3")
	b.t("--split=4", "-f", "foo[2-3]")
	b.t("--split=4", "-f", "foo3", "foo2")
	b.t("--split=2", "-e", "foo[2-9]")
	b.t("--split=3", "-e", "foo[2-9]")
	b.t("--split=1", "-e", "foo3", "foo2")
	b.t("--split=4", "-e", "foo[2-3]")
	b.t("--split=4", "-e", "foo2", "foo3")
	b.t("--split=2", "-c", "foo2", "foo3")

	b.m("CLINodesetTest.test_019_contiguous")
	b.t("--contiguous", "-f", "bar")
	b.t("--contiguous", "-f", "foo,bar")
	b.t("--contiguous", "-f", "foo", "bar", "bur", "oof", "gcc")
	b.t("--contiguous", "-e", "foo", "bar", "bur", "oof", "gcc")
	b.t("--contiguous", "-f", "foo2")
	b.t("--contiguous", "-R", "-f", "2")
	b.t("--contiguous", "-f", "foo[2-9]")
	b.t("--contiguous", "-f", "foo[2-3,7]", "bar9")
	b.t("--contiguous", "-R", "-f", "2-3,7", "9")
	b.t("--contiguous", "-f", "foo2", "foo3")
	b.t("--contiguous", "-f", "foo3", "foo2")
	b.t("--contiguous", "-f", "foo3", "foo1")
	b.t("--contiguous", "-f", "foo[1-5/2]", "foo7")

	// test_020 and test_021 give the same slices, on the command line and
	// on stdin.
	sliceCases := [][]string{
		{"--slice=0", "-f"}, {"--slice=0", "-e"}, {"--slice=1", "-f"}, {"--slice=0-1", "-f"},
	}
	slice2 := [][]string{
		{"-I0", "-f"}, {"-I 0", "-f"}, {"-I 0", "-e"}, {"-I 0-3", "-f"}, {"-I 0-3", "-f", "-x", "bar34"},
		{"-I 0-3", "-f", "-x", "bar35"}, {"-I 0-3", "-e"}, {"-I 3,1,0,2", "-f"},
		{"-I 1,3,7,10,16,20,30,34-35,37", "-f"}, {"-I 8", "-f"}, {"-I 8-100", "-f"}, {"-I 0-100", "-f"},
		{"-I 8-100/2", "-f"}, {"--autostep=2", "-I 8-100/2", "-f"}, {"--autostep=93%", "-I 8-100/2", "-f"},
		{"--autostep=94%", "-I 8-100/2", "-f"}, {"--autostep=auto", "-I 8-100/2", "-f"},
	}
	b.m("CLINodesetTest.test_020_slice")
	for _, c := range sliceCases {
		b.t(append(c, "bar")...)
	}
	b.t("-I0", "-f", "bar[34-68,89-90]")
	b.t("-R", "-I0", "-f", "34-68,89-90")
	for _, c := range slice2[1:] {
		if c[len(c)-2] == "-x" {
			// upstream puts the node set before -x
			b.t(c[0], c[1], "bar[34-68,89-90]", c[2], c[3])
			continue
		}
		b.t(append(c, "bar[34-68,89-90]")...)
	}
	b.t("--autostep=auto", "-I 8-100/2", "-f", "bar[34-68]")
	b.t("--autostep=100%", "-I 8-100/2", "-f", "bar[34-68]")

	b.m("CLINodesetTest.test_021_slice_stdin")
	for _, c := range sliceCases {
		b.in("bar\n", c...)
	}
	b.in("bar[34-68,89-90]\n", "-I0", "-f")
	b.in("34-68,89-90\n", "-R", "-I0", "-f")
	for _, c := range slice2[1:] {
		b.in("bar[34-68,89-90]\n", c...)
	}
	b.in("bar[34-68,89-90]\n", "--autostep=93.33%", "-I 8-100/2", "-f")
	b.in("bar[34-68]\n", "--autostep=2", "-I 8-100/2", "-f")

	b.m("CLINodesetTest.test_022_output_format")
	b.t("--expand", "--output-format", "/path/%s/", "foo")
	b.t("--expand", "-O", "/path/%s/", "-S", ":", "foo")
	b.t("--expand", "-O", "/path/%s/", "foo[2]")
	b.t("--expand", "-O", "%s-ib0", "foo[1-4]")
	b.t("--expand", "-O", "%s-ib0", "-S", ":", "foo[1-4]")
	b.t("--fold", "-O", "%s-ipmi", "foo", "bar")
	b.t("--fold", "-O", "%s-ib0", "foo1", "foo2")
	b.t("--fold", "-O", "%s-ib0", "foo1", "foo2", "bar1", "bar2")
	b.t("--fold", "-O", "%s-ib0", "--autostep=auto", "foo[1-9/2]")
	b.t("--fold", "-O", "%s-ib0", "--autostep=6", "foo[1-9/2]")
	b.t("--fold", "-O", "%s-ib0", "--autostep=5", "foo[1-9/2]")
	b.t("--count", "-O", "result-%s", "foo1", "foo2")
	b.t("--contiguous", "-O", "%s-ipmi", "-f", "foo[2-3,7]", "bar9")
	b.t("--split=2", "-O", "%s-ib", "-e", "foo[2-9]")
	b.t("--split=3", "-O", "hwm-%s", "-f", "foo[2-9]")
	b.t("-I0", "-O", "{%s}", "-f", "bar[34-68,89-90]")
	b.t("--fold", "-O", "{%s}", "--rangeset", "1,2")
	b.t("--expand", "-O", "{%s}", "-R", "1-2")
	b.t("--fold", "-O", "{%s}", "-R", "1-2", "-X", "2-3")
	b.t("--fold", "-O", "{%s}", "-S", ":", "--rangeset", "1,2")
	b.t("--expand", "-O", "{%s}", "-S", ":", "-R", "1-2")
	b.t("--fold", "-O", "{%s}", "-S", ":", "-R", "1-2", "-X", "2-3")
	b.t("-R", "-I0", "-O", "{%s}", "-f", "34-68,89-90")

	// node%d-ib%d for 500 indexes and 2 interfaces, shuffled (upstream
	// shuffles with random.shuffle; any fixed order will do).
	var ib []string
	for i := range 2 {
		for idx := range 500 {
			ib = append(ib, fmt.Sprintf("node%d-ib%d", idx, i))
		}
	}
	r := rand.New(rand.NewPCG(23, 24))
	r.Shuffle(len(ib), func(i, j int) { ib[i], ib[j] = ib[j], ib[i] })
	nd4 := []string{"c-1-2-3-4", "c-2-2-3-4", "c-3-2-3-4", "c-5-5-5-5", "c-5-7-5-5", "c-5-9-5-5", "c-5-11-5-5", "c-9-8-8-08", "c-9-8-8-09"}

	b.m("CLINodesetTest.test_023_axis")
	b.t("--axis=0", "-f", "bar")
	b.t("--axis=1", "-f", "bar")
	b.t("--axis=1", "-R", "-f", "1,2,3")
	b.t("--axis=1", "-e", "bar")
	b.t("--axis=1", "-f", "comp-[1-2]-[1-3],login-[1-2]")
	b.t("--axis=2", "-f", "comp-[1-2]-[1-3],login-[1-2]")
	b.t("--axis=-1", "-f", "comp-[1-2]-[1-3],login-[1-2]")
	b.t(append([]string{"--axis=1", "-f"}, ib...)...)
	b.t(append([]string{"--axis=2", "-f"}, ib...)...)
	for _, axis := range []string{"1", "2", "3", "4", "1-2", "2-3", "3-4", "1-3", "2-4", "1-4"} {
		b.t(append([]string{"--axis=" + axis, "-f"}, nd4...)...)
	}
	b.t(append([]string{"-f"}, nd4...)...)
	b.t(append([]string{"--autostep=4", "--axis=1-2", "-f"}, nd4...)...)

	b.m("CLINodesetTest.test_024_axis_stdin")
	b.in("bar\n", "--axis=0", "-f")
	b.in("bar\n", "--axis=1", "-f")
	b.in("1,2,3", "--axis=1", "-R", "-f")
	b.in("bar\n", "--axis=1", "-e")
	b.in("comp-[1-2]-[1-3],login-[1-2]\n", "--axis=1", "-f")
	b.in("comp-[1-2]-[1-3],login-[1-2]\n", "--axis=2", "-f")
	b.in("comp-[1-2]-[1-3],login-[1-2]\n", "--axis=-1", "-f")
	ibIn := ""
	for _, n := range ib {
		ibIn += n + "\n"
	}
	b.in(ibIn, "--axis=1", "-f")
	b.in(ibIn, "--axis=2", "-f")

	b.m("CLINodesetTest.test_025_pick")
	for n := 1; n < 100; n++ {
		b.t("--count", "--pick", strconv.Itoa(n), "foo[1-100]")
		b.t("--count", "--pick", strconv.Itoa(n), "-R", "1-100")
	}
}

// upstreamNodesetGroups are the test classes with a group configuration.
// Their upstream expectations are checked against the reference too.
func upstreamNodesetGroups(b *nsBuilder) {
	b.pre = []string{"--groupsconf", "$CFGDIR/groups.conf"}
	b.conf = "resolver1"
	b.m("CLINodesetGroupResolverTest1.test_022_list")
	b.want("@bar\n@foo\n@moo\n", "--list")
	b.want("@bar example[1-100]\n@foo example[1-100]\n@moo example[1-100]\n", "-ll")
	b.want("@bar example[1-100] 100\n@foo example[1-100] 100\n@moo example[1-100] 100\n", "-lll")
	b.want("@bar\n@foo\n@moo\n", "-l", "example[4,95]", "example5")
	b.want("@bar example[4-5,95]\n@foo example[4-5,95]\n@moo example[4-5,95]\n", "-ll", "example[4,95]", "example5")
	b.want("@bar example[4-5,95] 3/100\n@foo example[4-5,95] 3/100\n@moo example[4-5,95] 3/100\n", "-lll", "example[4,95]", "example5")
	b.want("", "-l", "foo[3-70]", "bar6")
	b.want("@bar\n@foo\n@moo\n", "-a", "-l")
	b.want("", "-a", "-l", "-x example[1-100]")
	b.want("@bar\n@foo\n@moo\n", "-a", "-l", "-x example[1-40]")
	b.want("", "-l", "-x example3")
	b.want("", "-l", "-i example3")
	b.want("@bar\n@foo\n@moo\n", "-l", "-X example3")
	b.inWant("example[3,500]\n", "@bar\n@foo\n@moo\n", "-l", "-", "-i example3")
	b.m("CLINodesetGroupResolverTest1.test_023_list_all")
	b.want("@bar\n@foo\n@moo\n", "--list-all")
	b.want("@bar\n@foo\n@moo\n", "-L")
	b.want("@bar example[1-100]\n@foo example[1-100]\n@moo example[1-100]\n", "-LL")
	b.want("@bar example[1-100] 100\n@foo example[1-100] 100\n@moo example[1-100] 100\n", "-LLL")

	b.conf = "resolver2"
	var all100 string
	for i := 1; i <= 100; i++ {
		if i > 1 {
			all100 += " "
		}
		all100 += "example" + strconv.Itoa(i)
	}
	b.m("CLINodesetGroupResolverTest2.test_024_groups")
	b.want("unknown2\nunknown3\n", "--split=2", "-r", "unknown2", "unknown3")
	b.want("example[1-100]\n", "-f", "-a")
	b.want("example[1-100]\n", "-f", "@moo")
	b.want("example[1-100]\n", "-f", "@moo", "@bar")
	b.want(all100+"\n", "-e", "-a")
	b.want("100\n", "-c", "-a")
	b.want("@bar\n", "-r", "-a")
	b.m("CLINodesetGroupResolverTest2.test_025..038_groups")
	b.want("100\n", "-s", "test", "-c", "-a", "-d")
	b.want("@test:bar\n", "-s", "test", "-r", "-a")
	b.want("@bar\n", "-s", "test", "-G", "-r", "-a")
	b.want("test (default)\nother\n", "-s", "test", "--groupsources")
	b.want("test\nother\n", "-s", "test", "-q", "--groupsources")
	b.inWant("example101\n", "example[1-101]\n", "-f", "-a", "-")
	b.inWant("example102 example101\n", "example[1-102]\n", "-f", "-a", "-")
	b.want("460\n", "-s", "other", "-c", "-a", "-d")
	b.want("@other:baz\n", "-s", "other", "-r", "-a")
	b.want("@baz\n", "-s", "other", "-G", "-r", "-a")
	b.want("test (default)\nother\n", "--groupsources")
	b.want("other (default)\ntest\n", "-s", "other", "--groupsources")
	b.want("{@bar}\n", "-r", "-O", "{%s}", "-a")
	b.want("{@other:baz}\n", "-O", "{%s}", "-s", "other", "-r", "-a")
	b.m("CLINodesetGroupResolverTest2.test_039_list_all")
	b.want("@bar\n@foo\n@moo\n@other:baz\n@other:norf\n@other:qux\n", "--list-all")
	b.want("@bar\n@foo\n@moo\n@baz\n@norf\n@qux\n", "--list-all", "-G")
	b.want("@bar\n@foo\n@moo\n@baz\n@norf\n@qux\n", "-GL")
	b.want("@other:baz\n@other:norf\n@other:qux\n@test:bar\n@test:foo\n@test:moo\n", "--list-all", "-s", "other")
	b.want("@baz\n@norf\n@qux\n@bar\n@foo\n@moo\n", "--list-all", "-G", "-s", "other")
	b.m("CLINodesetGroupResolverTest2.test_040_wildcards")
	b.want("example[1-100]\n", "-f", "*")
	b.want("\n", "-f", "x*")
	b.want("nova[030-489]\n", "-s", "other", "-f", "*")
	b.want("nova[030-489]\n", "-G", "-s", "other", "-f", "*")
	b.want("nova[030-099]\n", "-s", "other", "-f", "nova0??")
	b.want("nova[030-042,112-142,212-242,312-342,412-442]\n", "-s", "other", "-f", "nova?[12-42]")
	b.want("nova[030-032,034-489]\n", "-s", "other", "-f", "*!*[033]")
	b.want("nova[030-032,034-100/2,101-489]\n", "-s", "other", "--autostep=3", "-f", "*!*[033-099/2]")

	b.conf = "resolver3"
	b.m("CLINodesetGroupResolverTest3.test_list_all")
	b.want("@bar\n@foo\n@moo\n@other:baz\n@other:norf\n@other:qux\n", "--list-all")
	b.want("@bar example[1-100]\n@foo example[1-100]\n@moo example[1-100]\n"+
		"@other:baz nova[030-489]\n@other:norf nova[030-489]\n@other:qux nova[030-489]\n", "-LL")
	b.want("@bar example[1-100] 100\n@foo example[1-100] 100\n@moo example[1-100] 100\n"+
		"@other:baz nova[030-489] 460\n@other:norf nova[030-489] 460\n@other:qux nova[030-489] 460\n", "-LLL")
	b.m("CLINodesetGroupResolverTest3.test_list_failure")
	b.want("", "--list", "-s", "pdu")

	b.conf = "badyaml"
	b.m("CLINodesetGroupResolverConfigErrorTest.test_bad_yaml_config")
	b.want("", "--list-all")
	b.conf = "empty"
	b.m("CLINodesetEmptyGroupsConf.test_empty_groups_conf")
	b.want("", "--list-all")
	b.conf = "malformed"
	b.m("CLINodesetMalformedGroupsConf.test_malformed_groups_conf")
	b.want("", "--list-all")

	b.conf, b.pre = "groupsconf", nil
	b.m("CLINodesetGroupsConfOption.test_groupsconf_option")
	b.want("@bar\n@foo\n@moo\n", "--list-all")
	b.want("example[1-100]\n", "-f", "@foo")
	b.want("@artemis\n@selene\n", "--groupsconf", "$CFGDIR/custom.conf", "--list-all")
	b.want("custom[7-42]\n", "--groupsconf", "$CFGDIR/custom.conf", "-f", "@artemis")
}
