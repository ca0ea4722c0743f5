package csub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// vanishingCoordinator takes one submit, sends the first batch of the
// job's output (n1 ends, the others start) and is gone: nobody answers
// the status checks after.
func vanishingCoordinator(t *testing.T, srv *natstest.Server) {
	t.Helper()
	oneSubmit(t, srv, "", "", false, func(protocol.JobSpec) []protocol.Event {
		return []protocol.Event{
			{Kind: protocol.KindStart, Nodes: []uint32{0, 1, 2}, At: time.Now()},
			{Kind: protocol.KindStdout, Nodes: []uint32{0}, Data: []byte("hello")},
			{Kind: protocol.KindEnd, Nodes: []uint32{0}, State: protocol.StateExited, At: time.Now()}}
	})
}

// TestLostStreamNamesNodes: the coordinator vanishes mid-job; csub tries
// again for --fleet-reconnect, then prints what it got, names the fleet
// it was given (never "the in-process fleet") and the nodes it could not
// account for, in every way the fleet names a source, and exits 255.
func TestLostStreamNamesNodes(t *testing.T) {
	srv := natstest.Start(t, 0)
	url := srv.URL()
	for _, c := range []struct {
		name  string
		args  []string
		vars  map[string]string
		conf  string // clush.conf
		json  bool
		delay time.Duration // --fleet-reconnect
	}{
		{name: "--fleet", args: []string{"--fleet", url}},
		{name: "FLEETSH_FLEET", vars: map[string]string{envFleet: url}, delay: 2 * time.Second},
		{name: "clush.conf", conf: "[Main]\nfleet: " + url + "\n"},
		{name: "--json", args: []string{"--fleet", url, "--json"}, json: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			vanishingCoordinator(t, srv)
			var out, errb bytes.Buffer
			env := confEnv(t, c.conf, "", &out, &errb)
			env.stallTimeout = 200 * time.Millisecond
			for k, v := range c.vars {
				getenv := env.getenv
				env.getenv = func(name string) string {
					if name == k {
						return v
					}
					return getenv(name)
				}
			}
			delay := max(c.delay, time.Second)
			args := append(c.args, "--fleet-reconnect", fmt.Sprint(delay), "-w", "n[1-3]", "true")
			began := time.Now()
			rc := run(context.Background(), args, env, make(chan struct{}))
			took := time.Since(began)
			stderr := errb.String()
			if rc != 255 {
				t.Errorf("rc %d, want 255; stderr %q", rc, stderr)
			}
			if took < delay || took > delay+5*time.Second {
				t.Errorf("gave up after %v with --fleet-reconnect %v", took, delay)
			}
			for _, want := range []string{
				"lost its output stream (tried again for ",
				"the fleet coordinator at " + url + " is unreachable",
				"2 nodes without a final state: n[2-3]; output from record 3 on is missing\n",
			} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not say %q:\n%s", want, stderr)
				}
			}
			if strings.Contains(stderr, "in-process") {
				t.Errorf("a fleet given by %s named the in-process fleet:\n%s", c.name, stderr)
			}
			if c.json {
				states := map[string]string{}
				for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
					var rec struct{ Node, State string }
					if err := json.Unmarshal([]byte(line), &rec); err != nil {
						t.Fatalf("%q: %v", line, err)
					}
					if rec.State != "" {
						states[rec.Node] = rec.State
					}
				}
				if fmt.Sprint(states) != "map[n1:exited n2:not accounted for n3:not accounted for]" {
					t.Errorf("final states %v in\n%s", states, out.String())
				}
				return
			}
			if out.String() != "n1: hello\n" {
				t.Errorf("stdout %q", out.String())
			}
			if !strings.Contains(stderr, "csub: n[2-3]: not accounted for: csub lost the job's output stream (csub attach ") {
				t.Errorf("no line naming the nodes not accounted for:\n%s", stderr)
			}
		})
	}
}

// TestFleetReconnectOption: --fleet-reconnect takes a duration or
// seconds; 0 gives up at once; anything else is a usage error.
func TestFleetReconnectOption(t *testing.T) {
	for v, want := range map[string]time.Duration{"2m": 2 * time.Minute, "30": 30 * time.Second, "1.5s": 1500 * time.Millisecond, "0": -1} {
		if d, err := parseReconnect(v); err != nil || d != want {
			t.Errorf("%q: %v %v, want %v", v, d, err, want)
		}
	}
	for _, v := range []string{"-1s", "soon", "NaN", "1e300"} {
		var out, errb bytes.Buffer
		env := confEnv(t, "", "", &out, &errb)
		if rc := run(context.Background(), []string{"--fleet-reconnect", v, "-w", "n1", "true"}, env, make(chan struct{})); rc != 2 ||
			!strings.Contains(errb.String(), "csub: error: option --fleet-reconnect: invalid value: '"+v+"'") {
			t.Errorf("%q: rc %d, stderr %q", v, rc, errb.String())
		}
	}
}
