package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// stdinTry is how long SendStdin waits for the coordinator to take a
// chunk before it sends it again: the coordinator answers when it has
// room, which may take longer than this (slow nodes).
const stdinTry = 2 * time.Second

// ErrStdinDone is returned by SendStdin when the job takes no more
// standard input: every node ended, or the job was cancelled.
var ErrStdinDone = errors.New("the job takes no more standard input")

// SendStdin streams r to the standard input of every node of the job,
// which must have been submitted with JobSpec.Stdin set: it sends what
// each read returns as it comes (in chunks of at most
// protocol.StdinChunkSize), each once the coordinator has room for it,
// then the end of the stream at r's EOF. It returns the bytes the
// coordinator took, and nil at r's EOF, ErrStdinDone when the job
// stopped taking standard input first, or the error of r or of the
// fleet. Call it once per job, from its own goroutine (it blocks in r's
// reads): memory stays bounded whatever r's length.
func (j *Job) SendStdin(ctx context.Context, r io.Reader) (int64, error) {
	subject := j.c.Subjects.Stdin(j.c.user(), j.spec.ID)
	buf := make([]byte, protocol.StdinChunkSize)
	var sent int64
	for seq := uint64(1); ; seq++ {
		n, rerr := io.ReadAtLeast(r, buf, 1)
		if rerr == io.ErrUnexpectedEOF {
			rerr = io.EOF
		}
		if rerr != nil && rerr != io.EOF {
			// Still end the stream, so that the commands are not left
			// waiting for the rest.
			_, _ = wire.SendStdin(ctx, j.c.Conn, subject, &protocol.StdinChunk{Job: j.spec.ID, Seq: seq, EOF: true}, stdinTry, nil)
			return sent, fmt.Errorf("job %s: standard input: %w", j.spec.ID, rerr)
		}
		c := protocol.StdinChunk{Job: j.spec.ID, Seq: seq, EOF: rerr == io.EOF, Data: buf[:n]}
		ack, err := wire.SendStdin(ctx, j.c.Conn, subject, &c, stdinTry, nil)
		if err != nil {
			if errors.Is(err, wire.ErrNoCoordinator) {
				return sent, &UnreachableError{URL: j.c.url(), Subject: subject, Err: wire.ErrNoCoordinator}
			}
			return sent, fmt.Errorf("job %s: %w", j.spec.ID, err)
		}
		if ack.Done {
			return sent, ErrStdinDone
		}
		sent += int64(n)
		if c.EOF {
			return sent, nil
		}
	}
}
