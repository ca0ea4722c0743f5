package csub

import (
	"context"
	"sync/atomic"
)

// untilInterrupt returns a context that ends with ctx or at the first
// interrupt (Ctrl-C) read from intr; stop ends it and waits until intr is
// no longer watched (defer it), and interrupted reports whether an
// interrupt ended it. Submitting, streaming a job's output and attaching
// to one all stop at a Ctrl-C this way, then decide what it means.
func untilInterrupt(ctx context.Context, intr <-chan struct{}) (rctx context.Context, stop func(), interrupted func() bool) {
	rctx, cancel := context.WithCancel(ctx)
	var hit atomic.Bool
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-intr:
			hit.Store(true)
			cancel()
		case <-rctx.Done():
		}
	}()
	return rctx, func() { cancel(); <-watched }, hit.Load
}
