package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth/authtest"
	"github.com/fleetsh/fleetsh/pkg/fleet/broker"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// wait bounds what a test waits for something that must come: long, as
// machines are loaded; it only turns a hang into a failure.
const wait = time.Minute

// secureServer starts a TLS-only server on 127.0.0.1 accepting the
// site's identities.
func secureServer(t *testing.T, site *authtest.Site, subj protocol.Subjects) (*server.Server, string) {
	t.Helper()
	srv, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Logger: natstest.Logger(t), Subjects: subj,
		Identities: site.Identities, TLSCert: site.Cert, TLSKey: site.Key, TLSCA: site.CA})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv, "tls://" + broker.Addr(srv)
}

// conn is a connection acting as one identity, whose asynchronous
// errors (the server's permission refusals) the test reads.
type conn struct {
	t    *testing.T
	nc   *nats.Conn
	errs chan error
}

// dial connects to url as the identity id with creds.
func dial(t *testing.T, url string, subj protocol.Subjects, id auth.Identity, creds auth.Credentials) (*conn, error) {
	t.Helper()
	opts, err := auth.ClientOptions(subj, id, "test-"+string(id.Role)+"-"+id.ID, creds)
	if err != nil {
		return nil, err
	}
	c := &conn{t: t, errs: make(chan error, 100)}
	opts = append(opts, nats.PermissionErrOnSubscribe(true), nats.MaxReconnects(0),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case c.errs <- err:
			default:
			}
		}))
	var o nats.Options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	o.Url = url
	nc, err := o.Connect()
	if err != nil {
		return nil, err
	}
	t.Cleanup(nc.Close)
	c.nc = nc
	return c, nil
}

// mustDial is dial, failing the test on error.
func mustDial(t *testing.T, url string, subj protocol.Subjects, id auth.Identity, creds auth.Credentials) *conn {
	t.Helper()
	c, err := dial(t, url, subj, id, creds)
	if err != nil {
		t.Fatalf("connect as %s %s: %v", id.Role, id.ID, err)
	}
	return c
}

// denied waits for the server's refusal of subject.
func (c *conn) denied(what, subject string) {
	c.t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case err := <-c.errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+subject+`"`) {
				return
			}
			c.t.Logf("other async error: %v", err)
		case <-timeout:
			c.t.Fatalf("%s on %s: no permission violation", what, subject)
		}
	}
}

// pubDenied publishes on subject and waits for the server's refusal.
func (c *conn) pubDenied(subject string) {
	c.t.Helper()
	if err := c.nc.Publish(subject, []byte("forged")); err != nil {
		c.t.Fatal(err)
	}
	c.denied("publish", subject)
}

// subDenied subscribes to subject and checks the server refuses it.
func (c *conn) subDenied(subject string) {
	c.t.Helper()
	sub, err := c.nc.SubscribeSync(subject)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := sub.NextMsg(wait); !errors.Is(err, nats.ErrPermissionViolation) {
		c.t.Fatalf("subscribe %s: %v, want a permission violation", subject, err)
	}
	c.denied("subscribe", subject)
}
