package ssh

import (
	"context"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/agent"

	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/engine"
)

// testDriver is a driver that reads only env's files.
func testDriver(t testing.TB, e *sshtest.Env) *Driver {
	return configDriver(t, e.ConfigPath)
}

// configDriver is a driver that reads the config file at path only, with
// an empty home of its own and quick retries.
func configDriver(t testing.TB, path string) *Driver {
	return &Driver{Config: path, Home: t.TempDir(), RetryBackoff: 5 * time.Millisecond}
}

// startNode1 starts a server for node1, in an Env of its own, and returns
// them with the driver that reaches node1 through the Env's files.
func startNode1(t testing.TB) (*sshtest.Server, *sshtest.Env, *Driver) {
	t.Helper()
	s, e := sshtest.StartNodes(t, sshtest.Config{}, "node1")
	return s, e, testDriver(t, e)
}

// startNode1WithKey starts a server for node1, in an Env of its own,
// that also accepts a new client key the Env does not hold, and returns
// them with that key.
func startNode1WithKey(t *testing.T) (*sshtest.Server, *sshtest.Env, *sshtest.ClientKey) {
	t.Helper()
	s, e := sshtest.StartNodes(t, sshtest.Config{}, "node1")
	key, err := sshtest.GenerateClientKey()
	if err != nil {
		t.Fatal(err)
	}
	s.Authorize(key.PublicKey())
	return s, e, key
}

// stalledJob is a job on node1 with a 300 ms connect timeout, node1 being
// a server that accepts connections and never sends its banner, and the
// driver that reaches it.
func stalledJob(t *testing.T) (*sshtest.Server, *Driver, *jobRun) {
	t.Helper()
	s, e := sshtest.StartNodes(t, sshtest.Config{}, "node1")
	s.SetStall(true)
	jr := newJob("node1", "true")
	jr.job.ConnectTimeout = 300 * time.Millisecond
	return s, testDriver(t, e), jr
}

// jobRun is a job and what it wrote.
type jobRun struct {
	job            *engine.Job
	stdout, stderr *testutil.SyncBuffer
	debug          *testutil.SyncBuffer
	info           map[string]any
}

// newJob makes a command job on node with separate streams.
func newJob(node, command string) *jobRun {
	jr := &jobRun{stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}, debug: &testutil.SyncBuffer{}, info: map[string]any{}}
	jr.job = &engine.Job{
		Node:           node,
		Nodes:          []string{node},
		Command:        command,
		Stdout:         jr.stdout,
		Stderr:         jr.stderr,
		ConnectTimeout: 10 * time.Second,
		Info: func(k string) (any, bool) {
			v, ok := jr.info[k]
			return v, ok
		},
		Debug: func(line string) { jr.debug.Write([]byte(line + "\n")) },
	}
	return jr
}

func (jr *jobRun) run(t testing.TB, d *Driver) engine.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return d.Run(ctx, jr.job)
}

// wantOK fails t unless res is a clean exit with code want.
func wantCode(t testing.TB, jr *jobRun, res engine.Result, want int) {
	t.Helper()
	if res.Err != nil || res.ExitCode != want {
		t.Fatalf("Run = %d, %v; want %d, nil\nstderr: %s\ndebug: %s", res.ExitCode, res.Err, want, jr.stderr, jr.debug)
	}
}

// wantFailure checks a connection failure: exit 255, the reason and the
// exact OpenSSH lines on stderr.
func wantFailure(t testing.TB, jr *jobRun, res engine.Result, reason engine.Reason, lines ...string) {
	t.Helper()
	if res.ExitCode != ExitSSHError || engine.ReasonOf(res.Err) != reason {
		t.Fatalf("Run = %d, %v (reason %q); want 255, reason %q\nstderr: %s\ndebug: %s",
			res.ExitCode, res.Err, engine.ReasonOf(res.Err), reason, jr.stderr, jr.debug)
	}
	if lines != nil {
		want := strings.Join(lines, "\n") + "\n"
		if got := jr.stderr.String(); got != want {
			t.Fatalf("stderr:\n%s\nwant:\n%s", got, want)
		}
	}
}

// closedPort returns a loopback port that refuses connections.
func closedPort(t testing.TB) int { return testutil.RefusedPort(t) }

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// watchHeap samples the heap in use every 10ms until the returned
// function is called, which returns the largest sample.
func watchHeap() func() uint64 {
	runtime.GC()
	return testutil.WatchPeak(10*time.Millisecond, func() (uint64, bool) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse, true
	})
}

// keyring is an in-memory agent holding key.
func keyring(t testing.TB, key *sshtest.ClientKey) agent.Agent {
	kr := agent.NewKeyring()
	if err := kr.Add(agent.AddedKey{PrivateKey: key.Private}); err != nil {
		t.Fatal(err)
	}
	return kr
}

// startAgent serves an agent holding key on a unix socket and returns
// the socket's path.
func startAgent(t testing.TB, key *sshtest.ClientKey) string {
	kr := keyring(t, key)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _ = agent.ServeAgent(kr, c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return sock
}
