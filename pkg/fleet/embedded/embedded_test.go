package embedded

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
	_ "github.com/fleetsh/fleetsh/pkg/workers"
)

func start(tb testing.TB) (*Fleet, *client.Client) {
	tb.Helper()
	f, err := Start(context.Background(), Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := f.Close(); err != nil {
			tb.Error(err)
		}
	})
	return f, &client.Client{Conn: f.Conn(), Subjects: f.Subjects()}
}

// runJob submits spec and returns each node's lines and final record.
func runJob(tb testing.TB, c *client.Client, spec protocol.JobSpec) (map[string][]string, map[string]protocol.Event) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := c.Submit(ctx, spec)
	if err != nil {
		tb.Fatal(err)
	}
	defer job.Close()
	lines := map[string][]string{}
	ends := map[string]protocol.Event{}
	if err := testutil.ReadJob(ctx, job, func(node string, r protocol.Event) {
		switch r.Kind {
		case protocol.KindStdout:
			lines[node] = append(lines[node], string(r.Data))
		case protocol.KindEnd:
			if _, dup := ends[node]; dup {
				tb.Errorf("%s ended twice", node)
			}
			ends[node] = r
		}
	}); err != nil {
		tb.Fatal(err)
	}
	return lines, ends
}

func TestEmbeddedRunsAJob(t *testing.T) {
	_, c := start(t)
	lines, ends := runJob(t, c, protocol.JobSpec{Nodes: "n[1-50]", Worker: "exec",
		Command: `echo hello %h; [ %h = n7 ] && exit 7; true`})
	if len(ends) != 50 {
		t.Fatalf("%d ends", len(ends))
	}
	for n, r := range ends {
		want := 0
		if n == "n7" {
			want = 7
		}
		if r.State != protocol.StateExited || r.Code != want {
			t.Errorf("%s: %s %d", n, r.State, r.Code)
		}
		if got := lines[n]; len(got) != 1 || got[0] != "hello "+n {
			t.Errorf("%s: lines %q", n, got)
		}
	}
}

func TestEmbeddedCloseStopsARunningJob(t *testing.T) {
	f, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{Conn: f.Conn(), Subjects: f.Subjects()}
	job, err := c.Submit(context.Background(), protocol.JobSpec{Nodes: "n[1-3]", Worker: "exec", Command: "sleep 60"})
	if err != nil {
		t.Fatal(err)
	}
	_ = job
	time.Sleep(200 * time.Millisecond)
	began := time.Now()
	_ = f.Close()
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
}

// BenchmarkJobTrue1 is the end-to-end time of a one-node `true` job
// through the in-process fleet (submit, shard, agent engine, batches,
// merge, stream); BenchmarkEngineTrue1 is the same command on the engine
// alone. The difference is what the fleet adds.
//
//	go test -run '^$' -bench True1 ./pkg/fleet/embedded
func BenchmarkJobTrue1(b *testing.B) {
	_, c := start(b)
	for b.Loop() {
		_, ends := runJob(b, c, protocol.JobSpec{Nodes: "n1", Worker: "exec", Command: "true"})
		if len(ends) != 1 {
			b.Fatal("no end")
		}
	}
}

func BenchmarkEngineTrue1(b *testing.B) {
	d, err := engine.NewDriver("exec")
	if err != nil {
		b.Fatal(err)
	}
	ns, _ := nodeset.Parse("n1")
	for b.Loop() {
		t := engine.New()
		if _, err := t.Run("true", engine.Options{Nodes: ns, Driver: d}); err != nil {
			b.Fatal(err)
		}
	}
}

// The coordinator's refusals carry codes the client maps to errors: a
// job it does not know is client.ErrUnknownJob for Status, Cancel and
// Attach alike; a refused submit says why in RefusedError.Code.
func TestRefusalsCarryCodes(t *testing.T) {
	f, err := Start(context.Background(), Options{MaxJobNodes: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	c := &client.Client{Conn: f.Conn(), Subjects: f.Subjects(), MaxNodes: 100}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Status(ctx, "nosuchjob"); !errors.Is(err, client.ErrUnknownJob) {
		t.Errorf("Status: %v", err)
	}
	if err := c.Cancel(ctx, "nosuchjob"); !errors.Is(err, client.ErrUnknownJob) {
		t.Errorf("Cancel: %v", err)
	}
	if _, err := c.Attach(ctx, "nosuchjob"); !errors.Is(err, client.ErrUnknownJob) {
		t.Errorf("Attach: %v", err)
	}
	var re *client.RefusedError
	if _, err := c.Submit(ctx, protocol.JobSpec{Nodes: "n[1-10]", Worker: "exec", Command: "true"}); !errors.As(err, &re) ||
		re.Code != protocol.CodeTooManyNodes {
		t.Errorf("Submit of 10 nodes: %v", err)
	}
	spec := protocol.JobSpec{ID: "once", Nodes: "n1", Worker: "exec", Command: "true"}
	runJob(t, c, spec)
	if _, err := c.Submit(ctx, spec); !errors.As(err, &re) || re.Code != protocol.CodeJobExists {
		t.Errorf("second Submit of job once: %v", err)
	}
}
