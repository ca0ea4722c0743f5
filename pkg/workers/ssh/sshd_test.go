package ssh

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/sshdtest"
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// The native driver against OpenSSH's sshd on 127.0.0.1 (the in-process
// server of the other tests is x/crypto/ssh on both ends). .ci/run sets
// FLEETSH_REQUIRE_SSHD=1 so these cannot skip there.

func sshdDriver(t testing.TB, srv *sshdtest.Server) *Driver {
	return configDriver(t, srv.ClientConfig)
}

func TestSSHDCommands(t *testing.T) {
	srv := sshdtest.Start(t)
	d := sshdDriver(t, srv)

	jr := newJob("node1", "echo out; echo err >&2; exit 3")
	res := jr.run(t, d)
	if res.ExitCode != 3 || res.Err != nil || jr.stdout.String() != "out\n" || jr.stderr.String() != "err\n" {
		t.Fatalf("exit %d %v, stdout %q, stderr %q", res.ExitCode, res.Err, jr.stdout, jr.stderr)
	}

	// binary output, and a large one: 100 MB from one node, hashed.
	jr = newJob("node1", "head -c 104857600 /dev/urandom | tee /tmp/fleetsh-sshd-big.$$ | sha256sum | cut -c1-64 >&2; cat /tmp/fleetsh-sshd-big.$$; rm -f /tmp/fleetsh-sshd-big.$$")
	h := sha256.New()
	var n int64
	jr.job.Stdout = writerFunc(func(p []byte) (int, error) { n += int64(len(p)); return h.Write(p) })
	res = jr.run(t, d)
	if res.ExitCode != 0 || res.Err != nil || n != 100<<20 {
		t.Fatalf("big output: exit %d %v, %d bytes, stderr %q", res.ExitCode, res.Err, n, jr.stderr)
	}
	if got, want := fmt.Sprintf("%x", h.Sum(nil)), strings.TrimSpace(jr.stderr.String()); got != want {
		t.Fatalf("big output corrupted: sha256 %s, remote %s", got, want)
	}

	// stdin forwarding
	jr = newJob("node1", "tr a-z A-Z")
	jr.job.Stdin = strings.NewReader("hello\n")
	if res = jr.run(t, d); res.ExitCode != 0 || jr.stdout.String() != "HELLO\n" {
		t.Fatalf("stdin: exit %d %v, stdout %q", res.ExitCode, res.Err, jr.stdout)
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestSSHDFailures(t *testing.T) {
	srv := sshdtest.Start(t)

	// unknown host key: an empty known_hosts file
	d := sshdDriver(t, srv)
	empty := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(empty, nil, 0o600)
	d.KnownHosts = empty
	jr := newJob("node1", "true")
	if res := jr.run(t, d); res.ExitCode != 255 || engine.ReasonOf(res.Err) != engine.ReasonHostKeyUnknown {
		t.Errorf("unknown host key: %d %v %q", res.ExitCode, res.Err, jr.stderr)
	}

	// bad key: the client config with a key the server does not know
	other := filepath.Join(t.TempDir(), "id_other")
	if err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other).Run(); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(srv.ClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	badConf := filepath.Join(t.TempDir(), "ssh_config")
	os.WriteFile(badConf, []byte(strings.ReplaceAll(string(conf), srv.ClientKey, other)), 0o600)
	d = &Driver{Config: badConf, Home: t.TempDir(), RetryBackoff: 5 * time.Millisecond}
	jr = newJob("node1", "true")
	if res := jr.run(t, d); res.ExitCode != 255 || engine.ReasonOf(res.Err) != engine.ReasonAuth {
		t.Errorf("bad key: %d %v %q", res.ExitCode, res.Err, jr.stderr)
	}

	// refused port
	d = sshdDriver(t, srv)
	jr = newJob("node1", "true")
	jr.info["ssh_options"] = "-p 1"
	if res := jr.run(t, d); res.ExitCode != 255 || engine.ReasonOf(res.Err) != engine.ReasonConnectRefused {
		t.Errorf("refused: %d %v %q", res.ExitCode, res.Err, jr.stderr)
	}
}

// TestSSHDThroughEngine runs commands, a hung command under a command
// timeout, an abort and a copy/rcopy of a tree through the engine.
func TestSSHDThroughEngine(t *testing.T) {
	srv := sshdtest.Start(t)
	d := sshdDriver(t, srv)
	nodes := nodeset.MustParse("node[1-3]")

	task := engine.New()
	w, err := task.Run(`[ "$(hostname)" ] && sleep 30; echo never`, engine.Options{Nodes: nodeset.MustParse("hung1"), Driver: d, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !w.DidTimeout() {
		t.Errorf("hung command did not time out")
	}

	task = engine.New()
	if _, err := task.Shell("sleep 30", engine.Options{Nodes: nodes, Driver: d}); err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(time.Second); task.Abort() }()
	start := time.Now()
	if err := task.Resume(0); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Errorf("abort took %v", el)
	}

	src := filepath.Join(t.TempDir(), "tree")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("alpha\n"), 0o640)
	os.WriteFile(filepath.Join(src, "sub", "b.bin"), bytes.Repeat([]byte{0, 1, 2}, 1000), 0o600)
	remote := t.TempDir()
	task = engine.New()
	dest := filepath.Join(remote, "copied")
	if _, err := task.Copy(src, dest, true, engine.Options{Nodes: nodeset.MustParse("node1"), Driver: d}); err != nil {
		t.Fatal(err)
	}
	if err := task.Resume(time.Minute); err != nil {
		t.Fatal(err)
	}
	if rc, ok := task.MaxRetcode(); !ok || rc != 0 {
		t.Fatalf("copy failed: %v", task.Gathered())
	}
	if b, err := os.ReadFile(filepath.Join(dest, "sub", "b.bin")); err != nil || len(b) != 3000 {
		t.Fatalf("copied tree: %v (%d bytes)", err, len(b))
	}
	back := t.TempDir()
	task = engine.New()
	if _, err := task.Rcopy(dest, back, false, engine.Options{Nodes: nodes, Driver: d}); err != nil {
		t.Fatal(err)
	}
	if err := task.Resume(time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"node1", "node2", "node3"} {
		b, err := os.ReadFile(filepath.Join(back, "copied."+n, "a.txt"))
		if err != nil || string(b) != "alpha\n" {
			t.Errorf("rcopy from %s: %q %v", n, b, err)
		}
	}
}
