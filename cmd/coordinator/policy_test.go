package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// runJob submits spec and reads it to its end.
func runJob(t *testing.T, c *client.Client, spec protocol.JobSpec) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := c.Submit(ctx, spec)
	if err != nil {
		return err
	}
	defer job.Close()
	for {
		if _, err := job.Next(ctx); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

// policy and audit-log, given in the config file: the policy decides,
// the audit log records, and SIGHUP reopens it after a rename.
func TestPolicyAndAuditLog(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(`rules: [{name: only-true, users: ["*"], commands: ["true"], nodes: "n[1-2]"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	auditPath := filepath.Join(dir, "audit.log")
	conf := filepath.Join(dir, "coordinator.yaml")
	if err := os.WriteFile(conf, []byte("policy: "+pol+"\naudit-log: "+auditPath+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	sigs := make(chan os.Signal, 1)
	logs := make(testutil.LogLines, 10000)
	code := make(chan int, 1)
	go func() { code <- run([]string{"--config", conf, "--listen", addr, "--worker", "exec"}, logs, sigs) }()
	logs.Await(t, "policy="+pol)
	logs.Await(t, "coordinator ready")
	nc, err := nats.Connect("nats://"+addr, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &client.Client{Conn: nc, User: "u"}
	var re *client.RefusedError
	if err := runJob(t, c, protocol.JobSpec{ID: "denied", Nodes: "n1", Command: "id"}); !errors.As(err, &re) || re.Code != protocol.CodeDenied {
		t.Fatalf("id: %v", err)
	}
	if err := runJob(t, c, protocol.JobSpec{ID: "first", Nodes: "n[1-2]", Command: "true"}); err != nil {
		t.Fatal(err)
	}
	// The ended record follows the job's last output: rotate after it.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if data, _ := os.ReadFile(auditPath); strings.Contains(string(data), `"event":"ended","job":"first"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no ended record for the first job")
		}
	}
	if err := os.Rename(auditPath, auditPath+".1"); err != nil {
		t.Fatal(err)
	}
	sigs <- syscall.SIGHUP
	logs.Await(t, "audit log reopened")
	if err := runJob(t, c, protocol.JobSpec{ID: "second", Nodes: "n1", Command: "true"}); err != nil {
		t.Fatal(err)
	}
	sigs <- syscall.SIGTERM
	if c := <-code; c != 0 {
		t.Fatalf("exit %d", c)
	}
	old, _ := os.ReadFile(auditPath + ".1")
	cur, _ := os.ReadFile(auditPath)
	if !strings.Contains(string(old), `"event":"denied","job":"denied"`) || !strings.Contains(string(old), `"event":"accepted","job":"first"`) ||
		strings.Contains(string(old), `"second"`) {
		t.Errorf("rotated log:\n%s", old)
	}
	if !strings.HasPrefix(string(cur), `{"time":`) || !strings.Contains(string(cur), `"event":"accepted","job":"second"`) || strings.Contains(string(cur), `"first"`) {
		t.Errorf("new log:\n%s", cur)
	}
}
