package ssh

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/engine"
)

// BenchmarkRun measures one job end to end: TCP connect, key exchange,
// host key check, public key authentication, a session running "true"
// with /bin/sh, exit status, close. The server runs in the same process,
// so allocs/op counts both sides (and the fork of /bin/sh).
func BenchmarkRun(b *testing.B) {
	_, _, d := startNode1(b)
	job := &engine.Job{Node: "node1", Command: "true", Stdout: io.Discard, Stderr: io.Discard}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if res := d.Run(ctx, job); res.Err != nil || res.ExitCode != 0 {
			b.Fatalf("Run = %d, %v", res.ExitCode, res.Err)
		}
	}
}

// BenchmarkRunParallel is BenchmarkRun with GOMAXPROCS jobs at a time,
// the driver shared as the engine shares it.
func BenchmarkRunParallel(b *testing.B) {
	_, _, d := startNode1(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		job := &engine.Job{Node: "node1", Command: "true", Stdout: io.Discard, Stderr: io.Discard}
		for pb.Next() {
			if res := d.Run(context.Background(), job); res.Err != nil || res.ExitCode != 0 {
				b.Errorf("Run = %d, %v", res.ExitCode, res.Err)
				return
			}
		}
	})
}

// plainWriter is a writer without ReadFrom, as the engine's job writers
// are.
type plainWriter struct{}

func (plainWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkRunJobWriters is BenchmarkRun with writers and a standard
// input like the engine's (no ReadFrom, stdin at EOF at once): what the
// session's copies allocate shows in B/op.
func BenchmarkRunJobWriters(b *testing.B) {
	_, _, d := startNode1(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		job := &engine.Job{Node: "node1", Command: "true", Stdout: plainWriter{}, Stderr: plainWriter{}, Stdin: strings.NewReader("")}
		if res := d.Run(ctx, job); res.Err != nil || res.ExitCode != 0 {
			b.Fatalf("Run = %d, %v", res.ExitCode, res.Err)
		}
	}
}
