package client

// Resuming against a real coordinator and agent (pkg/fleet/daemon, the
// exec worker), over a real NATS server on loopback: the coordinator
// forgets the reader's stream (it stopped acking: DetachAfter), and the
// reader's own connection goes down (through a TCP proxy the test cuts).
// A coordinator restart is the JetStream store's to test.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/daemon"
	"github.com/fleetsh/fleetsh/pkg/fleet/policy"
	"github.com/fleetsh/fleetsh/pkg/protocol"
	_ "github.com/fleetsh/fleetsh/pkg/workers"
)

// detachAfter is the test coordinator's DetachAfter: short, so that a
// reader is dropped in a second or two.
const detachAfter = 300 * time.Millisecond

// startRealFleet starts a coordinator (a window of 4 batches) and a
// local agent with an embedded NATS server on a loopback port, and
// returns its host:port.
func startRealFleet(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f, err := daemon.Start(ctx, daemon.Config{Listen: "127.0.0.1:0", Name: "resume-test",
		Coordinator: &coordinator.Config{Policy: policy.AllowAll(), DetachAfter: detachAfter, Window: 4, LostAfter: time.Hour},
		Agent:       &agent.Config{Name: "local", Local: true, Capacity: 8}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f.Addr()
}

func connect(t *testing.T, addr string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect("nats://"+addr, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.ReconnectJitter(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// submitLines submits a job printing lines lines per node, one every
// 20 ms, and returns it with the context to read it in.
func submitLines(t *testing.T, c *Client, lines int) (context.Context, *Job) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	job, err := c.Submit(ctx, protocol.JobSpec{Nodes: "n[1-3]", Worker: "exec",
		Command: fmt.Sprintf(`i=0; while [ $i -lt %d ]; do i=$((i+1)); echo %%h line $i; sleep 0.02; done`, lines)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = job.Close() })
	return ctx, job
}

// transcript is what a reader got of a job: each node's lines and final
// state, which must be what the job printed, each line once, in order.
type transcript struct {
	lines map[string][]string
	ends  map[string]string
}

func (tr *transcript) add(t *testing.T, job *Job, b *protocol.EventBatch) {
	for _, r := range b.Events {
		for _, i := range r.Nodes {
			n := job.Nodes()[i]
			switch r.Kind {
			case protocol.KindStdout:
				tr.lines[n] = append(tr.lines[n], strings.Split(string(r.Data), "\n")...)
			case protocol.KindEnd:
				if _, dup := tr.ends[n]; dup {
					t.Errorf("%s ended twice", n)
				}
				tr.ends[n] = fmt.Sprintf("%s %d", r.State, r.Code)
			}
		}
	}
}

func (tr *transcript) check(t *testing.T, job *Job, lines int) {
	t.Helper()
	for _, n := range job.Nodes() {
		var want []string
		for i := 1; i <= lines; i++ {
			want = append(want, fmt.Sprintf("%s line %d", n, i))
		}
		if got := strings.Join(tr.lines[n], "|"); got != strings.Join(want, "|") {
			t.Errorf("%s printed %d lines, got %d: %.200q", n, lines, len(tr.lines[n]), got)
		}
		if tr.ends[n] != "exited 0" {
			t.Errorf("%s ended %q", n, tr.ends[n])
		}
	}
	if len(job.Lost()) != 0 {
		t.Errorf("records lost: %v", job.Lost())
	}
}

// read reads job to its end; first is closed after the first line.
func read(t *testing.T, ctx context.Context, job *Job, first chan<- struct{}) *transcript {
	tr := &transcript{lines: map[string][]string{}, ends: map[string]string{}}
	for {
		b, err := job.Next(ctx)
		if errors.Is(err, io.EOF) {
			return tr
		}
		if err != nil {
			t.Errorf("Next: %v", err)
			return tr
		}
		tr.add(t, job, b)
		if first != nil && len(tr.lines) > 0 {
			close(first)
			first = nil
		}
	}
}

// waitGone waits until the coordinator says it no longer serves the
// job's stream (asked through c, which may be another connection).
func waitGone(t *testing.T, c *Client, id, stream string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := c.status(ctx, id, true, stream)
		cancel()
		if err == nil && st.Stream == protocol.StreamGone {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the coordinator still serves stream %s (%+v, %v)", stream, st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestResumeAfterDetach: a reader that stops reading (a suspended csub)
// longer than the coordinator's DetachAfter is dropped; when it reads
// again it attaches from what it has and gets every line once.
func TestResumeAfterDetach(t *testing.T) {
	c := &Client{Conn: connect(t, startRealFleet(t)), StallTimeout: 300 * time.Millisecond}
	const lines = 100
	ctx, job := submitLines(t, c, lines)
	tr := &transcript{lines: map[string][]string{}, ends: map[string]string{}}
	for len(tr.lines) == 0 {
		b, err := job.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tr.add(t, job, b)
	}
	waitGone(t, c, job.ID(), job.ID()) // not reading meanwhile
	rest := read(t, ctx, job, nil)
	for n, ls := range rest.lines {
		tr.lines[n] = append(tr.lines[n], ls...)
	}
	tr.ends = rest.ends
	tr.check(t, job, lines)
	if job.Resumed() != 1 {
		t.Errorf("resumed %d times, want 1", job.Resumed())
	}
}

// TestResumeThroughOwnOutage: the reader's own connection to NATS is cut
// (a TCP proxy stops) long enough for the coordinator to drop its
// stream; once the connection is back the reader resumes and gets every
// line once, the job having run on meanwhile.
func TestResumeThroughOwnOutage(t *testing.T) {
	addr := startRealFleet(t)
	p := startProxy(t, addr)
	c := &Client{Conn: connect(t, p.addr()), StallTimeout: 300 * time.Millisecond}
	direct := &Client{Conn: connect(t, addr)}
	const lines = 150
	ctx, job := submitLines(t, c, lines)
	first := make(chan struct{})
	done := make(chan *transcript)
	go func() { done <- read(t, ctx, job, first) }()
	<-first
	p.setDown(true)
	waitGone(t, direct, job.ID(), job.ID())
	p.setDown(false)
	tr := <-done
	tr.check(t, job, lines)
	if job.Resumed() < 1 {
		t.Errorf("never resumed")
	}
}

// tcpProxy forwards loopback connections to a NATS server; setDown cuts
// every connection and refuses new ones until it is up again.
type tcpProxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{l: l, target: target, conns: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		p.setDown(true)
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil || !p.track(in, out) {
				in.Close()
				if out != nil {
					out.Close()
				}
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(out, in); out.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	return p
}

func (p *tcpProxy) addr() string { return p.l.Addr().String() }

// track registers a forwarded pair, unless the proxy is down.
func (p *tcpProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	for _, c := range conns {
		p.conns[c] = true
	}
	return true
}

func (p *tcpProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}
