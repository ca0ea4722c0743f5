package optparse_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/optparse"
)

// FuzzParse feeds arbitrary command lines to the nodeset and demo parsers:
// parsing must never panic, and must either succeed or end with an
// *ExitError after writing the usage error (status 2) or the help (0).
func FuzzParse(f *testing.F) {
	for _, tt := range nodesetParseTests {
		f.Add(strings.Join(tt.args, "\x00"), false)
	}
	f.Add("--consume\x00a\x00b\x00-p\x001\x002", true)
	f.Add("--reject=bad\x00-t\x00x\x00--le=1e9", true)
	f.Fuzz(func(t *testing.T, cmdline string, demo bool) {
		args := strings.Split(cmdline, "\x00")
		var stdout, stderr bytes.Buffer
		cfg := optparse.Config{Stdout: &stdout, Stderr: &stderr, Formatter: optparse.NewHelpFormatter(78)}
		var p *optparse.Parser
		if demo {
			cfg.Prog = "demo"
			p = newDemoParser(cfg)
		} else {
			cfg.Prog = "nodeset"
			p = newNodesetParser(cfg)
		}
		v, rest, err := p.Parse(args)
		if err == nil {
			if v == nil || len(rest) > len(args) {
				t.Fatalf("%q: bad result %v %q", args, v, rest)
			}
			return
		}
		var ee *optparse.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("%q: error %T %v", args, err, err)
		}
		switch ee.Status {
		case 2:
			if !strings.Contains(stderr.String(), ": error: ") {
				t.Fatalf("%q: stderr %q", args, stderr.String())
			}
		case 0:
			if stdout.Len() == 0 {
				t.Fatalf("%q: nothing printed", args)
			}
		default:
			t.Fatalf("%q: status %d", args, ee.Status)
		}
	})
}
