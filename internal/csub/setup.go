package csub

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/fleetsh/fleetsh/internal/pyshlex"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/workers/exec"
	"github.com/fleetsh/fleetsh/pkg/workers/pdsh"
	"github.com/fleetsh/fleetsh/pkg/workers/ssh"
)

// The rest of clush's main() between the node set and the run, in its
// order: clush.conf's fd_max, standard input, fanout, -m and its
// command_prefix and password_prompt, the info keys, the timeouts, the
// copy arguments and the -d summary line.

// Standard input: clush forwards it to every node, as it comes, when it
// is not a terminal and -n is not given. So does csub: the job is
// submitted at once and csub streams its standard input to it
// (client.Job.SendStdin), at the pace the nodes take it, whatever its
// length (see docs/csub.md for what nodes started late get).

// pyBool is Python's str() of a bool.
func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// configure reads the clush.conf settings clush reads after the node set
// and standard input, in clush's order, into s.
func configure(s *settings, env *environ, d *display) error {
	fdMax, err := s.cfg.getInt("fd_max", true)
	if err != nil {
		return err
	}
	if env.limits != nil {
		setFdLimit(env.limits, fdMax, d) // fdlimit.go
	}
	stdinTTY := isTerminalFile(env.stdin)
	interaction := !s.nostdin && stdinTTY && isTerminalFile(env.stdout)
	s.interaction = interaction
	d.vprint(verbDebug, "User interaction: %s", pyBool(interaction))
	s.forwardStdin = !(stdinTTY || s.nostdin || interaction)
	d.vprint(verbDebug, "Create STDIN worker: %s", pyBool(s.forwardStdin))
	if s.mode != "" {
		d.vprint(verbDebug, "ClushConfig parsed: %s", s.cfg.parsedRepr())
		d.vprint(verbDebug, "Available run modes: %s", strings.Join(s.cfg.modes(), " "))
		d.vprint(verbVerb, "[%s] run mode activated", s.mode)
	}
	mode := s.mode
	if mode == "" {
		mode = "None"
	}
	// clush reads fanout before it activates the mode (a mode's fanout
	// only shows in -d's line); csub applies the mode's.
	fanout, err := s.cfg.getInt("fanout", false)
	if err != nil {
		return err
	}
	s.fanout = max(fanout, 0)
	prefix, err := s.cfg.optional("command_prefix")
	if err != nil {
		return err
	}
	if prefix != "" {
		if s.commandPrefix, err = pyshlex.Split(prefix); err != nil {
			return &pyError{err.Error()}
		}
		d.vprint(verbVerb, "[%s] command prefix: %s", mode, pyListRepr(s.commandPrefix))
	}
	if s.passwordPrompt, err = s.cfg.getBool("password_prompt"); err != nil {
		return err
	}
	if s.passwordPrompt {
		d.vprint(verbVerb, "[%s] password prompt enabled", mode)
	}
	if s.info, err = s.cfg.info(s); err != nil {
		return err
	}
	ct, err := s.cfg.getFloat("connect_timeout")
	if err != nil {
		return err
	}
	cmdt, err := s.cfg.getFloat("command_timeout")
	if err != nil {
		return err
	}
	s.connectTimeout, s.commandTimeout = seconds(ct), seconds(cmdt)
	s.maxrc, s.maxrcErr = s.cfg.getBool("maxrc")
	return nil
}

// debugLine is clush's -d summary of the run.
func debugLine(s *settings, d *display, nodes string, op string) {
	ct, _ := s.cfg.getFloat("connect_timeout")
	cmdt, _ := s.cfg.getFloat("command_timeout")
	d.vprint(verbDebug, "%s: nodeset=%s fanout=%d [timeout conn=%.1f cmd=%.1f] %s", progName, nodes, s.fanout, ct, cmdt, op)
}

// commandOp is the -d line's description of a command.
func commandOp(s *settings) string {
	return "command=\"" + strings.Join(s.fullCommand(), " ") + "\""
}

// fullCommand is the command with the mode's command_prefix.
func (s *settings) fullCommand() []string {
	return append(append([]string(nil), s.commandPrefix...), s.command...)
}

// readInput returns what the job streams to the nodes' standard input:
// the password of password_prompt, then csub's own standard input when
// it is forwarded; nil when there is nothing to send.
func readInput(s *settings, env *environ) (io.Reader, error) {
	var in []io.Reader
	if s.passwordPrompt {
		pw, err := askPassword()
		if err != nil {
			return nil, fmt.Errorf("password_prompt: %w", err)
		}
		in = append(in, strings.NewReader(pw+"\n"))
	}
	if s.forwardStdin && env.stdin != nil {
		if s.worker == pdsh.Name {
			// clush binds its stdin to the pdsh worker, which refuses.
			return nil, &pyError{"EngineClientError: writing to stdin is not supported by pdsh worker"}
		}
		in = append(in, env.stdin)
	}
	switch len(in) {
	case 0:
		return nil, nil
	case 1:
		return in[0], nil
	}
	return io.MultiReader(in...), nil
}

// askPassword is Python's getpass.getpass(): "Password: " on the
// terminal, read without echo.
func askPassword() (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", errors.New("no terminal to ask the password on")
	}
	defer tty.Close()
	fd := int(tty.Fd())
	if st, err := getTermios(fd); err == nil {
		noEcho := *st
		noEcho.Lflag &^= unix.ECHO
		if setTermios(fd, &noEcho) == nil {
			defer setTermios(fd, st) //nolint:errcheck // best effort
		}
	}
	if _, err := io.WriteString(tty, "Password: "); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(tty).ReadString('\n')
	io.WriteString(tty, "\n") //nolint:errcheck // cosmetic
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimSuffix(line, "\n"), nil
}

// nativeSSH tells whether the job runs with the native ssh driver: -R ssh,
// or no -R (the agents' default distant worker is "ssh").
func nativeSSH(s *settings) bool { return s.worker == "" || s.worker == ssh.Name }

// checkJob refuses before submitting what every node would fail with, as
// clush fails once: a bad %-placeholder of the exec worker, and for the
// native ssh driver the OpenSSH options it does not implement (the
// openssh worker, -R openssh, runs ssh itself and takes any).
func checkJob(s *settings, copy bool) error {
	if s.worker == exec.Name && !copy {
		if err := exec.Validate(strings.Join(s.fullCommand(), " ")); err != nil {
			return &pyError{err.Error()}
		}
	}
	if !nativeSSH(s) {
		return nil
	}
	key, scp := "ssh_options", false
	if copy && s.info["scp_options"] != "" {
		key, scp = "scp_options", true
	}
	if err := ssh.CheckOptions(s.info[key], scp); err != nil {
		if errors.Is(err, ssh.ErrUnsupportedOption) {
			return &pyError{err.Error() + " (-R openssh)"}
		}
		return &pyError{err.Error()}
	}
	return nil
}

// jobInfo is the job's info keys: clush.conf's, -O's, and debug for -d
// (the agents' engines log the workers' command lines then).
func jobInfo(s *settings) map[string]string {
	info := map[string]string{}
	for k, v := range s.info {
		info[k] = v
	}
	if s.verbosity >= verbDebug {
		info["debug"] = "true"
	}
	if len(info) == 0 {
		return nil
	}
	return info
}

// outdirFor opens the files of --outdir and --errdir when clush would
// write them: in the direct output mode only (not gathering, no -P).
func outdirFor(d *display, ns *nodeset.NodeSet) (*outdirFiles, error) {
	if d.outdir == "" && d.errdir == "" || d.gather || d.lineMode || d.progress && d.verbosity > verbQuiet {
		return nil, nil
	}
	return openOutdirs(d.outdir, d.errdir, ns.Nodes())
}

// endStatus is the exit status once the jobs are done: errors clush would
// have stopped on during or after the run come last (a -r fold that
// failed, a bad maxrc in clush.conf, which clush reads at the end).
func endStatus(status int, s *settings, d *display, env *environ) int {
	d.o.flush()
	if d.err != nil {
		fmt.Fprintln(env.stderr, errorLine(d.err))
		return 1
	}
	if s.maxrcErr != nil {
		fmt.Fprintln(env.stderr, errorLine(s.maxrcErr))
		return 1
	}
	return status
}
