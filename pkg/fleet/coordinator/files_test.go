package coordinator

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/fleet/files"
	"github.com/fleetsh/fleetsh/pkg/fleet/policy"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// pushed stores a one-file tree with content in store and returns it and
// the digest of its one chunk.
func pushed(t *testing.T, store files.ChunkStore, content string) (protocol.TreeRef, protocol.Digest) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	ref, _, err := files.Push(context.Background(), p, store, files.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ref, files.Sum([]byte(content))
}

// TestAuthorizeFile: who may touch the file store, request by request.
func TestAuthorizeFile(t *testing.T) {
	pol, err := policy.Parse([]byte(`rules:
  - name: ops
    users: [alice, bob]
    nodes: "n[1-10]"
    copy: true
    reverse_copy: true
  - name: run
    users: [carol]
    nodes: "n[1-10]"
    commands: ["*"]
`), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	store := &files.MemStore{}
	c, err := New(natstest.Start(t, 0).Connect(t, "coordinator"), Config{Policy: pol, Files: store, Logger: natstest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	c.ctx = context.Background()
	tree, treeChunk := pushed(t, store, "the pushed tree")
	back, backChunk := pushed(t, store, "a node's copy")
	_, other := pushed(t, store, "someone else's file")

	push := newJob(c, protocol.JobSpec{ID: "push", User: "alice", Copy: &protocol.CopySpec{Source: "f", Dest: "/d", Tree: &tree}}, []string{"n1"})
	push.shards["push/s1/1"] = &shard{agent: "gw1"}
	pull := newJob(c, protocol.JobSpec{ID: "pull", User: "alice", Copy: &protocol.CopySpec{Source: "/f", Dest: "/d", Reverse: true, Collect: true}}, []string{"n1"})
	pull.shards["pull/s1/1"] = &shard{agent: "gw2"}
	pull.emit(protocol.TreeEvent([]uint32{0}, back))
	c.jobs["push"], c.jobs["pull"] = push, pull

	for _, tc := range []struct {
		name string
		r    files.Request
		ok   bool
	}{
		{"a user who may copy uploads", files.Request{Op: files.OpPut, Sender: "alice", Digests: []protocol.Digest{other}}, true},
		{"a user who may not copy uploads", files.Request{Op: files.OpHas, Sender: "carol", Digests: []protocol.Digest{other}}, false},
		{"a read without a job", files.Request{Op: files.OpGet, Sender: "alice", Digests: []protocol.Digest{other}}, false},
		{"an agent without a job", files.Request{Op: files.OpHas, Sender: "gw1", FromAgent: true, Digests: []protocol.Digest{other}}, false},
		{"the push's agent reads its tree", files.Request{Op: files.OpGet, Sender: "gw1", FromAgent: true, Job: "push", Digests: []protocol.Digest{treeChunk}}, true},
		{"the push's agent reads the manifest", files.Request{Op: files.OpGet, Sender: "gw1", FromAgent: true, Job: "push", Digests: tree.Chunks}, true},
		{"the push's agent reads another chunk", files.Request{Op: files.OpGet, Sender: "gw1", FromAgent: true, Job: "push", Digests: []protocol.Digest{other}}, false},
		{"another agent reads the tree", files.Request{Op: files.OpGet, Sender: "gw2", FromAgent: true, Job: "push", Digests: []protocol.Digest{treeChunk}}, false},
		{"the push's agent stores", files.Request{Op: files.OpPut, Sender: "gw1", FromAgent: true, Job: "push", Digests: []protocol.Digest{other}}, false},
		{"the pull's agent stores a copy", files.Request{Op: files.OpPut, Sender: "gw2", FromAgent: true, Job: "pull", Digests: []protocol.Digest{backChunk}}, true},
		{"another agent stores for the pull", files.Request{Op: files.OpHas, Sender: "gw1", FromAgent: true, Job: "pull", Digests: []protocol.Digest{backChunk}}, false},
		{"the pull's agent reads", files.Request{Op: files.OpGet, Sender: "gw2", FromAgent: true, Job: "pull", Digests: []protocol.Digest{backChunk}}, false},
		{"the submitter reads its copies", files.Request{Op: files.OpGet, Sender: "alice", Job: "pull", Digests: []protocol.Digest{backChunk}}, true},
		{"the submitter reads the copies' manifest", files.Request{Op: files.OpGet, Sender: "alice", Job: "pull", Digests: back.Chunks}, true},
		{"the submitter reads another chunk", files.Request{Op: files.OpGet, Sender: "alice", Job: "pull", Digests: []protocol.Digest{other}}, false},
		{"another user reads the copies", files.Request{Op: files.OpGet, Sender: "bob", Job: "pull", Digests: []protocol.Digest{backChunk}}, false},
		{"a user reads a push's tree", files.Request{Op: files.OpGet, Sender: "alice", Job: "push", Digests: []protocol.Digest{treeChunk}}, false},
		{"a job that is not here", files.Request{Op: files.OpGet, Sender: "alice", Job: "nope", Digests: []protocol.Digest{treeChunk}}, false},
	} {
		err := c.authorizeFile(tc.r)
		var ce *protocol.CodedError
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: denied: %v", tc.name, err)
		case !tc.ok && err == nil:
			t.Errorf("%s: allowed", tc.name)
		case !tc.ok && (!errors.As(err, &ce) || ce.Code != protocol.CodeDenied):
			t.Errorf("%s: %v, want a denial", tc.name, err)
		}
	}
}
