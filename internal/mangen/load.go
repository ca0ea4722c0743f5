package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/fleetsh/fleetsh/internal/clispec"
)

// commands are the commands with a man page, in the order of their
// build; completed are those that also get shell completion.
var (
	commands  = []string{"csub", "nodeset", "clubak", "coordinator", "agent"}
	completed = []string{"csub", "nodeset", "clubak"}
)

// moduleRoot is the directory of the go.mod of the working directory's
// module.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not in a Go module")
	}
	return filepath.Dir(mod), nil
}

// buildCommands builds the commands of the module at root into bin.
func buildCommands(root, bin string) error {
	args := []string{"build", "-o", bin + string(filepath.Separator)}
	for _, c := range commands {
		args = append(args, "./cmd/"+c)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}

// loadSpecs builds the commands into bin and returns their descriptions.
func loadSpecs(root, bin string) ([]clispec.Spec, error) {
	if err := buildCommands(root, bin); err != nil {
		return nil, err
	}
	var specs []clispec.Spec
	for _, c := range commands {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(filepath.Join(bin, c), clispec.Flag)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.Env = append(os.Environ(), "COLUMNS=80")
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("%s %s: %w: %s", c, clispec.Flag, err, stderr.Bytes())
		}
		s, err := clispec.Decode(stdout.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", c, clispec.Flag, err)
		}
		specs = append(specs, s)
	}
	return specs, nil
}
