package wire

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// TypeError is the refusal of a message whose protocol.HeaderType is not
// what its subject carries: it is dropped, never decoded as another type.
type TypeError struct {
	Subject string
	Got     string   // the message's type ("" when it has none)
	Want    []string // the types the subject carries
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("message of type %q on %s, which carries %q", e.Got, e.Subject, e.Want)
}

// Expect returns a *TypeError unless m's protocol type is one of types.
func Expect(m *nats.Msg, types ...string) error {
	if t := Type(m); !slices.Contains(types, t) {
		return &TypeError{Subject: m.Subject, Got: t, Want: types}
	}
	return nil
}

// dropLogEvery spaces the log lines of a Drops: a flood of bad messages
// makes one line per interval, not one per message.
const dropLogEvery = 10 * time.Second

// Drops counts the messages a receiver drops (wrong type, malformed,
// forged, out of the stream) and logs them at WARN, rate-limited: the
// first at once, then at most one line per 10 s saying how many were
// dropped since. The zero value is ready; safe for concurrent use.
type Drops struct {
	mu      sync.Mutex
	count   uint64
	since   uint64 // dropped since the last line
	lastLog time.Time
}

// Drop counts m as dropped because of err, and logs it unless a line was
// logged less than 10 s ago. log nil is slog.Default().
func (d *Drops) Drop(log *slog.Logger, m *nats.Msg, err error) {
	d.mu.Lock()
	d.count++
	d.since++
	now := time.Now()
	if !d.lastLog.IsZero() && now.Sub(d.lastLog) < dropLogEvery {
		d.mu.Unlock()
		return
	}
	n := d.since
	d.since, d.lastLog = 0, now
	d.mu.Unlock()
	if log == nil {
		log = slog.Default()
	}
	log.Warn("message dropped", "subject", protocol.Truncate(m.Subject, 256), "type", protocol.Truncate(Type(m), 64), "size", len(m.Data), "err", err, "dropped", n)
}

// Count returns how many messages were dropped.
func (d *Drops) Count() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.count
}
