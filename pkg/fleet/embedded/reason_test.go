package embedded

import (
	"fmt"
	"os"
	"testing"

	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// TestEndCarriesTheEngineReason: a node whose host key changed ends, on
// the client's side of the fleet, in the coarse state "host key refused"
// with the engine's reason "host key changed" intact beside it (and a
// node whose key is unknown with "host key unknown").
func TestEndCarriesTheEngineReason(t *testing.T) {
	s, e := sshtest.StartNodes(t, sshtest.Config{}, "changed1", "unknown1")
	impostor := sshtest.Start(t, sshtest.Config{})
	// known_hosts holds another server's key under changed1's address;
	// unknown1 goes by another name, which known_hosts does not hold.
	if err := os.WriteFile(e.KnownHostsPath, []byte(impostor.KnownHostsLine(fmt.Sprintf("[127.0.0.1]:%d", s.Port()))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.AddConfig("Host unknown1", "    HostKeyAlias unknown1"); err != nil {
		t.Fatal(err)
	}
	_, c := start(t)
	_, ends := runJob(t, c, protocol.JobSpec{Nodes: "changed1,unknown1", Worker: "ssh", Command: "true",
		Info: map[string]string{"ssh_config": e.ConfigPath}})
	for node, want := range map[string]engine.Reason{"changed1": engine.ReasonHostKeyChanged, "unknown1": engine.ReasonHostKeyUnknown} {
		r := ends[node]
		if r.State != protocol.StateHostKey || r.Code != 255 || r.Reason != string(want) {
			t.Errorf("%s: state %q code %d reason %q (message %q), want %q %q", node, r.State, r.Code, r.Reason, r.Data, protocol.StateHostKey, want)
		}
	}
}

// TestFilesChangedBetweenJobs: an agent's shard reads the ssh files once
// (ssh.Driver.Snapshot), so the next job must see what changed in
// between: known_hosts losing a node's key, then the config sending the
// node to a port that refuses.
func TestFilesChangedBetweenJobs(t *testing.T) {
	_, e := sshtest.StartNodes(t, sshtest.Config{}, "node1", "node2", "node3")
	_, c := start(t)
	spec := protocol.JobSpec{Nodes: "node[1-3]", Worker: "ssh", Command: "true",
		Info: map[string]string{"ssh_config": e.ConfigPath}}
	wantEnds := func(state protocol.State, reason engine.Reason) {
		t.Helper()
		_, ends := runJob(t, c, spec)
		for _, n := range []string{"node1", "node2", "node3"} {
			if r := ends[n]; r.State != state || r.Reason != string(reason) {
				t.Errorf("%s: state %q reason %q (%q), want %q %q", n, r.State, r.Reason, r.Data, state, reason)
			}
		}
	}
	wantEnds(protocol.StateExited, "")
	known, err := os.ReadFile(e.KnownHostsPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.KnownHostsPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wantEnds(protocol.StateHostKey, engine.ReasonHostKeyUnknown)
	if err := os.WriteFile(e.KnownHostsPath, known, 0o600); err != nil {
		t.Fatal(err)
	}
	wantEnds(protocol.StateExited, "")
	if err := e.AddConfig("Host node*", fmt.Sprintf("    Port %d", testutil.RefusedPort(t))); err != nil {
		t.Fatal(err)
	}
	wantEnds(protocol.StateConnect, engine.ReasonConnectRefused)
}
