package csub

import (
	"fmt"

	"github.com/fleetsh/fleetsh/internal/bytesize"
	"github.com/fleetsh/fleetsh/internal/optparse"
	"github.com/fleetsh/fleetsh/internal/pyfmt"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// --max-output caps what each node may send, standard output and error
// together (protocol.JobSpec.MaxOutput; default protocol.DefaultMaxOutput,
// 1 MiB). The agents cut there, so csub never holds more than the cap per
// node, -b included; it prints one line on standard error for each node
// cut, after that node's lines:
//
//	csub: node7: output cut at 1 MiB (--max-output)
//
// or "(the agent's --max-output)" when the agent's own ceiling was lower
// than the job asked. --json gives the cap in the node's result
// ("output_cut_at"), --summary counts the nodes cut.

// maxOutputHelp is the option's help.
var maxOutputHelp = "most output each node may send, stdout and stderr together (SIZE: 512K, 64M, 1G; default " +
	bytesize.Format(protocol.DefaultMaxOutput) + "); past it the rest is dropped, the command runs on, and a line on stderr says so"

// addMaxOutputOption declares --max-output in group g.
func addMaxOutputOption(g *optparse.Group) {
	g.AddOption(optparse.Option{Flags: []string{"--max-output"}, Action: optparse.ActionStore, Dest: "max_output",
		Metavar: "SIZE", Help: maxOutputHelp})
}

// maxOutputSetting reads --max-output, else clush.conf's max_output (in
// [Main] or the mode), else leaves the cap to the job's default (0).
func maxOutputSetting(v *optparse.Values, s *settings, p *optparse.Parser) (int64, error) {
	what, text := "option --max-output", v.String("max_output")
	if v.IsNone("max_output") {
		var err error
		if text, err = s.cfg.optional("max_output"); err != nil || text == "" {
			return 0, err
		}
		what = "clush.conf max_output"
	}
	n, err := bytesize.Parse(text)
	switch {
	case err != nil:
		return 0, p.Error(fmt.Sprintf("%s: invalid size: %s (a number of bytes, with K, M, G or T for 1024, 1024², ...)", what, pyfmt.ReprString(text)))
	case n < 1 || n > protocol.MaxOutputLimit:
		return 0, p.Error(fmt.Sprintf("%s: invalid size: %s (from 1 byte to %s)", what, pyfmt.ReprString(text), bytesize.Format(protocol.MaxOutputLimit)))
	}
	return n, nil
}

// cut handles a KindCut event: once per node, the line that says so,
// after the node's lines (the stream brings the cut after them).
func (r *renderer) cut(node uint32, rec *protocol.Event) {
	if r.res.ended(node) {
		return
	}
	if _, seen := r.res.cuts[node]; seen {
		return
	}
	limit, byAgent := rec.Cut()
	if r.res.cuts == nil {
		r.res.cuts = make(map[uint32]int64)
	}
	r.res.cuts[node] = limit
	flag := "--max-output"
	if byAgent {
		flag = "the agent's --max-output"
	}
	r.progressClean()
	r.d.vprintErr(verbQuiet, "%s: %s: output cut at %s (%s)", progName, r.res.nodes[node], bytesize.Format(limit), flag)
}
