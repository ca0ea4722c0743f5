package cliconf

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// daemonFlags is a command line with the flags of both daemons
// (cmd/coordinator, cmd/agent): every kind of value their config files
// set.
func daemonFlags() *Command {
	c := NewCommand("fuzz", io.Discard, "")
	fs := c.FlagSet
	for _, name := range []string{"listen", "nats", "topology", "root", "prefix", "worker", "id", "name", "signing-key"} {
		fs.String(name, "", "")
	}
	fs.Bool("local-agent", true, "")
	fs.Bool("local", false, "")
	fs.Bool("insecure", false, "")
	fs.Int("fanout", 64, "")
	fs.Int("max-nodes", 1, "")
	fs.Duration("heartbeat", time.Second, "")
	fs.Duration("lost-after", 0, "")
	fs.Duration("drain-timeout", time.Minute, "")
	fs.Duration("shard-ttl", time.Minute, "")
	var groups, keys Strings
	fs.Var(&groups, "group", "")
	fs.Var(&keys, "coordinator-key", "")
	return c
}

// FuzzApplyYAML feeds the daemons' config parser any file: it must not
// panic, and a refusal names the file.
//
//	go test -run '^$' -fuzz FuzzApplyYAML -fuzztime 45s ./internal/cliconf
func FuzzApplyYAML(f *testing.F) {
	seeds, _ := filepath.Glob("../../deploy/*.yaml")
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"listen: 127.0.0.1:4333\nfanout: 16\nlost-after: 2s\nlocal-agent: false\ngroup: [gw1, gw2]\ninfo:\n  ssh_config: /etc/x\n",
		"lisen: x\n", "fanout: many\n", "- a\n", "fanout: [1, [2]]", "info: {a: {b: c}}\n", "a: &x [*x]\n", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := daemonFlags()
		if err := c.FlagSet.Parse(nil); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- ApplyYAML(c.FlagSet, "f.yaml", data) }()
		select {
		case err := <-done:
			if err != nil && !strings.Contains(err.Error(), "f.yaml") {
				t.Errorf("error without the file's name: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no answer in 10 s to %q", data)
		}
	})
}
