package wire

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// SendStdin sends chunk c to subject until the receiver answers for it:
// it took it (the ack's Seq reaches c.Seq), or says Done (nothing reads
// the stream any more). A receiver answers when it has room, so a try
// that gets no answer within try is sent again (the receiver takes a
// chunk once), unless giveUp (if not nil) then says to stop. It returns
// ErrNoCoordinator when nobody listens, and the receiver's refusal as an
// error.
func SendStdin(ctx context.Context, nc *nats.Conn, subject string, c *protocol.StdinChunk, try time.Duration, giveUp func() bool) (protocol.StdinAck, error) {
	data, err := c.MarshalBinary()
	if err != nil {
		return protocol.StdinAck{}, err
	}
	for {
		tctx, cancel := context.WithTimeout(ctx, try)
		m, err := nc.RequestMsgWithContext(tctx, NewMsg(subject, protocol.TypeStdinChunk, data))
		cancel()
		switch {
		case ctx.Err() != nil:
			return protocol.StdinAck{}, ctx.Err()
		case errors.Is(err, nats.ErrNoResponders):
			return protocol.StdinAck{}, fmt.Errorf("stdin chunk %d on %s: %w", c.Seq, subject, ErrNoCoordinator)
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
			if giveUp != nil && giveUp() {
				return protocol.StdinAck{}, fmt.Errorf("stdin chunk %d on %s: given up: %w", c.Seq, subject, err)
			}
			continue // no room yet, or the request or its answer was lost
		case err != nil:
			return protocol.StdinAck{}, fmt.Errorf("stdin chunk %d on %s: %w", c.Seq, subject, err)
		}
		if err := Check(m); err != nil {
			return protocol.StdinAck{}, fmt.Errorf("reply to stdin chunk: %w", err)
		}
		if err := Expect(m, protocol.TypeStdinAck); err != nil {
			return protocol.StdinAck{}, fmt.Errorf("reply to stdin chunk: %w", err)
		}
		var ack protocol.StdinAck
		if err := protocol.Unmarshal(m.Data, &ack); err != nil {
			return ack, err
		}
		switch {
		case ack.Error != "":
			return ack, fmt.Errorf("stdin chunk %d refused: %s", c.Seq, ack.Error)
		case ack.Done || ack.Seq >= c.Seq:
			return ack, nil
		}
		return ack, fmt.Errorf("stdin chunk %d: the receiver has only %d (it lost the stream)", c.Seq, ack.Seq)
	}
}

// ReceiveStdin decodes a stdin chunk request. When the message or its
// chunk is malformed it answers the sender with the error and reports
// false.
func ReceiveStdin(m *nats.Msg) (protocol.StdinChunk, bool) {
	var ch protocol.StdinChunk
	err := Check(m)
	if err == nil {
		err = Expect(m, protocol.TypeStdinChunk)
	}
	if err == nil {
		err = ch.UnmarshalBinary(m.Data)
	}
	if err != nil {
		RespondStdin(m, protocol.StdinAck{Error: err.Error()})
		return ch, false
	}
	return ch, true
}

// RespondStdin answers a stdin chunk request.
func RespondStdin(m *nats.Msg, ack protocol.StdinAck) { _ = Respond(m, protocol.TypeStdinAck, ack) }
