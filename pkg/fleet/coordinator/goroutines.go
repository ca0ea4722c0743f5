package coordinator

import (
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Everything the coordinator runs besides Run's own loop (NATS handlers,
// output streams, shard senders, stdin relays) goes through handle or
// spawn, so that Run can wait for it before it returns.

// enter counts a goroutine in for Run to wait for; false once Run stops.
func (c *Coordinator) enter() bool {
	c.running.Lock()
	defer c.running.Unlock()
	if c.stopping {
		return false
	}
	c.wg.Add(1)
	return true
}

// handle runs h for each message until Run stops, which waits for the
// calls in progress; a message NATS delivers as Run returns is dropped.
func (c *Coordinator) handle(h nats.MsgHandler) nats.MsgHandler {
	return func(m *nats.Msg) {
		if c.enter() {
			defer c.wg.Done()
			h(m)
		}
	}
}

// spawn runs fn on a goroutine Run waits for (none once Run stops). fn
// must return once c.ctx is done.
func (c *Coordinator) spawn(fn func()) {
	if !c.enter() {
		return
	}
	go func() {
		defer c.wg.Done()
		fn()
	}()
}

// stop makes Run's goroutines the last and waits for them.
func (c *Coordinator) stop() {
	c.running.Lock()
	c.stopping = true
	c.running.Unlock()
	c.wg.Wait()
}

// refusal is an error of a reply, with its code.
func refusal(code protocol.ErrorCode, format string, args ...any) error {
	return &protocol.CodedError{Code: code, Err: fmt.Errorf(format, args...)}
}
