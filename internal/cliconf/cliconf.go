// Package cliconf is the command line of the fleet daemons: flags, and a
// YAML config file whose keys are the daemon's long flag names, so a
// config file and a command line say the same things the same way
// (deploy/ has examples). Flags given on the command line win over the
// file.
package cliconf

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxFile bounds a config file: a few flags take a few hundred bytes.
const maxFile = 1 << 20

// Apply sets, from the YAML file at path, every flag of fs that the
// command line did not set. A key names a flag, with '_' or '-' between
// words (tls_cert or tls-cert for --tls-cert); a key that names no flag
// is an error (a typo must not be silently ignored); a list sets a
// repeatable flag once per item.
func Apply(fs *flag.FlagSet, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if len(data) > maxFile {
		return fmt.Errorf("config %s: over %d bytes", path, maxFile)
	}
	return ApplyYAML(fs, path, data)
}

// ApplyYAML is Apply on the file contents data; path names the file in
// errors.
func ApplyYAML(fs *flag.FlagSet, path string, data []byte) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // empty file
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("config %s:%d: want a mapping of flag names to values", path, m.Line)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		name := k.Value
		if fs.Lookup(name) == nil && fs.Lookup(strings.ReplaceAll(name, "_", "-")) != nil {
			name = strings.ReplaceAll(name, "_", "-") // tls_cert for --tls-cert
		}
		if fs.Lookup(name) == nil {
			return fmt.Errorf("config %s:%d: unknown setting %q (settings are the long flag names; see -h)", path, k.Line, name)
		}
		if set[name] {
			continue
		}
		var values []string
		switch v.Kind {
		case yaml.ScalarNode:
			values = []string{v.Value}
		case yaml.SequenceNode:
			for _, item := range v.Content {
				if item.Kind != yaml.ScalarNode {
					return fmt.Errorf("config %s:%d: %s: list items must be plain values", path, item.Line, name)
				}
				values = append(values, item.Value)
			}
		case yaml.MappingNode: // key: {a: b} for key=value flags (info)
			for j := 0; j+1 < len(v.Content); j += 2 {
				values = append(values, v.Content[j].Value+"="+v.Content[j+1].Value)
			}
		default:
			return fmt.Errorf("config %s:%d: %s: unsupported value", path, v.Line, name)
		}
		for _, val := range values {
			if err := fs.Set(name, val); err != nil {
				return fmt.Errorf("config %s:%d: %s: %w", path, v.Line, name, err)
			}
		}
	}
	return nil
}

// Strings is a repeatable string flag.
type Strings []string

// String implements flag.Value.
func (s *Strings) String() string { return fmt.Sprint([]string(*s)) }

// Set implements flag.Value.
func (s *Strings) Set(v string) error { *s = append(*s, v); return nil }
