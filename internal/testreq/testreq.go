// Package testreq lets a test skip for a missing tool only where skipping
// is allowed: with its FLEETSH_REQUIRE_* variable set to 1 (as .ci/run
// sets them all), the missing tool fails the test instead, so CI can never
// pass by testing less.
package testreq

import (
	"os"
	"os/exec"
	"testing"
)

// The variables that turn a missing tool into a failure.
const (
	// Chromium is Debian's chromium package (/usr/bin/chromium): the
	// headless browser the coordinator's status page is tested in.
	Chromium = "FLEETSH_REQUIRE_CHROMIUM"
	// ClusterShell is Debian's clustershell package (nodeset, clush,
	// clubak and its Python library), the reference of the differential
	// tests.
	ClusterShell = "FLEETSH_REQUIRE_CLUSTERSHELL"
	// Python3 is python3, the reference of the Python-compatibility code
	// (configparser, difflib, shlex, string.Template).
	Python3 = "FLEETSH_REQUIRE_PYTHON3"
	// Systemd is Debian's systemd package (systemd-analyze), which checks
	// the units of deploy/systemd.
	Systemd = "FLEETSH_REQUIRE_SYSTEMD"
	// Tmux is tmux, the terminal of csub's interactive test.
	Tmux = "FLEETSH_REQUIRE_TMUX"
	// Groff is groff (Debian's groff-base package), which checks that the
	// man pages render without warnings.
	Groff = "FLEETSH_REQUIRE_GROFF"
	// Zsh is zsh, which runs the generated zsh completion.
	Zsh = "FLEETSH_REQUIRE_ZSH"
	// Bash is bash, which runs the generated bash completion.
	Bash = "FLEETSH_REQUIRE_BASH"
)

// Skip skips t because of reason (a missing tool), or fails it when the
// variable env is 1.
func Skip(t testing.TB, env, reason string) {
	t.Helper()
	if os.Getenv(env) == "1" {
		t.Fatalf("%s, and %s=1", reason, env)
	}
	t.Skipf("%s (%s=1 makes this a failure)", reason, env)
}

// LookPath returns the path of program, or skips t (fails it when env is
// 1) when it is not installed.
func LookPath(t testing.TB, env, program string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err != nil {
		Skip(t, env, program+" is not installed")
	}
	return path
}
