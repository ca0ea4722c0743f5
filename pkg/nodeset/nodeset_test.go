package nodeset

import (
	"strings"
	"testing"
)

// Expected values come from ClusterShell 1.9.1 (Debian's clustershell
// package), library level, without groups:
//
//	/usr/bin/python3 -c 'import sys; from ClusterShell.NodeSet import NodeSet, RESOLVER_NOGROUP
//	ns = NodeSet(sys.argv[1], resolver=RESOLVER_NOGROUP); print(ns, len(ns), " ".join(ns))' EXPR
//
// Error messages are ClusterShell's exception text (nodeset prints them
// after "nodeset: Parse error: ").
var parseCases = []struct {
	expr   string
	fold   string
	count  int
	expand string // "" when too long to list
	err    string
}{
	{`node[01-10],node1`, `node[1,01-10]`, 11, `node1 node01 node02 node03 node04 node05 node06 node07 node08 node09 node10`, ""},
	{`node[1-10],node[01-10]`, `node[1-9,01-10]`, 19, `node1 node2 node3 node4 node5 node6 node7 node8 node9 node01 node02 node03 node04 node05 node06 node07 node08 node09 node10`, ""},
	{`node[8-12],node[08-12]`, `node[8-9,08-12]`, 7, `node8 node9 node08 node09 node10 node11 node12`, ""},
	{`node[9-11,009-011]`, `node[9-11,009-011]`, 6, `node9 node10 node11 node009 node010 node011`, ""},
	{`node[098-101]`, `node[098-101]`, 4, `node098 node099 node100 node101`, ""},
	{`node01,node1`, `node[1,01]`, 2, `node1 node01`, ""},
	{`node-01,node-1`, `node-[1,01]`, 2, `node-1 node-01`, ""},
	{`node1,node1,node2,node2`, `node[1-2]`, 2, `node1 node2`, ""},
	{`node[1-10/2]`, `node[1,3,5,7,9]`, 5, `node1 node3 node5 node7 node9`, ""},
	{`da[1-2]c[1-3]`, `da[1-2]c[1-3]`, 6, `da1c1 da1c2 da1c3 da2c1 da2c2 da2c3`, ""},
	{`da1c1,da1c2,da1c3,da2c1,da2c2`, `da1c[1-3],da2c[1-2]`, 5, `da1c1 da1c2 da1c3 da2c1 da2c2`, ""},
	{`da[1-2]c[1-3]-ib[0-1]`, `da[1-2]c[1-3]-ib[0-1]`, 12, `da1c1-ib0 da1c1-ib1 da1c2-ib0 da1c2-ib1 da1c3-ib0 da1c3-ib1 da2c1-ib0 da2c1-ib1 da2c2-ib0 da2c2-ib1 da2c3-ib0 da2c3-ib1`, ""},
	{`x[1-3]y[1-2]!x2y2`, `x[2-3]y1,x1y[1-2],x3y2`, 5, `x2y1 x3y1 x1y1 x1y2 x3y2`, ""},
	{`node1-1,node1-2,node3-1,node3-2,node5-1`, `node[1,3]-[1-2],node5-1`, 5, `node1-1 node1-2 node3-1 node3-2 node5-1`, ""},
	{`node[0-4/2]-[1-2]`, `node[0,2,4]-[1-2]`, 6, `node0-1 node0-2 node2-1 node2-2 node4-1 node4-2`, ""},
	{`node[1-10]!node[3-5]`, `node[1-2,6-10]`, 7, `node1 node2 node6 node7 node8 node9 node10`, ""},
	{`node[1-10]&node[5-15]`, `node[5-10]`, 6, `node5 node6 node7 node8 node9 node10`, ""},
	{`node[1-10]^node[5-15]`, `node[1-4,11-15]`, 9, `node1 node2 node3 node4 node11 node12 node13 node14 node15`, ""},
	{`node[1-10]!node5,node20`, `node[1-4,6-10,20]`, 10, `node1 node2 node3 node4 node6 node7 node8 node9 node10 node20`, ""},
	{`node20,node[1-10]!node[5-25]`, `node[1-4]`, 4, `node1 node2 node3 node4`, ""},
	{`node[1-10],node20&node[5-25]`, `node[5-10,20]`, 7, `node5 node6 node7 node8 node9 node10 node20`, ""},
	{`prod-00[01-99]`, `prod-[0001-0099]`, 99, ``, ""},
	{`[1-3]node`, `[1-3]node`, 3, `1node 2node 3node`, ""},
	{`1,2,3`, `[1-3]`, 3, `1 2 3`, ""},
	{`node-1.ib0,node-2.ib0,node-3.ib0`, `node-[1-3].ib0`, 3, `node-1.ib0 node-2.ib0 node-3.ib0`, ""},
	{`n1,n1a,n1b,n2a`, `n1,n[1-2]a,n1b`, 4, `n1 n1a n2a n1b`, ""},
	{`node1 node2`, `node1 node2`, 1, `node1 node2`, ""},
	{"node[1-3]-[a,b]", "", 0, "", `bad range: "cannot convert string to integer : "a""`},
	{"node[5-1]", "", 0, "", `bad range: "invalid values in range : "5-1""`},
	{"node[1-010]", "", 0, "", `bad range: "padding length mismatch : "1-010""`},
	{"node[1-3", "", 0, "", `missing bracket: "node[1-3"`},
	{"node[]", "", 0, "", `bad range: "empty range"`},
	{"node[1-3]]", "", 0, "", `illegal closing bracket: "]"`},
	{"node[1-3],,node5", "", 0, "", `missing nodeset operand with ',' operator: "node5"`},
	{"node[1-10/0]", "", 0, "", `bad range: "invalid values in range : "1-10/0""`},
	{`node[1-3]0`, `node[10,20,30]`, 3, `node10 node20 node30`, ""},
	{`node1[0-2]`, `node[10-12]`, 3, `node10 node11 node12`, ""},
	{`node[-5--2]`, `node[-5--2]`, 4, `node-5 node-4 node-3 node-2`, ""},
	{`a[1-2]b[3-4],a3b[3-4],a[1-3]b5`, `a[1-3]b[3-5]`, 9, `a1b3 a1b4 a1b5 a2b3 a2b4 a2b5 a3b3 a3b4 a3b5`, ""},
	{`x10y1,x9y1,x9y2,x10y3`, `x10y[1,3],x9y[1-2]`, 4, `x10y1 x10y3 x9y1 x9y2`, ""},
	{`r[1-3]n[01-04]-ib[0-1]!r2n03-ib1`, `r[1,3]n[01-04]-ib[0-1],r2n[01-02]-ib[0-1],r2n[03-04]-ib0,r2n04-ib1`, 23, ``, ""},
	{`n[1-3]p[1-2]s[0-1]^n2p1s[0-1]`, `n[1,3]p[1-2]s[0-1],n2p2s[0-1]`, 10, `n1p1s0 n1p1s1 n1p2s0 n1p2s1 n3p1s0 n3p1s1 n3p2s0 n3p2s1 n2p2s0 n2p2s1`, ""},
	{`@foo,node1`, `@foo,node1`, 2, `@foo node1`, ""},
	{`a%b[1-2]`, `a%b[1-2]`, 2, `a%b1 a%b2`, ""},
	{` node1 , node2 `, `node[1-2]`, 2, `node1 node2`, ""},
	{"node[1-2][3-4]", "", 0, "", `illegal reopening bracket: "[3-4]"`},
	{"node[1-2]x[3", "", 0, "", `missing bracket: "node[1-2]x[3"`},
	{",node1", "", 0, "", `missing nodeset operand with ',' operator: "node1"`},
	{"node1,", "", 0, "", `missing nodeset operand with ',' operator: "node1"`},
	{"node[1-3]!", "", 0, "", `missing nodeset operand with '!' operator`},
	{`node[1-3]^node[2-5]&node[1-10]`, `node[1,4-5]`, 3, `node1 node4 node5`, ""},
	{`node[0-9]0`, `node[00,10,20,30,40,50,60,70,80,90]`, 10, `node00 node10 node20 node30 node40 node50 node60 node70 node80 node90`, ""},
	{"node[1-2/2]0", "", 0, "", `illegal trailing digits after range with steps: "0"`},
	{`node[0001-0003]`, `node[0001-0003]`, 3, `node0001 node0002 node0003`, ""},
	{`node[1-3,5,7-9,011-013]`, `node[1-3,5,7-9,011-013]`, 10, `node1 node2 node3 node5 node7 node8 node9 node011 node012 node013`, ""},
}

func TestParseFoldExpand(t *testing.T) {
	for _, c := range parseCases {
		ns, err := Parse(c.expr)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("Parse(%q) error = %v, want %q", c.expr, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", c.expr, err)
			continue
		}
		if got := ns.String(); got != c.fold {
			t.Errorf("fold(%q) = %q, want %q", c.expr, got, c.fold)
		}
		if got := ns.Len(); got != c.count {
			t.Errorf("count(%q) = %d, want %d", c.expr, got, c.count)
		}
		if c.expand != "" {
			if got := strings.Join(ns.Nodes(), " "); got != c.expand {
				t.Errorf("expand(%q) = %q, want %q", c.expr, got, c.expand)
			}
		}
	}
}
