package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A message published on one server of the cluster reaches a subscriber
// on another, a replicated KV bucket survives the loss of one server, and
// the killed server comes back on its ports and store.
func TestCluster(t *testing.T) {
	c := StartCluster(t, ClusterOptions{})
	sub := c.ConnectTo(t, 0, "sub")
	pub := c.ConnectTo(t, 2, "pub")
	s, err := sub.SubscribeSync("x")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	// Interest reaches the other servers through the routes shortly
	// after the flush: publish until it arrives.
	var m *nats.Msg
	for m == nil {
		if err := pub.Publish("x", []byte("hi")); err != nil {
			t.Fatal(err)
		}
		m, _ = s.NextMsg(100 * time.Millisecond)
	}
	if string(m.Data) != "hi" {
		t.Fatalf("got %q", m.Data)
	}

	js, err := jetstream.New(c.Connect(t, "js"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b", Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	// A replicated bucket exists before its stream has elected a leader,
	// and a put meanwhile finds nobody to store it ("no response from
	// stream", CI once): wait for the leader, as the product's store
	// retries.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, err := js.Stream(ctx, "KV_b")
		if err == nil {
			info, err := st.Info(ctx)
			if err == nil && info.Cluster != nil && info.Cluster.Leader != "" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bucket's stream elected no leader: %v", err)
		}
	}
	if _, err := kv.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	c.Kill(1)
	// Two of three servers keep the quorum: the bucket still answers.
	var e jetstream.KeyValueEntry
	for deadline := time.Now().Add(30 * time.Second); ; {
		if e, err = kv.Get(ctx, "k"); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || string(e.Value()) != "v" {
		t.Fatalf("get after losing a server: %v", err)
	}
	c.Restart(1)
	if c.Server(1) == nil || c.Server(1).Addr() == nil {
		t.Fatal("server 1 not back")
	}
}
