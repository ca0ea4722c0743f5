package client

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
)

// A fleet is named by what the user gave, and a connection that is down
// (its server died with the coordinator that embedded it) is still named
// by its servers, never as the in-process fleet.
func TestUnreachableNamesTheFleet(t *testing.T) {
	srv := natstest.Start(t, 0)
	nc, err := nats.Connect(srv.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	srv.Stop()
	for nc.IsConnected() {
		time.Sleep(5 * time.Millisecond)
	}
	c := &Client{Conn: nc}
	if u := c.url(); u == inProcess || !strings.Contains(u, "127.0.0.1") {
		t.Errorf("url of a connection that is down: %q", u)
	}
	c.Fleet = "nats://coord:4222"
	if msg := (&UnreachableError{URL: c.url(), Subject: "fleet.jobs", Err: nats.ErrTimeout}).Error(); !strings.HasPrefix(msg, "the fleet coordinator at nats://coord:4222 is unreachable") {
		t.Errorf("message %q", msg)
	}
}

// cutJSON cuts at character boundaries, each piece within the budget
// once JSON-encoded, and the pieces join to the whole.
func TestCutJSON(t *testing.T) {
	s := strings.Repeat("n<1>é,", 1000) + "\u2028x"
	pieces := cutJSON(s, 100)
	if strings.Join(pieces, "") != s {
		t.Fatal("pieces do not join to the whole")
	}
	for _, p := range pieces {
		data, _ := json.Marshal(p)
		if len(data) > 100 || !utf8Valid(p) {
			t.Fatalf("piece %q encodes in %d bytes", p, len(data))
		}
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "?") == s }
