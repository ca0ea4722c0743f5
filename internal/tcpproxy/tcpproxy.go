// Package tcpproxy is a TCP proxy for fault tests: it listens on loopback,
// forwards every connection it accepts to one target address, and can
// stall (stop forwarding both ways while keeping the connections open, as
// a wedged firewall or a frozen network path does), resume, and drop every
// connection at once (as a network that resets them does). A client behind
// a stalled proxy sees no error at all until its own timeouts fire, which
// is the failure a heartbeat or a keepalive must detect.
package tcpproxy

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// bufSize is the chunk each direction of a connection reads and forwards.
const bufSize = 32 << 10

// Proxy forwards the connections accepted on its loopback listener to its
// target. Its methods are safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener

	mu      sync.Mutex
	conns   map[*pair]struct{}
	resumed chan struct{} // closed while forwarding; open while stalled
	closed  bool

	accepted  atomic.Int64
	forwarded atomic.Int64
	wg        sync.WaitGroup
}

// pair is one proxied connection: the client's and the target's side.
type pair struct {
	client, server net.Conn
	once           sync.Once
	done           chan struct{} // closed when the pair is closed
}

func (c *pair) close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.client.Close()
		_ = c.server.Close()
	})
}

// Start listens on 127.0.0.1 on a free port and forwards each connection
// to target (host:port).
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("tcpproxy: listen: %w", err)
	}
	resumed := make(chan struct{})
	close(resumed)
	p := &Proxy{target: target, ln: ln, conns: map[*pair]struct{}{}, resumed: resumed}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the proxy's listening address (127.0.0.1:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port is the proxy's listening port.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Stall stops forwarding in both directions: connections stay open, bytes
// already read wait in the proxy, and senders block once the kernel's
// buffers are full. New connections are accepted and connected to the
// target, but nothing crosses them either until Resume.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.resumed:
		p.resumed = make(chan struct{})
	default: // already stalled
	}
}

// Resume forwards again, starting with the bytes held during the stall.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.resumed:
	default:
		close(p.resumed)
	}
}

// Stalled reports whether the proxy is stalled.
func (p *Proxy) Stalled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.resumed:
		return false
	default:
		return true
	}
}

// DropAll closes every open connection, both sides, and returns how many
// it closed; bytes held by a stall are discarded. The listener stays
// open: clients may connect again (and are stalled if the proxy is).
func (p *Proxy) DropAll() int {
	p.mu.Lock()
	conns := make([]*pair, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	return len(conns)
}

// Conns is the number of connections open now.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Accepted is the number of connections accepted so far.
func (p *Proxy) Accepted() int { return int(p.accepted.Load()) }

// Forwarded is the number of bytes forwarded so far, both ways.
func (p *Proxy) Forwarded() int64 { return p.forwarded.Load() }

// Close stops listening, closes every connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.DropAll()
	p.wg.Wait()
	return err
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.accepted.Add(1)
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		// The client sees the refusal as a closed connection.
		_ = client.Close()
		return
	}
	c := &pair{client: client, server: server, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.close()
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	var both sync.WaitGroup
	both.Add(2)
	go func() { defer both.Done(); p.pipe(c, server, client) }()
	go func() { defer both.Done(); p.pipe(c, client, server) }()
	both.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// pipe copies src to dst, holding each chunk while the proxy is stalled;
// the end or failure of either direction closes the whole pair, as a
// connection reset does.
func (p *Proxy) pipe(c *pair, dst, src net.Conn) {
	defer c.close()
	buf := make([]byte, bufSize)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait(c) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			p.forwarded.Add(int64(n))
		}
		if err != nil {
			return // EOF, reset or DropAll
		}
	}
}

// wait returns once the proxy forwards (true) or c is closed (false).
func (p *Proxy) wait(c *pair) bool {
	p.mu.Lock()
	resumed := p.resumed
	p.mu.Unlock()
	select {
	case <-resumed:
		return true
	case <-c.done:
		return false
	}
}
