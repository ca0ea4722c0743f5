package nodesetcli

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

func run1(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	rc := Main(args, strings.NewReader(""), &out, &errb, os.Getenv)
	return out.String(), errb.String(), rc
}

// TestPick checks --pick, whose output is random and so absent from the
// golden files: N distinct members of the set, or all of them.
func TestPick(t *testing.T) {
	all := nodeset.MustParse("node[1-100]")
	for i := 0; i < 20; i++ {
		out, _, rc := run1(t, "-f", "--pick", "3", "node[1-100]")
		picked, err := nodeset.Parse(strings.TrimSpace(out))
		if rc != 0 || err != nil || picked.Len() != 3 || !all.IsSuperset(picked) {
			t.Fatalf("--pick 3: %q rc %d (%v)", out, rc, err)
		}
	}
	if out, _, _ := run1(t, "-c", "--pick", "200", "node[1-10]"); out != "10\n" {
		t.Errorf("--pick beyond the set: %q", out)
	}
	if out, _, _ := run1(t, "-c", "--pick", "0", "node[1-10]"); out != "10\n" {
		t.Errorf("--pick 0 keeps all as ClusterShell: %q", out)
	}
}

// TestDebugLogsUpcalls checks that -d logs group upcalls the way
// ClusterShell's logging does.
func TestDebugLogsUpcalls(t *testing.T) {
	out, errs, rc := run1(t, "--groupsconf", "testdata/golden/conf/groups.conf", "-d", "-f", "@echo:x")
	if rc != 0 || out != "echo-x-[1-2]\n" {
		t.Fatalf("out %q rc %d stderr %q", out, rc, errs)
	}
	for _, want := range []string{
		"DEBUG:ClusterShell.NodeUtils:EXEC 'echo \"echo-x-[1-2]\"'",
		"DEBUG:ClusterShell.NodeUtils:READ 'echo-x-[1-2]'",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr %q lacks %q", errs, want)
		}
	}
	if _, errs, _ := run1(t, "--groupsconf", "testdata/golden/conf/groups.conf", "-f", "@echo:x"); errs != "" {
		t.Errorf("without -d: stderr %q", errs)
	}
}
