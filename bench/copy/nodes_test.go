package copybench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/sshdtest"
	"github.com/fleetsh/fleetsh/internal/sshtest"
)

// sftpServer is OpenSSH's SFTP server program, which the forced command
// runs for the "sftp" subsystem (internal-sftp exists only inside sshd).
const sftpServer = "/usr/lib/openssh/sftp-server"

// dispatch is the forced command of every node's key: the session of
// node $1 runs in that node's directory, so the relative destination
// "copy" is a directory of its own per node on the one sshd. A copy
// session (SFTP, which scp and csub's agents use, or pdcp's remote
// "pdcp -z") marks the node pending; when it ends, a detached job
// checksums what it left under copy/ with cksum (CRC-32 and length),
// appends the lines to sums/<node>.sum, deletes the files and clears the
// mark: 142 copies of 136 MB never sit on the disk together.
const dispatch = `#!/bin/sh
node=$1
dir=%[1]s/nodes/$node
sums=%[1]s/sums
cd "$dir" || exit 1
case $SSH_ORIGINAL_COMMAND in
sftp|internal-sftp|*sftp-server*)
	: >"$sums/$node.pending"
	%[2]s -d "$dir"
	rc=$? ;;
*pdcp*)
	: >"$sums/$node.pending"
	/bin/sh -c "$SSH_ORIGINAL_COMMAND"
	rc=$? ;;
*)
	exec /bin/sh -c "$SSH_ORIGINAL_COMMAND" ;;
esac
setsid /bin/sh -c 'find copy -type f -exec cksum {} + >>"$1.sum"; find copy -mindepth 1 -delete; rm -f "$1.pending"' \
	sh "$sums/$node" </dev/null >/dev/null 2>&1 &
exit $rc
`

// nodes is one OpenSSH sshd on 127.0.0.1 that n node names reach, each
// with a key of its own whose forced command is dispatch.
type nodes struct {
	srv    *sshdtest.Server
	dir    string // nodes/<node>/copy, sums/
	sshCfg string
	names  []string
}

// startNodes starts sshd and writes the keys, authorized_keys, the
// dispatch script and the ssh_config every tool reads.
func startNodes(b *testing.B, n int) *nodes {
	if _, err := os.Stat(sftpServer); err != nil {
		b.Fatalf("%s: %v (apt-get install openssh-sftp-server)", sftpServer, err)
	}
	srv := sshdtest.StartWith(b, sshdtest.Options{MaxStartups: 1024, MaxSessions: 300})
	ns := &nodes{srv: srv, dir: b.TempDir(), names: sshtest.NodeNames("node", n)}
	script := filepath.Join(ns.dir, "dispatch.sh")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(dispatch, ns.dir, sftpServer)), 0o755); err != nil {
		b.Fatal(err)
	}
	var auth, cfg strings.Builder
	for _, d := range []string{"keys", "sums"} {
		if err := os.MkdirAll(filepath.Join(ns.dir, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	for _, name := range ns.names {
		if err := os.MkdirAll(filepath.Join(ns.dir, "nodes", name, "copy"), 0o755); err != nil {
			b.Fatal(err)
		}
		key, err := sshtest.GenerateClientKey()
		if err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(ns.dir, "keys", name)
		if err := key.WriteFiles(path); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&auth, "command=\"%s %s\",no-pty,no-agent-forwarding,no-port-forwarding,no-X11-forwarding %s\n",
			script, name, key.AuthorizedKey())
		fmt.Fprintf(&cfg, "Host %s\n\tIdentityFile %s\n", name, path)
	}
	if err := os.WriteFile(srv.AuthorizedKeys, []byte(auth.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	// sshdtest's block for every name, less its own key (which
	// authorized_keys no longer holds).
	cfg.WriteString(strings.Replace(srv.ClientHostBlock("*"), "\tIdentityFile "+srv.ClientKey+"\n", "", 1))
	ns.sshCfg = filepath.Join(ns.dir, "ssh_config")
	if err := os.WriteFile(ns.sshCfg, []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	// One login checks keys, forced command and directory.
	out, err := exec.Command("ssh", "-F", ns.sshCfg, ns.names[len(ns.names)-1], "pwd").CombinedOutput()
	if want := filepath.Join(ns.dir, "nodes", ns.names[len(ns.names)-1]); err != nil || strings.TrimSpace(string(out)) != want {
		b.Fatalf("ssh %s pwd: %v: %q, want %q\nsshd log:\n%s", ns.names[len(ns.names)-1], err, out, want, srv.Logs())
	}
	return ns
}

// settle waits until no copy session's checksum job is pending, then
// returns how many nodes hold exactly one copy, copy/<base>, whose cksum
// line is want ("CRC SIZE"); it clears the sums for the next tool.
func (ns *nodes) settle(b *testing.B, base, want string) (good int, bad []string) {
	sums := filepath.Join(ns.dir, "sums")
	// A hang catcher: checksumming 142 files takes seconds.
	deadline := time.Now().Add(10 * time.Minute)
	for {
		pending, err := filepath.Glob(filepath.Join(sums, "*.pending"))
		if err != nil {
			b.Fatal(err)
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("checksum jobs still pending after 10 min: %v", pending)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, name := range ns.names {
		path := filepath.Join(sums, name+".sum")
		lines, err := readLines(path)
		switch {
		case err != nil:
			bad = append(bad, name+": no copy")
		case len(lines) != 1 || lines[0] != want+" copy/"+base:
			bad = append(bad, fmt.Sprintf("%s: %q", name, lines))
		default:
			good++
		}
		_ = os.Remove(path)
	}
	return good, bad
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}

// cksum is the "CRC SIZE" cksum prints for path.
func cksum(b *testing.B, path string) string {
	out, err := exec.Command("cksum", path).Output()
	if err != nil {
		b.Fatalf("cksum %s: %v", path, err)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 {
		b.Fatalf("cksum %s: %q", path, out)
	}
	return f[0] + " " + f[1]
}
