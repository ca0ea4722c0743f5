package client

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// WaitDone returns once job id is done, asking the coordinator for its
// brief status (no node sets: a huge job costs nothing) every poll. Each
// request has its own bound (RequestTimeout), so a request lost with a
// coordinator that died holding it is asked again.
//
// While the coordinator is unreachable, or no longer knows a job it
// answered for (another coordinator taking it over, or a restart loading
// its registry), WaitDone tries again, as a job's output stream does, for
// Client.Reconnect from the first unanswered request; past it, or with a
// negative Reconnect, it returns the last error. A job unknown at the
// first answer is an error at once (ErrUnknownJob), as is any other.
func (c *Client) WaitDone(ctx context.Context, id string, poll time.Duration) error {
	var outage time.Time // first unanswered request of the current outage
	known := false
	for {
		st, err := c.Brief(ctx, id)
		switch {
		case err == nil && st.Done:
			return nil
		case err == nil:
			known, outage = true, time.Time{}
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			var ue *UnreachableError
			if !errors.As(err, &ue) && !(known && errors.Is(err, ErrUnknownJob)) {
				return err
			}
			now := time.Now()
			if outage.IsZero() {
				outage = now
			}
			if limit := c.reconnect(); limit < 0 || now.Sub(outage) >= limit {
				return fmt.Errorf("waiting for job %s (no answer for %v): %w", id, now.Sub(outage).Round(time.Second), err)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}
