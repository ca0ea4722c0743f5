package ssh

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetsh/fleetsh/internal/sshdtest"
)

// TestSSHDCopyOntoItself copies a file and a tree onto their own paths, as
// "csub -w <this host> -c FILE" does when the admin node is among the
// targets (issue 10, item 1): the destination is the source itself. The
// data must survive over SFTP and over the scp protocol, with and without
// -p, as it does with OpenSSH's scp (whose SFTP client and scp sink open
// the destination without O_TRUNC and truncate it after writing).
func TestSSHDCopyOntoItself(t *testing.T) {
	srv := sshdtest.Start(t)
	d := sshdDriver(t, srv)
	for _, proto := range []string{"sftp", "scp"} {
		for _, preserve := range []bool{false, true} {
			name := proto
			if preserve {
				name += "/preserve"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				file := filepath.Join(dir, "file.sh")
				data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: several SFTP writes
				if err := os.WriteFile(file, data, 0o750); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(file, oldTime, oldTime); err != nil {
					t.Fatal(err)
				}
				// No --dest: the destination is the source's directory, as csub -c.
				jr := copyJob("node1", file, dir, false, preserve)
				if proto == "scp" {
					jr.info["scp_options"] = "-O"
				}
				wantCode(t, jr, jr.run(t, d), 0)
				if b, _ := os.ReadFile(file); !bytes.Equal(b, data) {
					t.Fatalf("file holds %d bytes after a copy onto itself, want %d", len(b), len(data))
				}
				if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o750 {
					t.Fatalf("mode %v, want 0750", fi.Mode().Perm())
				}

				// A tree onto itself lands inside itself (dst is an existing
				// directory), once: the copy must not read what it writes.
				tree := filepath.Join(dir, "tree")
				makeTree(t, tree)
				jr = copyJob("node1", tree, tree, false, preserve)
				if proto == "scp" {
					jr.info["scp_options"] = "-O"
				}
				wantCode(t, jr, jr.run(t, d), 0)
				checkTree(t, filepath.Join(tree, "tree"), preserve)
				for p, e := range testTree {
					if e.content == "" {
						continue
					}
					if b, _ := os.ReadFile(filepath.Join(tree, p)); string(b) != e.content {
						t.Errorf("source %s holds %q after the copy, want %q", p, b, e.content)
					}
				}
			})
		}
	}
}

// TestCopyOverLongerFile checks the other side of writing without O_TRUNC:
// a shorter file copied over a longer one, both ways, leaves no tail of
// the old content, and the old file keeps its mode (without -p).
func TestCopyOverLongerFile(t *testing.T) {
	eachProtocol(t, func(t *testing.T, d *Driver) {
		dir := t.TempDir()
		src := filepath.Join(dir, "short")
		if err := os.WriteFile(src, []byte("new\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, reverse := range []bool{false, true} {
			dst := filepath.Join(dir, "long")
			if err := os.WriteFile(dst, bytes.Repeat([]byte("old old old\n"), 1000), 0o600); err != nil {
				t.Fatal(err)
			}
			jr := copyJob("node1", src, dst, reverse, false)
			wantCode(t, jr, jr.run(t, d), 0)
			if b, _ := os.ReadFile(dst); string(b) != "new\n" {
				t.Fatalf("reverse %v: destination holds %d bytes %.20q, want %q", reverse, len(b), b, "new\n")
			}
			if fi, _ := os.Stat(dst); !reverse && fi.Mode().Perm() != 0o600 {
				t.Fatalf("existing file's mode changed to %v", fi.Mode().Perm())
			}
		}
	})
}
