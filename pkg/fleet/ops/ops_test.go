package ops

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/metricstest"
	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/daemon"
	"github.com/fleetsh/fleetsh/pkg/fleet/files"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// A listener beyond loopback is refused unless insecure, which is
// logged; /healthz answers at once and /readyz says "starting" until the
// fleet is watched.
func TestListen(t *testing.T) {
	s := New(nil)
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:9470", "[::]:0"} {
		if err := s.Listen(addr, false); !errors.Is(err, ErrNotLoopback) || !strings.Contains(err.Error(), addr) {
			t.Errorf("Listen(%q): %v, want ErrNotLoopback naming the address", addr, err)
		}
	}
	if err := s.Listen(":9470", false); err == nil || !strings.Contains(err.Error(), "give a host") {
		t.Errorf("Listen(:9470): %v", err)
	}
	var logs testutil.SyncBuffer
	s = New(slog.New(slog.NewTextHandler(&logs, nil)))
	// A documentation address no interface has: the check passes, with
	// its warning, and the listen itself fails.
	if err := s.Listen("192.0.2.1:0", true); err == nil || errors.Is(err, ErrNotLoopback) {
		t.Errorf("insecure Listen(192.0.2.1:0): %v", err)
	}
	if !strings.Contains(logs.String(), "INSECURE") {
		t.Errorf("no warning logged: %s", logs.String())
	}

	s = New(nil)
	if err := s.Listen("127.0.0.1:0", false); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if code, body := metricstest.Get(t, s.Addr(), "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := metricstest.Get(t, s.Addr(), "/readyz"); code != http.StatusServiceUnavailable || body != "not ready: starting\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	// Only the process's own metrics before Instrument.
	if m := metricstest.Scrape(t, s.Addr()); m["go_goroutines"] == nil {
		t.Errorf("no go_goroutines")
	}
	s.Handle("GET /{$}", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("page")) }))
	if code, body := metricstest.Get(t, s.Addr(), "/"); code != http.StatusOK || body != "page" {
		t.Errorf("/: %d %q", code, body)
	}
}

// A known job's counts, scraped from a coordinator and an agent each
// with its own listener, on a NATS server with JetStream: 10 nodes, 3
// exit 1, one times out; then copies through the fleet (checkFiles). The
// agent's /readyz says ready, then not once the NATS server is gone.
func TestMetricsAfterJob(t *testing.T) {
	srv := natstest.StartJetStream(t, t.TempDir())
	log := natstest.Logger(t)
	start := func(cfg daemon.Config) (*Server, *daemon.Fleet) {
		s := New(log)
		s.Instrument(&cfg)
		if err := s.Listen("127.0.0.1:0", false); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		f, err := daemon.Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Close() })
		s.Watch(f)
		return s, f
	}
	co, cf := start(daemon.Config{NATS: srv.URL(), Logger: log, Coordinator: &coordinator.Config{ID: "c1"},
		Store: &daemon.StoreConfig{Memory: true, Files: &files.StreamConfig{MaxBytes: 16 << 20}}})
	ag, af := start(daemon.Config{NATS: srv.URL(), Logger: log, Agent: &agent.Config{ID: "gw1-a", Name: "gw1", Local: true,
		Worker: "exec", CoordinatorKeys: []string{cf.Coordinator().PublicKey()}, FileCache: files.CacheConfig{Dir: t.TempDir()}}})
	for len(cf.Coordinator().Agents()) == 0 || !af.Agent().Stats().Registered {
		time.Sleep(10 * time.Millisecond)
	}
	nc, err := cf.Conn("csub")
	if err != nil {
		t.Fatal(err)
	}
	c := &client.Client{Conn: nc}
	run(t, c, protocol.JobSpec{Nodes: "n[1-10]", Worker: "exec", CommandTimeout: time.Second,
		Command: "case %h in n[1-3]) exit 1;; n4) exec sleep 60;; esac"})

	m := metricstest.Scrape(t, co.Addr())
	m.Help(t, "fleetsh_coordinator_")
	m.Check(t, metricstest.OneJob(9, 1, 4)...)
	m.Positive(t, "fleetsh_coordinator_event_batches_total", "fleetsh_coordinator_event_bytes_total", "fleetsh_coordinator_event_records_total")
	if _, err := m.Value("fleetsh_coordinator_agent_heartbeat_age_seconds", "agent", "gw1-a", "name", "gw1"); err != nil {
		t.Error(err)
	}
	if v, err := m.Value("fleetsh_coordinator_store_messages", "stream", "fleetsh_fleet_journal"); err != nil || v <= 0 {
		t.Errorf("journal messages = %v, %v: want > 0", v, err)
	}
	if n, err := m.Count("fleetsh_coordinator_merge_duration_seconds"); err != nil || n == 0 {
		t.Errorf("merge latency samples = %d, %v", n, err)
	}
	if m["fleetsh_agent_nodes_running"] != nil {
		t.Error("a coordinator without an agent reports agent metrics")
	}

	m = metricstest.Scrape(t, ag.Addr())
	m.Help(t, "fleetsh_agent_")
	m.Check(t,
		metricstest.Want{Name: "fleetsh_agent_fanout_capacity", Value: agent.DefaultCapacity},
		metricstest.Want{Name: "fleetsh_agent_registered", Value: 1},
	)
	if n, err := m.Count("fleetsh_agent_stage_duration_seconds", "driver", "exec", "stage", "spawn"); err != nil || n != 10 {
		t.Errorf("exec spawns observed = %d, %v: want 10", n, err)
	}
	m.Positive(t, "fleetsh_agent_event_batches_sent_total", "fleetsh_agent_event_bytes_sent_total", "fleetsh_agent_heartbeats_sent_total")
	if m["fleetsh_coordinator_jobs"] != nil {
		t.Error("an agent reports coordinator metrics")
	}

	checkFiles(t, c, co.Addr(), ag.Addr())

	if code, body := metricstest.Get(t, ag.Addr(), "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz: %d %q", code, body)
	}
	srv.Stop()
	// The client sees the connection close at once; no deadline here
	// but the test's.
	for {
		code, body := metricstest.Get(t, ag.Addr(), "/readyz")
		if code == http.StatusServiceUnavailable {
			if !strings.Contains(body, "not connected to NATS") {
				t.Errorf("/readyz during the outage: %q", body)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := metricstest.Get(t, ag.Addr(), "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz during the outage: %d", code)
	}
}

// run submits spec and reads its events to the end.
func run(t *testing.T, c *client.Client, spec protocol.JobSpec) {
	t.Helper()
	job, err := c.Submit(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	for {
		if _, err := job.Next(context.Background()); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			return
		}
	}
}

// checkFiles pushes a file of 3 chunks through the fleet to a node
// twice (the second time from the agent's cache), then copies it back
// from 2 nodes, and checks the file metrics of the coordinator (co) and
// the agent (ag): what the agent fetched is what the store sent, the
// file and its manifest, once.
func checkFiles(t *testing.T, c *client.Client, co, ag string) {
	src := filepath.Join(t.TempDir(), "f")
	data := make([]byte, 2*files.ChunkSize+1024) // 3 chunks, all different
	_, _ = rand.NewChaCha8([32]byte{}).Read(data)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ref, pushed, err := files.Push(context.Background(), src, &files.Client{Conn: c.Conn, Subject: c.Subjects.Files(client.DefaultUser)}, files.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	for range 2 {
		run(t, c, protocol.JobSpec{Nodes: "n1", Worker: "exec", Copy: &protocol.CopySpec{Source: src, Dest: filepath.Join(dest, "%h"), Tree: &ref}})
	}
	if got, err := os.ReadFile(filepath.Join(dest, "n1")); err != nil || int64(len(got)) != ref.Bytes {
		t.Fatalf("pushed copy: %d bytes, %v; want %d", len(got), err, ref.Bytes)
	}
	run(t, c, protocol.JobSpec{Nodes: "n[1-2]", Worker: "exec", Copy: &protocol.CopySpec{Source: src, Dest: dest, Reverse: true, Collect: true}})

	tree := float64(ref.Bytes + ref.Size) // the file and its manifest
	chunks := float64(3 + len(ref.Chunks))
	a := metricstest.Scrape(t, ag)
	a.Help(t, "fleetsh_agent_file_")
	a.Check(t,
		metricstest.Want{Name: "fleetsh_agent_file_bytes_total", Labels: []string{"source", "coordinator"}, Value: tree},
		metricstest.Want{Name: "fleetsh_agent_file_bytes_total", Labels: []string{"source", "cache"}, Value: tree},
		metricstest.Want{Name: "fleetsh_agent_file_chunks_total", Labels: []string{"source", "coordinator"}, Value: chunks},
		metricstest.Want{Name: "fleetsh_agent_file_chunks_total", Labels: []string{"source", "cache"}, Value: chunks},
		metricstest.Want{Name: "fleetsh_agent_file_trees_built_total", Value: 1},
		metricstest.Want{Name: "fleetsh_agent_file_copies_sent_total", Value: 2},
		// The chunks, and the tree built from them.
		metricstest.Want{Name: "fleetsh_agent_file_cache_bytes", Value: float64(2*ref.Bytes + ref.Size)},
		metricstest.Want{Name: "fleetsh_agent_file_cache_max_bytes", Value: files.DefaultCacheBytes},
	)
	// The copies hold the pushed file's chunks: only their manifests
	// were missing.
	back, err := a.Value("fleetsh_agent_file_copy_sent_bytes_total")
	if err != nil || back <= 0 || back >= float64(ref.Bytes) {
		t.Errorf("copies sent back: %v bytes, %v", back, err)
	}

	m := metricstest.Scrape(t, co)
	m.Help(t, "fleetsh_coordinator_file_")
	m.Check(t,
		metricstest.Want{Name: "fleetsh_coordinator_file_sent_bytes_total", Value: tree},
		metricstest.Want{Name: "fleetsh_coordinator_file_received_bytes_total", Value: float64(pushed.SentBytes) + back},
		metricstest.Want{Name: "fleetsh_coordinator_file_requests_total", Labels: []string{"op", "get", "result", "served"}, Value: chunks},
	)
	for _, op := range []string{"has", "put", "get", "other"} {
		for _, r := range []string{"denied", "busy", "failed"} {
			if v, err := m.Value("fleetsh_coordinator_file_requests_total", "op", op, "result", r); err != nil || v != 0 {
				t.Errorf("%s requests %s: %v, %v", op, r, v, err)
			}
		}
	}
	if v, err := m.Value("fleetsh_coordinator_file_requests_total", "op", "put", "result", "served"); err != nil || v < chunks+2 {
		t.Errorf("puts served: %v, %v: want the push's %v chunks and the copies' manifests", v, err, chunks)
	}
	if v, err := m.Value("fleetsh_coordinator_file_store_bytes"); err != nil || v < tree {
		t.Errorf("file store: %v bytes, %v: want at least %v", v, err, tree)
	}
	if v, err := m.Value("fleetsh_coordinator_file_store_chunks"); err != nil || v < chunks+1 {
		t.Errorf("file store: %v chunks, %v: want at least %v", v, err, chunks+1)
	}
	m.Positive(t, "fleetsh_coordinator_file_store_max_bytes")
}
