package wire

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

func TestRequestChecksVersions(t *testing.T) {
	srv := natstest.Start(t, 0)
	nc := srv.Connect(t, "t")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	var reply protocol.JobsReply
	err := Request(ctx, nc, "nobody", protocol.TypeJobsRequest, protocol.JobsRequest{}, &reply)
	if !errors.Is(err, ErrNoCoordinator) {
		t.Errorf("no responder: %v", err)
	}

	// A responder in another version: its reply is refused, naming it.
	_, _ = nc.Subscribe("future", func(m *nats.Msg) {
		r := nats.NewMsg(m.Reply)
		r.Header.Set(protocol.HeaderVersion, "99")
		r.Data = []byte(`{}`)
		_ = m.RespondMsg(r)
	})
	err = Request(ctx, nc, "future", protocol.TypeJobsRequest, protocol.JobsRequest{}, &reply)
	var ve *protocol.VersionError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "version 99") {
		t.Errorf("future reply: %v", err)
	}

	// A well-behaved responder: headers set, body decoded.
	_, _ = nc.Subscribe("echo", func(m *nats.Msg) {
		if Check(m) != nil || Type(m) != protocol.TypeJobsRequest {
			t.Errorf("request headers %v", m.Header)
		}
		_ = Respond(m, protocol.TypeJobsReply, protocol.JobsReply{Error: "fine"})
	})
	if err := Request(ctx, nc, "echo", protocol.TypeJobsRequest, protocol.JobsRequest{}, &reply); err != nil || reply.Error != "fine" {
		t.Errorf("echo: %v %+v", err, reply)
	}
}
