package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/testreq"
)

// requireReference skips t unless the reference program path (Debian's
// ClusterShell 1.9) is installed; under FLEETSH_REQUIRE_CLUSTERSHELL=1 it
// fails t instead. version, when not empty, is the start of what
// "path --version" must print ("clush 1.9").
func requireReference(t *testing.T, path, version string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		testreq.Skip(t, testreq.ClusterShell, fmt.Sprintf("reference %s not installed (Debian's clustershell package)", path))
	}
	if version == "" {
		return
	}
	if out, err := exec.Command(path, "--version").Output(); err != nil || !strings.HasPrefix(string(out), version) {
		testreq.Skip(t, testreq.ClusterShell, fmt.Sprintf("%s --version: %q, %v: not %s", path, out, err, version))
	}
}
