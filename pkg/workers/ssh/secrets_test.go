package ssh

import (
	"encoding/pem"
	"os"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/pkg/engine"
)

// secretsOf are strings that must never appear in anything the driver
// writes: the passphrase, and pieces of the key file's body, encrypted and
// plain.
func secretsOf(t *testing.T, key *sshtest.ClientKey, path, passphrase string) []string {
	t.Helper()
	secrets := []string{passphrase}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := gossh.MarshalPrivateKey(key.Private, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{file, pem.EncodeToMemory(plain)} {
		lines := strings.Split(string(data), "\n")
		for _, l := range lines[1 : len(lines)-2] { // the body, no BEGIN/END lines
			if len(l) >= 16 {
				secrets = append(secrets, l[:16], l[len(l)-16:])
			}
		}
	}
	return secrets
}

func checkNoSecrets(t *testing.T, what string, secrets []string, outputs ...string) {
	t.Helper()
	for _, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Fatalf("%s: %q leaked into %q", what, s, out)
			}
		}
	}
}

// TestKeysNeverLogged runs jobs at the most verbose LogLevel, with the
// driver's debug lines (csub -d) on, with an encrypted identity file:
// loaded in the agent (with its passphrase), not loaded, and corrupt. The
// passphrase and the key file's contents appear nowhere; the file is named
// where it could not be used.
func TestKeysNeverLogged(t *testing.T) {
	const passphrase = "pass-7f3a9c horse battery"
	_, e := sshtest.StartNodes(t, sshtest.Config{}, "node1")
	if err := e.Key.WriteEncrypted(e.KeyPath, passphrase); err != nil {
		t.Fatal(err)
	}
	secrets := secretsOf(t, e.Key, e.KeyPath, passphrase)
	verbose := "-o LogLevel=DEBUG3"
	outputs := func(jr *jobRun, res engine.Result) []string {
		out := []string{jr.stdout.String(), jr.stderr.String(), jr.debug.String()}
		if res.Err != nil {
			out = append(out, res.Err.Error())
		}
		return out
	}

	// The agent holds the key (added with its passphrase): the job runs.
	if err := e.AddConfig("Host node1", "    IdentityAgent "+startAgent(t, e.Key)); err != nil {
		t.Fatal(err)
	}
	d := testDriver(t, e)
	jr := newJob("node1", "echo ran")
	jr.info["ssh_options"] = verbose
	res := jr.run(t, d)
	wantCode(t, jr, res, 0)
	checkNoSecrets(t, "agent", secrets, outputs(jr, res)...)

	// No agent: the encrypted key is skipped, named, and login fails.
	e2 := sshtest.NewEnv(t)
	s2 := sshtest.Start(t, sshtest.Config{})
	if err := e2.AddNodes(s2, "node1"); err != nil {
		t.Fatal(err)
	}
	if err := e2.Key.WriteEncrypted(e2.KeyPath, passphrase); err != nil {
		t.Fatal(err)
	}
	secrets2 := secretsOf(t, e2.Key, e2.KeyPath, passphrase)
	jr = newJob("node1", "echo ran")
	jr.info["ssh_options"] = verbose
	res = jr.run(t, testDriver(t, e2))
	if engine.ReasonOf(res.Err) != engine.ReasonAuth {
		t.Fatalf("no agent: %v\n%s", res.Err, jr.stderr)
	}
	if !strings.Contains(jr.debug.String(), "skipping encrypted key "+e2.KeyPath) {
		t.Fatalf("the skipped key is not named: %s", jr.debug)
	}
	checkNoSecrets(t, "no agent", secrets2, outputs(jr, res)...)

	// A corrupt key file (its body cut short): named, never printed.
	data, _ := os.ReadFile(e2.KeyPath)
	cut := strings.Split(string(data), "\n")
	corrupt := strings.Join(cut[:len(cut)/2], "\n") + "\n" + cut[len(cut)-2] + "\n"
	writeFile(t, e2.KeyPath, corrupt)
	jr = newJob("node1", "echo ran")
	jr.info["ssh_options"] = verbose
	res = jr.run(t, testDriver(t, e2))
	if engine.ReasonOf(res.Err) != engine.ReasonAuth {
		t.Fatalf("corrupt key: %v\n%s", res.Err, jr.stderr)
	}
	if !strings.Contains(jr.debug.String(), "identity file "+e2.KeyPath+": ") {
		t.Fatalf("the corrupt key is not named: %s", jr.debug)
	}
	checkNoSecrets(t, "corrupt key", secrets2, outputs(jr, res)...)
}
