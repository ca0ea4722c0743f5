// Package wire carries pkg/protocol messages over NATS: headers, version
// checks, JSON request/reply, and the connection policy every fleet role
// shares. It is the only place the fleet's protocol meets the NATS client.
package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// NewMsg returns a message to subject with the protocol headers set.
func NewMsg(subject, typ string, data []byte) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Header.Set(protocol.HeaderVersion, protocol.VersionHeader)
	m.Header.Set(protocol.HeaderType, typ)
	m.Data = data
	return m
}

// Check verifies the protocol version of a received message.
func Check(m *nats.Msg) error {
	return protocol.CheckVersion(m.Header.Get(protocol.HeaderVersion))
}

// Type returns a received message's protocol type.
func Type(m *nats.Msg) string { return m.Header.Get(protocol.HeaderType) }

// PublishJSON publishes v as a JSON message of type typ.
func PublishJSON(nc *nats.Conn, subject, typ string, v any) error {
	data, err := protocol.Marshal(v)
	if err != nil {
		return fmt.Errorf("publish %s: %w", typ, err)
	}
	return nc.PublishMsg(NewMsg(subject, typ, data))
}

// Respond answers request m with v as JSON of type typ.
func Respond(m *nats.Msg, typ string, v any) error {
	if m.Reply == "" {
		return nil
	}
	data, err := protocol.Marshal(v)
	if err != nil {
		return fmt.Errorf("reply %s: %w", typ, err)
	}
	return m.RespondMsg(NewMsg(m.Reply, typ, data))
}

// ErrNoCoordinator is returned when nobody answers a request.
var ErrNoCoordinator = errors.New("no coordinator is listening")

// Request sends req as JSON of type typ to subject and decodes the reply
// into reply. A reply in another protocol version is an error naming
// both versions.
func Request(ctx context.Context, nc *nats.Conn, subject, typ string, req, reply any) error {
	data, err := protocol.Marshal(req)
	if err != nil {
		return fmt.Errorf("request %s: %w", typ, err)
	}
	return RequestData(ctx, nc, subject, typ, data, reply)
}

// RequestData is Request with the request's body already encoded: data
// goes out byte for byte (a signed shard).
func RequestData(ctx context.Context, nc *nats.Conn, subject, typ string, data []byte, reply any) error {
	m, err := nc.RequestMsgWithContext(ctx, NewMsg(subject, typ, data))
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("request %s on %s: %w", typ, subject, ErrNoCoordinator)
		}
		return fmt.Errorf("request %s on %s: %w", typ, subject, err)
	}
	if err := Check(m); err != nil {
		return fmt.Errorf("reply to %s: %w", typ, err)
	}
	if want, ok := replyTypes[typ]; ok {
		if err := Expect(m, want); err != nil {
			return fmt.Errorf("reply to %s: %w", typ, err)
		}
	}
	return protocol.Unmarshal(m.Data, reply)
}

// replyTypes is the type of the reply to each request type.
var replyTypes = map[string]string{
	protocol.TypeJobSpec:      protocol.TypeSubmitReply,
	protocol.TypeSubmitPart:   protocol.TypeSubmitReply,
	protocol.TypeShard:        protocol.TypeShardReply,
	protocol.TypeShardSummary: protocol.TypeDoneReply,
	protocol.TypeHello:        protocol.TypeWelcome,
	protocol.TypeJobsRequest:  protocol.TypeJobsReply,
}

// MaxReconnectWait is the longest pause between two reconnection
// attempts of a fleet process (Options): after an outage, a peer may come
// back this much later than the first process that reconnected.
const MaxReconnectWait = 10 * time.Second

// Options returns the connection options of a long-lived fleet process
// (agent, coordinator joining an external NATS): reconnect forever with
// capped backoff, notice a dead server in seconds, small reconnect
// buffer (the fleet's own sequence numbers and retransmits recover
// anything published while disconnected), and log connection changes.
func Options(name string, log *slog.Logger) []nats.Option {
	if log == nil {
		log = slog.Default()
	}
	return []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			d := 100 * time.Millisecond << min(attempts, 7)
			return min(d, MaxReconnectWait)
		}),
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.ReconnectBufSize(1 << 20),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Error("nats async error", "subject", subj, "err", err)
		}),
	}
}
