package ssh

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fleetsh/fleetsh/pkg/engine"
)

// Stopping a command on the node.
//
// Without a pseudo-terminal, sshd does not end a session's processes when
// its channel or connection closes, and the "signal" request (OpenSSH 7.9
// and later) reaches only the session's first process, the user's shell:
// "sleep 30; echo never" loses its shell and the sleep runs on, re-parented
// to init. ssh and clush leave such commands running.
//
// sshd starts every session's shell with setsid(2), so the shell leads a
// process group and a session that hold everything the command started
// (except what left them: setsid, daemons). At a command timeout or an
// abort, the driver opens a second session on the same connection and runs
// killScript there. Its parent is the same sshd process as the command's
// shell; the script kills the sessions of the other children of that
// process that lead their own session and group, then waits until none of
// their processes is left (zombies aside), and prints the outcome. The
// command's own channel stays open meanwhile, so that sshd still knows the
// command's session. Only then does the driver close the connection.
//
// The script is POSIX sh, run with "exec /bin/sh -c '...'" through the
// user's login shell: one line, without single quotes, "!" or newlines, so
// that sh, bash, zsh, csh, tcsh and fish all pass it to /bin/sh unchanged.
// It reads processes from /proc (Linux; sshd's children from the kernel's
// list of the children of its main thread, which for a single-threaded
// sshd or Dropbear is all of them), or else from "ps -A -o
// pid=,ppid=,pgid=,stat=" (without session ids: it then kills by group
// only, and cannot check SSH_CONNECTION, so it trusts that sshd's children
// are this connection's sessions, as they are with OpenSSH and Dropbear).
// A node where neither works, or where the second session cannot
// be opened (the connection is gone, MaxSessions, a restricted shell or a
// ForceCommand), gets the old behaviour: a signal to the shell and the
// connection closed, and the reason says that the command may still run.

// killScript is the script described above. Its output lines start with
// "fleetsh-kill ": "killed G" or "alive G" for each process group G it
// found, "none" when the command's session had no process left, "notool"
// when it could list no process.
const killScript = `p=$PPID; me=$$; ` +
	`if [ -r /proc/self/stat ]; then src=proc; elif ps -A -o pid= -o ppid= -o pgid= -o stat= >/dev/null 2>&1; then src=ps; else echo fleetsh-kill notool; exit 0; fi; ` +
	// stat1 prints "pid ppid pgid sid state" of one process, procs of all.
	`stat1() { { read -r l < /proc/$1/stat; } 2>/dev/null || return 1; set -- $1 ${l##*) }; echo "$1 $3 $4 $5 $2"; }; ` +
	`procs() { if [ $src = proc ]; then for f in /proc/[0-9]*; do stat1 ${f#/proc/}; done; ` +
	`else ps -A -o pid= -o ppid= -o pgid= -o stat= 2>/dev/null | while read -r a b c s; do echo "$a $b $c $c $s"; done; fi; }; ` +
	// kids: the children of sshd, from the kernel's list when it has one.
	`kids() { if [ $src = proc ] && [ -r /proc/$p/task/$p/children ]; then k=; { read -r k < /proc/$p/task/$p/children; } 2>/dev/null; for c in $k; do stat1 $c; done; ` +
	`else procs | while read -r a b c d s; do if [ "$b" = "$p" ]; then echo "$a $b $c $d $s"; fi; done; fi; }; ` +
	// ours: the process's environment names this connection (Linux; a
	// server whose sessions of all connections share one parent).
	`ours() { [ $src = proc ] || return 0; [ -n "$SSH_CONNECTION" ] || return 1; tr "\000" "\n" < /proc/$1/environ 2>/dev/null | grep -qx "SSH_CONNECTION=$SSH_CONNECTION"; }; ` +
	// settled: every other child of sshd leads its session (a child that
	// has not called setsid yet is still in sshd's group: wait for it).
	`settled() { kids | ( r=0; while read -r a b c d s; do if [ "$a" = "$me" ]; then continue; fi; if [ "$a" = "$c" ] && [ "$a" = "$d" ]; then continue; fi; r=1; done; exit $r ); }; ` +
	`w=0; until settled || [ $w -ge 5 ]; do w=$((w+1)); sleep 0.1 2>/dev/null || sleep 1; done; ` +
	// The sessions to end: sshd's other children that lead their session.
	`gs=$(kids | while read -r a b c d s; do if [ "$a" = "$c" ] && [ "$a" = "$d" ]; then if [ "$a" = "$me" ]; then :; elif ours $a; then echo $a; fi; fi; done); ` +
	`if [ -z "$gs" ]; then echo fleetsh-kill none; exit 0; fi; ` +
	// Kill the groups, then whatever of their groups and sessions is
	// left, until nothing is (zombies aside).
	`n=0; while :; do for g in $gs; do kill -9 -$g 2>/dev/null; done; ` +
	`left=$(procs | while read -r a b c d s; do case $s in Z*) continue;; esac; for g in $gs; do if [ "$c" = "$g" ] || [ "$d" = "$g" ]; then kill -9 $a 2>/dev/null; echo $g; fi; done; done); ` +
	`[ -z "$left" ] && break; n=$((n+1)); [ $n -lt 50 ] || break; sleep 0.1 2>/dev/null || sleep 1; done; ` +
	`left=" $(echo $left) "; for g in $gs; do case $left in *" $g "*) echo fleetsh-kill alive $g;; *) echo fleetsh-kill killed $g;; esac; done`

// noSession is the detail of a stop whose script found no session of
// the command under sshd.
const noSession = "its session was not found among sshd's processes"

// killTimeout bounds the kill session: opening it, the script and its
// wait for the processes to end.
const killTimeout = 5 * time.Second

// stopRemote ends the command of the connection's session on the node
// (see above) and reports what is known of it. It leaves the command's
// session and client open.
func (r *run) stopRemote(client *ssh.Client) *engine.RemoteStop {
	unsure := func(format string, args ...any) *engine.RemoteStop {
		return &engine.RemoteStop{Detail: fmt.Sprintf(format, args...)}
	}
	// A connection that went dead would hold NewSession or the script
	// until TCP gives up: past killTimeout, close it (the caller closes
	// it next anyway).
	timer := time.AfterFunc(killTimeout, func() { _ = client.Close() })
	defer timer.Stop()
	sess, err := client.NewSession()
	if err != nil {
		if !timer.Stop() {
			return unsure("no answer to a session request within %v", killTimeout)
		}
		return unsure("no session to kill it: %v", err)
	}
	defer sess.Close()
	// The outcome is a few short lines; a chatty login script must not
	// make the buffer grow without bound.
	out := &cappedBuffer{max: 64 << 10}
	sess.Stdout = out
	err = sess.Run("exec /bin/sh -c '" + killScript + "'")
	if !timer.Stop() {
		return unsure("the kill script did not finish within %v", killTimeout)
	}
	var killed, alive []string
	none, notool := false, false
	sc := bufio.NewScanner(&out.buf)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "fleetsh-kill" {
			continue // a login script's output
		}
		switch {
		case f[1] == "killed" && len(f) == 3:
			killed = append(killed, f[2])
		case f[1] == "alive" && len(f) == 3:
			alive = append(alive, f[2])
		case f[1] == "none":
			none = true
		case f[1] == "notool":
			notool = true
		}
	}
	switch {
	case len(alive) > 0:
		return unsure("processes of group %s survived SIGKILL", strings.Join(alive, ","))
	case len(killed) > 0:
		return &engine.RemoteStop{Gone: true, Killed: true, Detail: "process group " + strings.Join(killed, ",")}
	case none:
		// Confirmed only if the command's channel ends too (see command):
		// a server that does not run sessions as children of one process
		// per connection shows no session to the script either.
		return &engine.RemoteStop{Detail: noSession}
	case notool:
		return unsure("neither /proc nor ps on the node to find it")
	}
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return unsure("the kill script printed no outcome")
	case !errors.As(err, &ee):
		return unsure("kill script: %v", err)
	}
	return unsure("the kill script could not run (exit status %d)", ee.ExitStatus())
}

// cappedBuffer keeps the first max bytes written to it and drops the rest.
type cappedBuffer struct {
	buf bytes.Buffer
	max int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
