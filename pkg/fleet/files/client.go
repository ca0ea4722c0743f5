package files

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Defaults of Client.
const (
	DefaultClientTimeout = 10 * time.Second
	DefaultClientTries   = 10
)

// Backoff between two sends of a request: doubling from the first pause
// to the last, each pause drawn between half and all of its step so that
// many clients refused at once do not come back at once.
const (
	retryFirst = 100 * time.Millisecond
	retryMax   = 5 * time.Second
	busyFirst  = 20 * time.Millisecond
	busyMax    = time.Second
)

// Client is a ChunkStore over NATS requests to the coordinator's Server:
// what csub and agents use, as they never reach JetStream themselves.
// Safe for concurrent use; a transfer sends several requests at once
// through one Client to fill the path.
//
// A request that gets no answer in Timeout, finds no coordinator
// listening (one restarting), cannot be sent (NATS reconnecting) or is
// answered CodeUnavailable (JetStream not answering the coordinator) is
// sent again after a pause, Tries times in all: a coordinator restart or
// a NATS blip does not fail a 1 GiB transfer, and every request is safe
// to repeat (a put stores the same bytes under the same name). A request
// answered CodeBusy (the coordinator serving its MaxInFlight) is sent
// again as long as ctx lasts: the coordinator is there, and working.
type Client struct {
	Conn *nats.Conn
	// Subject is where requests go: Subjects.Files(user) for csub,
	// Subjects.AgentFiles(agent) for an agent.
	Subject string
	// Job is the job the requests are for ("" for a push's upload
	// before its job exists).
	Job string
	// Timeout bounds each request (DefaultClientTimeout).
	Timeout time.Duration
	// Tries bounds the sends of a request that fails for a reason that
	// may pass (DefaultClientTries).
	Tries int
}

// DeniedError is a request the coordinator's authorization refused.
type DeniedError struct {
	Op      Op
	Subject string
	Chunk   Digest // the first chunk of the request
	Reason  string
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("%s of chunk %s on %s denied: %s", e.Op, e.Chunk, e.Subject, e.Reason)
}

// Has asks which of ds the coordinator's store holds, protocol.MaxHasDigests a request.
func (c *Client) Has(ctx context.Context, ds []Digest) ([]bool, error) {
	out := make([]bool, 0, len(ds))
	for len(ds) > 0 {
		batch := ds[:min(len(ds), protocol.MaxHasDigests)]
		ds = ds[len(batch):]
		m, err := c.request(ctx, OpHas, batch[0], "", protocol.EncodeDigests(batch))
		if err != nil {
			return nil, err
		}
		has, err := protocol.DecodeBitmap(m.Data, len(batch))
		if err != nil {
			return nil, fmt.Errorf("has reply on %s: %w", c.Subject, err)
		}
		out = append(out, has...)
	}
	return out, nil
}

// Put sends chunk d, after checking that data hashes to d.
func (c *Client) Put(ctx context.Context, d Digest, data []byte) error {
	if len(data) > ChunkSize {
		return fmt.Errorf("chunk %s: %d bytes, over %d", d, len(data), ChunkSize)
	}
	if err := Verify(d, data, "a put on "+c.Subject); err != nil {
		return err
	}
	_, err := c.request(ctx, OpPut, d, d.String(), data)
	return err
}

// Get fetches chunk d and checks it against its digest.
func (c *Client) Get(ctx context.Context, d Digest, buf []byte) ([]byte, error) {
	m, err := c.request(ctx, OpGet, d, d.String(), nil)
	if err != nil {
		return nil, err
	}
	if err := Verify(d, m.Data, "the coordinator via "+c.Subject); err != nil {
		return nil, err
	}
	if len(m.Data) <= cap(buf) {
		return append(buf[:0], m.Data...), nil
	}
	return m.Data, nil
}

var opNames = map[Op]string{OpHas: protocol.TypeFilesHas, OpPut: protocol.TypeFilesPut, OpGet: protocol.TypeFilesGet}

// request sends one request until it is answered, retrying what may
// pass, and returns the reply or its refusal as an error.
func (c *Client) request(ctx context.Context, op Op, first Digest, digest string, body []byte) (*nats.Msg, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultClientTimeout
	}
	tries := c.Tries
	if tries <= 0 {
		tries = DefaultClientTries
	}
	typ := opNames[op]
	fail := func(err error) error { return fmt.Errorf("files %s of chunk %s on %s: %w", op, first, c.Subject, err) }
	busy := 0
	for try := 1; ; {
		m := wire.NewMsg(c.Subject, typ, body)
		if c.Job != "" {
			m.Header.Set(protocol.HeaderJob, c.Job)
		}
		if digest != "" {
			m.Header.Set(protocol.HeaderDigest, digest)
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		reply, err := c.Conn.RequestMsgWithContext(rctx, m)
		cancel()
		if ctx.Err() != nil {
			return nil, fail(ctx.Err())
		}
		var pause time.Duration
		switch {
		case err == nil:
			code, rerr := c.refusal(reply, op, first)
			switch code {
			case "":
				return reply, nil
			case protocol.CodeBusy:
				pause = requestBackoff(busy, busyFirst, busyMax)
				busy++
			case protocol.CodeUnavailable:
				err = rerr
			default:
				return nil, fail(rerr)
			}
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoResponders),
			errors.Is(err, nats.ErrReconnectBufExceeded), errors.Is(err, nats.ErrConnectionReconnecting):
		default:
			return nil, fail(err)
		}
		if err != nil {
			if try >= tries {
				return nil, fail(fmt.Errorf("%w (%d tries)", err, try))
			}
			pause = requestBackoff(try-1, retryFirst, retryMax)
			try++
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return nil, fail(ctx.Err())
		}
	}
}

// refusal checks a reply and returns its refusal: its code ("" for
// none) and the error a caller gets, ErrNotFound or a *DeniedError in
// its chain for those codes.
func (c *Client) refusal(m *nats.Msg, op Op, first Digest) (protocol.ErrorCode, error) {
	if err := wire.Check(m); err != nil {
		return protocol.CodeVersion, err
	}
	if err := wire.Expect(m, protocol.TypeFilesReply); err != nil {
		return protocol.CodeBadRequest, err
	}
	err := protocol.FileReplyError(m.Header.Get(protocol.HeaderCode), m.Header.Get(protocol.HeaderError))
	if err == nil {
		return "", nil
	}
	code := protocol.CodeOf(err)
	switch code {
	case protocol.CodeNotFound:
		return code, ErrNotFound
	case protocol.CodeDenied:
		return code, &DeniedError{Op: op, Subject: c.Subject, Chunk: first, Reason: err.Error()}
	}
	return code, err
}

// requestBackoff returns the pause before a retry after n earlier ones.
func requestBackoff(n int, first, most time.Duration) time.Duration {
	d := first << min(n, 16)
	d = min(d, most)
	return d/2 + rand.N(d/2+1)
}
