package cliconf

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// configFile writes text to the file c.yaml of a new temporary directory
// and returns its path.
func configFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestApply(t *testing.T) {
	path := configFile(t, `
listen: 127.0.0.1:4333
fanout: 16
lost_after: 2s
local-agent: false
group: [gw1, gw2]
info:
  ssh_config: /etc/x
`)
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	listen := fs.String("listen", "", "")
	fanout := fs.Int("fanout", 64, "")
	lost := fs.Duration("lost-after", 0, "")
	local := fs.Bool("local-agent", true, "")
	var groups, info Strings
	fs.Var(&groups, "group", "")
	fs.Var(&info, "info", "")
	if err := fs.Parse([]string{"--fanout", "8"}); err != nil {
		t.Fatal(err)
	}
	if err := Apply(fs, path); err != nil {
		t.Fatal(err)
	}
	if *listen != "127.0.0.1:4333" || *fanout != 8 || *lost != 2*time.Second || *local {
		t.Errorf("listen %q fanout %d (the command line wins) lost %v local %v", *listen, *fanout, *lost, *local)
	}
	if strings.Join(groups, ",") != "gw1,gw2" || strings.Join(info, ",") != "ssh_config=/etc/x" {
		t.Errorf("groups %v info %v", groups, info)
	}
}

func TestApplyErrors(t *testing.T) {
	for content, want := range map[string]string{
		"lisen: x\n":       `c.yaml:1: unknown setting "lisen"`,
		"fanout: many\n":   "c.yaml:1: fanout: parse error",
		"- a\n":            "want a mapping",
		"fanout: [1, [2]]": "list items must be plain values",
	} {
		path := configFile(t, content)
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.Int("fanout", 0, "")
		err := Apply(fs, path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", content, err, want)
		}
	}
	if err := Apply(flag.NewFlagSet("t", flag.ContinueOnError), filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file accepted")
	}
}
