package profenv

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// gzipMagic starts every pprof profile file.
var gzipMagic = []byte{0x1f, 0x8b}

func TestStart(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{CPUEnv: filepath.Join(dir, "cpu.pprof"), MemEnv: filepath.Join(dir, "mem.pprof")}
	stop, err := Start(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	sink := make([][]byte, 0, 100)
	for range 100 {
		sink = append(sink, make([]byte, 4096))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, path := range env {
		data, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(data, gzipMagic) {
			t.Errorf("%s: %d bytes, %v: not a profile", path, len(data), err)
		}
	}
	_ = sink
}

func TestStartNone(t *testing.T) {
	stop, err := Start(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestStartBadPath(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "no", "such", "dir", "p")
	if _, err := Start(func(k string) string { return map[string]string{CPUEnv: bad}[k] }); err == nil {
		t.Error("CPU profile to a missing directory: no error")
	}
	stop, err := Start(func(k string) string { return map[string]string{MemEnv: bad}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err == nil {
		t.Error("heap profile to a missing directory: no error")
	}
}
