package main

import (
	"os"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/sdnotify/sdnotifytest"
)

// TestMain keeps the coordinators the tests run off the user's state
// directory (--store's default): each run of the package has its own.
// Started by sdnotifytest.StartMain, the test binary is the coordinator.
func TestMain(m *testing.M) {
	sdnotifytest.RunMain(main)
	dir, err := os.MkdirTemp("", "coordinator-test-state-")
	if err != nil {
		panic(err)
	}
	os.Unsetenv("STATE_DIRECTORY")
	os.Setenv("XDG_STATE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestStoreFlags(t *testing.T) {
	st, id, err := storeConfig("", "", 1, 1<<30)
	if err != nil || !strings.HasSuffix(st.Dir, "/fleetsh") || id == "" {
		t.Fatalf("defaults: %+v %q %v", st, id, err)
	}
	t.Setenv("STATE_DIRECTORY", "/var/lib/fleetsh:/var/lib/other")
	if st, _, _ := storeConfig("", "c.example.org", 1, 1<<30); st.Dir != "/var/lib/fleetsh" {
		t.Errorf("with systemd's STATE_DIRECTORY: %q", st.Dir)
	}
	if _, id, _ := storeConfig("d", "c.example.org", 1, 1<<30); id != "c_example_org" {
		t.Errorf("id of a dotted host name: %q", id)
	}
	for _, bad := range [][2]int64{{0, 1 << 30}, {9, 1 << 30}, {1, 10}} {
		if _, _, err := storeConfig("d", "c", int(bad[0]), bad[1]); err == nil {
			t.Errorf("replicas %d, max bytes %d accepted", bad[0], bad[1])
		}
	}
}
