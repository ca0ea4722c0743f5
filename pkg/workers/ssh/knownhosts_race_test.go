package ssh

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// TestStaleKnownHostsParse: a parse of known_hosts that began before
// another job appended a key (accept-new) and ended after it does not
// make the driver forget the key: no job appends it a second time. The
// interleaving is built step by step (CI saw it once under -race in
// TestSnapshotAcceptNew: two "Permanently added" warnings).
func TestStaleKnownHostsParse(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	const host = "[127.0.0.1]:2222"
	for _, snapshot := range []bool{false, true} {
		d := &Driver{Home: t.TempDir(), Snapshot: snapshot}
		file := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		files := []string{file}
		// Job B begins its parse: the file as it is now, empty.
		stamps := []fileStamp{d.stamp(file)}
		check, rename, ca, err := parseKnownHosts(files, stamps)
		if err != nil {
			t.Fatal(err)
		}
		stale := &knownHostsSet{files: files, stamps: stamps, check: check, rename: rename, ca: ca}
		// Job A reads the set, finds the host unknown and appends its key.
		if _, err := d.knownHosts(files); err != nil {
			t.Fatal(err)
		}
		if added, err := d.addKnownHost(file, host, key, false); err != nil || !added {
			t.Fatalf("snapshot %v: first append: %v, %v", snapshot, added, err)
		}
		// B's parse ends now; then job G reads the set as it is.
		d.keepKnownHosts(strings.Join(files, "\x00"), stale)
		if _, err := d.knownHosts(files); err != nil {
			t.Fatal(err)
		}
		// Job F, whose handshake began with the set before A's append,
		// finds the host unknown too: the key is not appended again.
		if added, err := d.addKnownHost(file, host, key, false); err != nil || added {
			t.Fatalf("snapshot %v: second append: %v, %v", snapshot, added, err)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(data), "\n"); n != 1 {
			t.Fatalf("snapshot %v: known_hosts has %d lines, want 1:\n%s", snapshot, n, data)
		}
	}
}
