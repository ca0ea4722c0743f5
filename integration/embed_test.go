package integration

// The embedding recipes of README.md and docs/engine.md ("Use the module
// before it is published"), run as written: a new module outside this
// checkout builds and runs a program on pkg/engine, pkg/nodeset and
// pkg/workers, once through a go.work workspace and once through a replace
// directive. Both run offline (GOPROXY=off): the module cache already
// holds this module's dependencies, since building the tests fetched them.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// embedProgram is the main.go of the recipes.
const embedProgram = `package main

import (
	"fmt"
	"log"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	_ "github.com/fleetsh/fleetsh/pkg/workers" // registers exec, ssh, openssh, rsh, pdsh
)

func main() {
	task := engine.New()
	// Local commands, so that this runs anywhere; the default is "ssh".
	if err := task.SetDefault(engine.DefaultDistantWorkerName, "exec"); err != nil {
		log.Fatal(err)
	}
	if _, err := task.Run("echo hello from %h | cut -c1-10", engine.Options{
		Nodes: nodeset.MustParse("node[1-3]"),
	}); err != nil {
		log.Fatal(err)
	}
	for out, nodes := range task.IterBuffers() {
		fmt.Printf("%s: %s\n", nodes, out)
	}
}
`

func TestEmbedRecipes(t *testing.T) {
	checkout, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	// The recipes' commands, offline, with none of the caller's module
	// settings (a GOFLAGS=-mod=vendor or a GOWORK would change them).
	env := append(os.Environ(), "GOPROXY=off", "GOFLAGS=", "GOTOOLCHAIN=local", "GOWORK=")
	run := func(t *testing.T, dir string, env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s (in %s): %v\n%s", strings.Join(args, " "), dir, err, out)
		}
		return string(out)
	}
	const want = "node[1-3]: hello from\n"
	readme, err := os.ReadFile(filepath.Join(checkout, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```go\n"+embedProgram+"```\n") {
		t.Error("README.md does not show the program this test runs (embedProgram): update one or the other")
	}

	t.Run("go work", func(t *testing.T) {
		ws := t.TempDir()
		prog := filepath.Join(ws, "myprog")
		if err := os.Mkdir(prog, 0o755); err != nil {
			t.Fatal(err)
		}
		run(t, prog, env, "go", "mod", "init", "example.com/myprog")
		if err := os.WriteFile(filepath.Join(prog, "main.go"), []byte(embedProgram), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, ws, env, "go", "work", "init", "./myprog", checkout)
		if got := run(t, prog, env, "go", "run", "."); got != want {
			t.Errorf("go run . = %q, want %q", got, want)
		}
	})

	t.Run("replace", func(t *testing.T) {
		prog := t.TempDir()
		run(t, prog, env, "go", "mod", "init", "example.com/myprog")
		run(t, prog, env, "go", "mod", "edit", "-require", "github.com/fleetsh/fleetsh@v0.0.0",
			"-replace", "github.com/fleetsh/fleetsh="+checkout)
		if err := os.WriteFile(filepath.Join(prog, "main.go"), []byte(embedProgram), 0o644); err != nil {
			t.Fatal(err)
		}
		// Online, "go mod tidy" adds the requirements and their sums.
		// Offline it cannot (it wants the modules that only the
		// dependencies' own tests import), so the build adds them
		// (-mod=mod), taking the sums from the module cache (GOSUMDB=off:
		// the cache was verified when it was filled).
		offline := append(env, "GOFLAGS=-mod=mod", "GOSUMDB=off", "GOWORK=off")
		if got := run(t, prog, offline, "go", "run", "."); got != want {
			t.Errorf("go run . = %q, want %q", got, want)
		}
		gomod, err := os.ReadFile(filepath.Join(prog, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(gomod), "replace github.com/fleetsh/fleetsh => "+checkout) {
			t.Errorf("go.mod lost the replace directive:\n%s", gomod)
		}
	})
}
