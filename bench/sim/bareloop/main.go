// Command bareloop is the per-node floor of the simulated-nodes bench
// (bench/sim, integration/bench_sim_test.go): a bare golang.org/x/crypto/ssh
// client that connects to one SSH server -n times, -fanout at a time, and on
// each connection runs -cmd in a session and waits for its exit status,
// nothing more. Its CPU time per connection is what an agent's SSH work on a
// node cannot go below; the bench runs it as a process of its own so that its
// CPU is measured as the agents' is.
//
// It does per connection what fleetsh's ssh worker (pkg/workers/ssh) does
// with the same server: TCP connect, key exchange with x/crypto's default
// algorithms (the worker sets none of its own, so both negotiate the same,
// mlkem768x25519-sha256 with an x/crypto server), the host key checked
// against -known-hosts (ssh-ed25519 asked for, as the worker asks for the
// known key's type), public key authentication with the ed25519 key of -key
// (parsed once, as the worker caches its signers), a session running -cmd,
// its exit status, close. -kex restricts the key exchange to compare with a
// client that negotiates another one.
//
// It prints one line of JSON on standard output: how many connections ran
// the command with exit status 0, how many failed (and the first error), the
// wall time and the algorithms the last connection negotiated. It exits 1
// when any connection failed.
//
//	bareloop -addr 127.0.0.1:2222 -key id_ed25519 -known-hosts known_hosts -n 10000 -fanout 256
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// result is the line bareloop prints.
type result struct {
	OK         int64   `json:"ok"`
	Failed     int64   `json:"failed"`
	FirstError string  `json:"first_error,omitempty"`
	WallS      float64 `json:"wall_s"`
	Kex        string  `json:"kex"`
	HostKey    string  `json:"host_key"`
	Cipher     string  `json:"cipher"`
}

func main() {
	defer func() { os.Exit(exitCode) }()
	addr := flag.String("addr", "", "host:port of the SSH server (required)")
	keyPath := flag.String("key", "", "private key file, unencrypted (required)")
	knownHosts := flag.String("known-hosts", "", "known_hosts file holding the server's host key (required)")
	user := flag.String("user", "bench", "user name to log in as")
	n := flag.Int("n", 1000, "connections to make")
	fanout := flag.Int("fanout", 64, "connections at a time")
	cmd := flag.String("cmd", "true", "command each session runs")
	kex := flag.String("kex", "", "comma-separated key exchanges to offer (default: x/crypto's)")
	timeout := flag.Duration("timeout", 10*time.Second, "connect and handshake timeout of one connection")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the connections to this file")
	flag.Parse()
	if *addr == "" || *keyPath == "" || *knownHosts == "" || *n < 0 || *fanout < 1 {
		flag.Usage()
		os.Exit(2)
	}
	cfg, err := clientConfig(*keyPath, *knownHosts, *user, *kex)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bareloop:", err)
		os.Exit(2)
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bareloop:", err)
			os.Exit(2)
		}
		defer stop()
	}
	res := run(cfg, *addr, *cmd, *n, *fanout, *timeout)
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "bareloop:", err)
		os.Exit(2)
	}
	if res.Failed > 0 {
		exitCode = 1
	}
}

// exitCode is main's status, set before it returns so that its deferred
// calls (the profile's end) run first.
var exitCode int

// startCPUProfile profiles the process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile %s: %w", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bareloop: cpu profile:", err)
		}
	}, nil
}

// clientConfig is the x/crypto client configuration shared by every
// connection.
func clientConfig(keyPath, knownHostsPath, user, kex string) (*ssh.ClientConfig, error) {
	pem, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", keyPath, err)
	}
	hostKey, err := knownhosts.New(knownHostsPath)
	if err != nil {
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	cfg := &ssh.ClientConfig{
		User:              user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   hostKey,
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
		ClientVersion:     "SSH-2.0-bareloop",
	}
	if kex != "" {
		cfg.KeyExchanges = strings.Split(kex, ",")
	}
	return cfg, nil
}

// run makes n connections, fanout at a time.
func run(cfg *ssh.ClientConfig, addr, cmd string, n, fanout int, timeout time.Duration) result {
	var (
		res      result
		next     atomic.Int64
		ok, bad  atomic.Int64
		mu       sync.Mutex
		firstErr error
		algos    ssh.NegotiatedAlgorithms
		wg       sync.WaitGroup
	)
	began := time.Now()
	for range min(fanout, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				a, err := once(cfg, addr, cmd, timeout)
				if err == nil {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if a.KeyExchange != "" {
					algos = a
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.WallS = time.Since(began).Seconds()
	res.OK, res.Failed = ok.Load(), bad.Load()
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	res.Kex, res.HostKey, res.Cipher = algos.KeyExchange, algos.HostKey, algos.Write.Cipher
	return res
}

// errExit is a command that ended other than with exit status 0.
var errExit = errors.New("command did not exit 0")

// once runs cmd on one new connection and returns the algorithms it
// negotiated.
func once(cfg *ssh.ClientConfig, addr, cmd string, timeout time.Duration) (ssh.NegotiatedAlgorithms, error) {
	var algos ssh.NegotiatedAlgorithms
	c := *cfg
	// The server's choice is known once the key exchange is done, which
	// the authentication callback follows; it picks no method itself.
	c.AuthCallback = func(ac *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
		algos = ac.Algorithms
		return nil, nil
	}
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return algos, fmt.Errorf("dial: %w", err)
	}
	// The deadline bounds the handshake only, as a connect timeout does.
	_ = conn.SetDeadline(time.Now().Add(timeout))
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, &c)
	if err != nil {
		conn.Close()
		return algos, fmt.Errorf("handshake: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	client := ssh.NewClient(sc, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return algos, fmt.Errorf("session: %w", err)
	}
	defer sess.Close()
	if err := sess.Run(cmd); err != nil {
		return algos, fmt.Errorf("%w: %w", errExit, err)
	}
	return algos, nil
}
