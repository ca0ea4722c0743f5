// Command mangen generates the man pages (man/man1/*.1) and the bash and
// zsh completion (completions/) of fleetsh's commands from their own
// declarations: it builds the five commands, asks each for its
// description (the hidden argument internal/clispec.Flag, which prints
// the options as the command's parser declares them, its subcommands,
// environment, files and exit statuses) and renders them. Run it from
// anywhere in the module after changing an option:
//
//	go generate ./internal/mangen
//
// TestGeneratedUpToDate fails when the committed files differ from what
// it generates.
package main

//go:generate go run .

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	root := flag.String("root", "", "the module's root directory (default: found from the working directory)")
	flag.Parse()
	if err := generate(*root); err != nil {
		fmt.Fprintln(os.Stderr, "mangen:", err)
		os.Exit(1)
	}
}

// generate writes every generated file under root.
func generate(root string) error {
	if root == "" {
		r, err := moduleRoot()
		if err != nil {
			return err
		}
		root = r
	}
	bin, err := os.MkdirTemp("", "mangen")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(bin)
	specs, err := loadSpecs(root, bin)
	if err != nil {
		return err
	}
	files, err := render(specs)
	if err != nil {
		return err
	}
	for name, data := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}
