package integration

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/metricstest"
	"github.com/fleetsh/fleetsh/internal/natstest"
)

// TestMetricsAndHealth runs the coordinator and an agent as processes,
// each with --http on a port of its own choosing, on a NATS server with
// JetStream; csub runs a known job on 20 exec nodes (5 exit 1, one times
// out); the metrics scraped then hold its exact counts. Both /readyz
// say ready, then 503 once the NATS server is gone, while both /healthz
// still answer.
func TestMetricsAndHealth(t *testing.T) {
	dir := t.TempDir()
	srv := natstest.StartJetStream(t, t.TempDir())
	keyFile, pub := signingKey(t, dir)
	coord := startProc(t, dir, "coordinator", "coordinator", "--nats", srv.URL(), "--local-agent=false",
		"--policy", allowAllPolicy(t), "--signing-key", keyFile, "--heartbeat", "200ms", "--store-max-bytes", "67108864", "--http", "127.0.0.1:0")
	ag := startProc(t, dir, "agent", "agent", "--nats", srv.URL(), "--local", "--id", "gw1", "--name", "gw1",
		"--worker", "exec", "--coordinator-key", pub, "--http", "127.0.0.1:0")
	coordHTTP, agentHTTP := httpAddr(t, coord), httpAddr(t, ag)
	for _, addr := range []string{coordHTTP, agentHTTP} {
		awaitReady(t, addr)
	}

	code, out, errOut := csub(t, srv.URL(), "-R", "exec", "-u", "2", "-w", "n[1-20]",
		"case %h in n[1-5]) exit 1;; n6) exec sleep 60;; esac")
	defer func() {
		if t.Failed() {
			t.Logf("csub exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
		}
	}()

	m := metricstest.Scrape(t, coordHTTP)
	m.Help(t, "fleetsh_coordinator_")
	m.Check(t, metricstest.OneJob(19, 1, 6)...)
	m.Positive(t, "fleetsh_coordinator_event_batches_total", "fleetsh_coordinator_event_bytes_total")
	if _, err := m.Value("fleetsh_coordinator_agent_heartbeat_age_seconds", "agent", "gw1", "name", "gw1"); err != nil {
		t.Error(err)
	}
	if v, err := m.Value("fleetsh_coordinator_store_bytes", "stream", "fleetsh_fleet_journal"); err != nil || v <= 0 {
		t.Errorf("journal bytes = %v, %v: want > 0", v, err)
	}

	m = metricstest.Scrape(t, agentHTTP)
	m.Help(t, "fleetsh_agent_")
	if n, err := m.Count("fleetsh_agent_stage_duration_seconds", "driver", "exec", "stage", "spawn"); err != nil || n != 20 {
		t.Errorf("exec spawns observed = %d, %v: want 20", n, err)
	}
	m.Positive(t, "fleetsh_agent_event_batches_sent_total")

	for _, addr := range []string{coordHTTP, agentHTTP} {
		if code, body := metricstest.Get(t, addr, "/healthz"); code != http.StatusOK {
			t.Errorf("%s/healthz: %d %q", addr, code, body)
		}
	}
	srv.Stop()
	// Both lose their connection at once; no deadline here but the test's.
	for _, addr := range []string{agentHTTP, coordHTTP} {
		for {
			code, body := metricstest.Get(t, addr, "/readyz")
			if code == http.StatusServiceUnavailable {
				if !strings.Contains(body, "not connected to NATS") {
					t.Errorf("%s/readyz during the outage: %q", addr, body)
				}
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if code, _ := metricstest.Get(t, addr, "/healthz"); code != http.StatusOK {
			t.Errorf("%s/healthz during the outage: %d", addr, code)
		}
	}
}

var httpURL = regexp.MustCompile(`msg="operator HTTP listening" url=http://(\S+)`)

// httpAddr waits until p logs the address of its operator HTTP
// listener, and returns it.
func httpAddr(t *testing.T, p *proc) string {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		data, _ := os.ReadFile(p.log)
		if m := httpURL.FindSubmatch(data); m != nil {
			return string(m[1])
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited: %v\n%s", p.name, p.err, data)
		default:
		}
		if time.Now().After(deadline) { // a hang catcher
			t.Fatalf("%s logged no HTTP address\n%s", p.name, data)
		}
	}
}

// awaitReady waits until addr's /readyz answers 200.
func awaitReady(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		code, body := metricstest.Get(t, addr, "/readyz")
		if code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) { // a hang catcher
			t.Fatalf("%s/readyz: %d %q", addr, code, body)
		}
	}
}
