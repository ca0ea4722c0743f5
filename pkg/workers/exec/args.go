package exec

import (
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/fleetsh/fleetsh/internal/pyshlex"
	"github.com/fleetsh/fleetsh/pkg/engine"
)

// Errors of SplitArgs, with Python's shlex messages.
var (
	ErrNoClosingQuotation = pyshlex.ErrNoClosingQuotation
	ErrNoEscapedChar      = pyshlex.ErrNoEscapedChar
)

// SplitArgs is Python's shlex.split(s), which ClusterShell applies to
// ssh_path, ssh_options and their rsh, scp, rcp and pdsh siblings.
func SplitArgs(s string) ([]string, error) { return pyshlex.Split(s) }

// ExpandUser is Python's os.path.expanduser: a leading "~" or "~/" becomes
// $HOME (or the current user's home directory when HOME is unset) and
// "~name" the home directory of user name. Paths it cannot expand are
// returned unchanged, as Python does. ClusterShell applies it to every word
// of ssh_path and ssh_options so that "-i ~/.ssh/id_cluster" works.
func ExpandUser(p string) string {
	if !strings.HasPrefix(p, "~") {
		return p
	}
	i := strings.IndexByte(p, '/')
	if i < 0 {
		i = len(p)
	}
	var home string
	if i == 1 {
		if h, ok := os.LookupEnv("HOME"); ok {
			home = h
		} else if u, err := user.Current(); err == nil {
			home = u.HomeDir
		} else {
			return p
		}
	} else {
		u, err := user.Lookup(p[1:i])
		if err != nil {
			return p
		}
		home = u.HomeDir
	}
	// Python strips a trailing '/' from home before appending the rest
	// ("~/x" with HOME=/ is "/x"), and turns an empty result into "/".
	if s := strings.TrimRight(home, "/") + p[i:]; s != "" {
		return s
	}
	return "/"
}

// SplitInfoArgs reads info key with InfoString, splits it with SplitArgs
// and, when expand is set, applies ExpandUser to every word: ClusterShell's
// "[os.path.expanduser(w) for w in shlex.split(task.info(key))]". An unset
// or empty key gives no words.
func SplitInfoArgs(info func(string) (any, bool), key string, expand bool) ([]string, error) {
	s := InfoString(info, key)
	if s == "" {
		return nil, nil
	}
	words, err := SplitArgs(s)
	if err != nil {
		return nil, fmt.Errorf("info key %s: %w", key, err)
	}
	if expand {
		for i, w := range words {
			words[i] = ExpandUser(w)
		}
	}
	return words, nil
}

// InfoProgram returns the program and arguments a *_path info key names
// (ssh_path, rcp_path, pdsh_path...): the key's value, or def when it is
// unset or empty, split with SplitArgs and with ExpandUser applied to
// every word, as ClusterShell's "[os.path.expanduser(w) for w in
// shlex.split(task.info(key) or def)]". No words is an error.
func InfoProgram(info func(string) (any, bool), key, def string) ([]string, error) {
	path := InfoString(info, key)
	if path == "" {
		path = def
	}
	words, err := SplitArgs(path)
	if err != nil {
		return nil, fmt.Errorf("info key %s: %w", key, err)
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("info key %s: empty command", key)
	}
	for i, w := range words {
		words[i] = ExpandUser(w)
	}
	return words, nil
}

// InfoKeyOr returns key when info sets it to a non-empty value, fallback
// otherwise: ClusterShell's "task.info(key) or task.info(fallback)", as
// for scp_options, which fall back to ssh_options.
func InfoKeyOr(info func(string) (any, bool), key, fallback string) string {
	if InfoString(info, key) != "" {
		return key
	}
	return fallback
}

// InfoString returns info key as a string: "" when info is nil, the key is
// unset or its value is nil; a string as it is; anything else formatted
// with fmt.Sprint. ClusterShell tests these keys for truth ("value or
// default"), so "" and unset mean the same.
func InfoString(info func(string) (any, bool), key string) string {
	if info == nil {
		return ""
	}
	v, ok := info(key)
	if !ok || v == nil {
		return ""
	}
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}

// Seconds is ClusterShell's "%d" % timeout for connect_timeout and
// command_timeout: whole seconds, truncated, except that a positive
// timeout under one second is 1, not 0 (OpenSSH and pdsh read 0 as "no
// timeout", the opposite of what was asked).
func Seconds(d time.Duration) int {
	s := d.Seconds()
	if s <= 0 {
		return 0
	}
	if s < 1 {
		return 1
	}
	return int(s)
}

// DebugArgs sends the command line a driver is about to run to debug,
// when set, named as ClusterShell's clients name themselves in debug
// output (cmdClient for a command, copyClient for a copy, e.g.
// "SSHCLIENT" and "SCPCLIENT").
func DebugArgs(debug func(string), copy bool, cmdClient, copyClient string, args []string) {
	if debug == nil {
		return
	}
	client := cmdClient
	if copy {
		client = copyClient
	}
	debug(client + ": " + strings.Join(args, " "))
}

// CommandLine is what a driver that runs one program per node (openssh,
// rsh) does before it starts it: it refuses a node name that would reach
// the program as an option or shell syntax (ValidHostname), builds the
// command line with args and sends it to job.Debug (DebugArgs). An error
// is the job's, for LocalError.
func CommandLine(job *engine.Job, args func(*engine.Job) ([]string, error), cmdClient, copyClient string) ([]string, error) {
	if err := ValidHostname(job.Node); err != nil {
		return nil, err
	}
	argv, err := args(job)
	if err != nil {
		return nil, err
	}
	DebugArgs(job.Debug, job.Copy != nil, cmdClient, copyClient, argv)
	return argv, nil
}
