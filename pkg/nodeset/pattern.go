package nodeset

import "strings"

// A pattern is a node name with its indexes taken out. Patterns are kept in
// ClusterShell's own notation, a Python format string ("node%s-ib%s", with
// "%%" for a literal "%"), because ClusterShell sorts its output by that
// string and fleetsh must print nodes in the same order.
type pattern struct {
	lit []string // literal pieces around the indexes: len(lit) == dims+1
}

// compilePattern splits a pattern key into its literal pieces.
func compilePattern(key string) *pattern {
	if !strings.Contains(key, "%") {
		return &pattern{lit: []string{key}}
	}
	var lits []string
	var cur strings.Builder
	for i := 0; i < len(key); i++ {
		if key[i] == '%' && i+1 < len(key) {
			switch key[i+1] {
			case '%':
				cur.WriteByte('%')
				i++
				continue
			case 's':
				lits = append(lits, cur.String())
				cur.Reset()
				i++
				continue
			}
		}
		cur.WriteByte(key[i])
	}
	return &pattern{lit: append(lits, cur.String())}
}

// appendNode appends the node name made of the pattern and its indexes.
func (p *pattern) appendNode(b []byte, idx []member) []byte {
	b = append(b, p.lit[0]...)
	for i, m := range idx {
		b = m.appendTo(b)
		b = append(b, p.lit[i+1]...)
	}
	return b
}

// format fills the pattern with already formatted index strings.
func (p *pattern) format(args []string) string {
	var b strings.Builder
	b.WriteString(p.lit[0])
	for i, a := range args {
		b.WriteString(a)
		b.WriteString(p.lit[i+1])
	}
	return b.String()
}

// escapePercent is ClusterShell's escaping of "%" in input text, so that
// the text can sit in a pattern key.
func escapePercent(s string) string { return strings.ReplaceAll(s, "%", "%%") }
