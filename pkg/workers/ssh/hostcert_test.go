package ssh

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/pkg/engine"
)

// certNode starts a server presenting a host certificate that ca signed
// as c says, reachable as node1, with an empty known_hosts.
func certNode(t *testing.T, ca *sshtest.HostCA, c sshtest.HostCert) (*sshtest.Server, *sshtest.Env, *sshtest.Certified, string) {
	t.Helper()
	certified, err := ca.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	s, e := sshtest.StartNodes(t, sshtest.Config{HostKey: certified.Signer}, "node1")
	writeFile(t, e.KnownHostsPath, "")
	return s, e, certified, fmt.Sprintf("[127.0.0.1]:%d", s.Port())
}

func newCA(t *testing.T) *sshtest.HostCA {
	t.Helper()
	ca, err := sshtest.NewHostCA()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// wantRefused checks a refused certificate: the node's error names the
// reason, and stderr says it before OpenSSH's lines.
func wantRefused(t *testing.T, jr *jobRun, res engine.Result, reason engine.Reason, why string, lines ...string) {
	t.Helper()
	wantFailure(t, jr, res, reason, append([]string{why}, lines...)...)
	if msg := res.Err.Error(); !strings.HasPrefix(msg, "node1: ") || !strings.Contains(msg, why) {
		t.Fatalf("error %q does not name node1 and %q", msg, why)
	}
}

func TestHostCertificateAccepted(t *testing.T) {
	ca := newCA(t)
	_, e, _, name := certNode(t, ca, sshtest.HostCert{Principals: []string{"127.0.0.1"}, ValidAfter: time.Now().Add(-time.Hour), ValidBefore: time.Now().Add(time.Hour)})
	d := testDriver(t, e)
	// knownhosts patterns without "[host]:port" match port 22 only.
	port := strings.TrimPrefix(name, "[127.0.0.1]")
	for _, pattern := range []string{name, "[127.0.0.*]" + port, "otherhost," + name} {
		writeFile(t, e.KnownHostsPath, ca.KnownHostsLine(pattern)+"\n")
		jr := newJob("node1", "echo ran")
		wantCode(t, jr, jr.run(t, testDriver(t, e)), 0)
		if jr.stdout.String() != "ran\n" || jr.stderr.String() != "" {
			t.Fatalf("%s: stdout %q stderr %q", pattern, jr.stdout, jr.stderr)
		}
	}
	// Nothing was added to known_hosts.
	jr := newJob("node1", "true")
	jr.info["ssh_strict_host_key_checking"] = "accept-new"
	wantCode(t, jr, jr.run(t, d), 0)
	if b, _ := os.ReadFile(e.KnownHostsPath); string(b) != ca.KnownHostsLine("otherhost,"+name)+"\n" {
		t.Fatalf("known_hosts changed: %q", b)
	}
}

func TestHostCertificateRefused(t *testing.T) {
	ca := newCA(t)
	now := time.Now()
	for _, tc := range []struct {
		name string
		cert sshtest.HostCert
		why  string
	}{
		{"wrong principal", sshtest.HostCert{Principals: []string{"node9.example", "10.0.0.9"}},
			"Certificate invalid: name is not a listed principal"},
		{"expired", sshtest.HostCert{Principals: []string{"127.0.0.1"}, ValidAfter: now.Add(-2 * time.Hour), ValidBefore: now.Add(-time.Hour)},
			"Certificate invalid: expired"},
		{"not yet valid", sshtest.HostCert{Principals: []string{"127.0.0.1"}, ValidAfter: now.Add(time.Hour)},
			"Certificate invalid: not yet valid"},
		{"user certificate", sshtest.HostCert{Principals: []string{"127.0.0.1"}, UserCert: true},
			"Certificate invalid: not a host certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, e, certified, name := certNode(t, ca, tc.cert)
			writeFile(t, e.KnownHostsPath, ca.KnownHostsLine(name)+"\n")
			d := testDriver(t, e)
			jr := newJob("node1", "echo ran")
			wantRefused(t, jr, jr.run(t, d), engine.ReasonHostKeyUnknown, tc.why,
				"No ED25519 host key is known for "+name+" and you have requested strict checking.",
				"Host key verification failed.")

			// As OpenSSH: the certificate's plain key, when known,
			// still lets the host in, and the problem is said.
			writeFile(t, e.KnownHostsPath, ca.KnownHostsLine(name)+"\n"+certified.PlainKnownHostsLine(name)+"\n")
			jr = newJob("node1", "echo ran")
			wantCode(t, jr, jr.run(t, d), 0)
			if jr.stdout.String() != "ran\n" || jr.stderr.String() != tc.why+"\n" {
				t.Fatalf("plain key known: stdout %q stderr %q", jr.stdout, jr.stderr)
			}
		})
	}
}

func TestHostCertificateUntrustedCA(t *testing.T) {
	ca, other := newCA(t), newCA(t)
	_, e, certified, name := certNode(t, ca, sshtest.HostCert{Principals: []string{"127.0.0.1"}})
	d := testDriver(t, e)
	unknown := []string{"No ED25519 host key is known for " + name + " and you have requested strict checking.", "Host key verification failed."}

	// Another CA is trusted for the host.
	writeFile(t, e.KnownHostsPath, other.KnownHostsLine(name)+"\n")
	jr := newJob("node1", "true")
	why := "host certificate of " + name + " refused: signed by CA " + gossh.FingerprintSHA256(certified.Cert.SignatureKey) + ", which no @cert-authority line trusts for it"
	// stderr has OpenSSH's lines (the CA's is at debug level); the
	// node's error says it.
	res := jr.run(t, d)
	wantFailure(t, jr, res, engine.ReasonHostKeyUnknown, unknown...)
	jr = newJob("node1", "true")
	jr.info["ssh_options"] = "-o LogLevel=DEBUG"
	wantFailure(t, jr, jr.run(t, d), engine.ReasonHostKeyUnknown, append([]string{"debug1: No matching CA found. Retry with plain key"}, unknown...)...)
	if msg := res.Err.Error(); !strings.HasPrefix(msg, "node1: ") || !strings.Contains(msg, why) {
		t.Fatalf("error %q does not name node1 and %q", msg, why)
	}

	// The CA is trusted, but for other hosts only.
	writeFile(t, e.KnownHostsPath, ca.KnownHostsLine("node*,!"+name)+"\n"+ca.KnownHostsLine("[127.0.0.1]:1")+"\n")
	jr = newJob("node1", "true")
	wantFailure(t, jr, jr.run(t, d), engine.ReasonHostKeyUnknown, unknown...)

	// accept-new, as OpenSSH, learns the plain key (never the certificate).
	writeFile(t, e.KnownHostsPath, "")
	jr = newJob("node1", "true")
	jr.info["ssh_strict_host_key_checking"] = "accept-new"
	wantCode(t, jr, jr.run(t, d), 0)
	if b, _ := os.ReadFile(e.KnownHostsPath); string(b) != certified.PlainKnownHostsLine(name)+"\n" {
		t.Fatalf("known_hosts: %q", b)
	}
}

func TestHostCertificateRevoked(t *testing.T) {
	ca := newCA(t)
	_, e, certified, name := certNode(t, ca, sshtest.HostCert{Principals: []string{"127.0.0.1"}})
	d := testDriver(t, e)
	banner := []string{
		"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
		"@       WARNING: REVOKED HOST KEY DETECTED!               @",
		"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
		"The ED25519-CERT host key for " + name + " is marked as revoked.",
		"This could mean that a stolen key is being used to",
		"impersonate this host.",
		"Host key verification failed.",
	}
	for _, tc := range []struct{ what, revoked, summary string }{
		{"host key", "@revoked " + name + " " + strings.TrimPrefix(certified.PlainKnownHostsLine("x"), "x "), "its key"},
		{"CA key", strings.Replace(ca.KnownHostsLine(name), "@cert-authority", "@revoked", 1), "its certificate authority key"},
	} {
		writeFile(t, e.KnownHostsPath, ca.KnownHostsLine(name)+"\n"+tc.revoked+"\n")
		for _, strict := range []string{"yes", "accept-new", "no"} {
			jr := newJob("node1", "true")
			jr.info["ssh_strict_host_key_checking"] = strict
			res := jr.run(t, d)
			wantFailure(t, jr, res, engine.ReasonHostKeyChanged, banner...)
			if msg := res.Err.Error(); !strings.Contains(msg, tc.summary) || !strings.Contains(msg, e.KnownHostsPath+":2") {
				t.Fatalf("%s, %s: error %q", tc.what, strict, msg)
			}
		}
	}
}

// A host trusted through a CA that presents a plain key is unknown, not
// "changed": the CA's key is no host key of it.
func TestCertificateAuthorityIsNoHostKey(t *testing.T) {
	s, e := sshtest.StartNodes(t, sshtest.Config{}, "node1")
	ca := newCA(t)
	name := fmt.Sprintf("[127.0.0.1]:%d", s.Port())
	writeFile(t, e.KnownHostsPath, ca.KnownHostsLine(name)+"\n")
	d := testDriver(t, e)
	jr := newJob("node1", "true")
	wantFailure(t, jr, jr.run(t, d), engine.ReasonHostKeyUnknown,
		"No ED25519 host key is known for "+name+" and you have requested strict checking.",
		"Host key verification failed.")

	// With its plain key known too, the host is in.
	writeFile(t, e.KnownHostsPath, ca.KnownHostsLine(name)+"\n"+s.KnownHostsLine()+"\n")
	jr = newJob("node1", "true")
	wantCode(t, jr, jr.run(t, d), 0)
}

// A node name with shell syntax never reaches a ProxyCommand's %h: the
// driver refuses it as OpenSSH does, before anything runs.
func TestCraftedNodeNameRefused(t *testing.T) {
	_, e := sshtest.StartNodes(t, sshtest.Config{}, "node1")
	marker := t.TempDir() + "/injected"
	if err := e.AddConfig("Host *", "    ProxyCommand nc %h %p"); err != nil {
		t.Fatal(err)
	}
	d := testDriver(t, e)
	for _, node := range []string{"a;touch " + marker, "$(touch " + marker + ")", "-oProxyCommand=touch " + marker} {
		jr := newJob(node, "true")
		res := jr.run(t, d)
		if engine.ReasonOf(res.Err) != engine.ReasonLocal || !strings.Contains(jr.stderr.String(), "hostname contains invalid characters") {
			t.Fatalf("%q: %v, stderr %q", node, res.Err, jr.stderr)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%q ran the injected command", node)
		}
	}
}

// TestKnownHostPort22 checks the lookup of a host on port 22, which the
// other tests (servers on high ports) never reach: known_hosts names it
// without brackets or port, and knownhosts must be asked "host:22".
func TestKnownHostPort22(t *testing.T) {
	s := sshtest.Start(t, sshtest.Config{})
	ca := newCA(t)
	certified, err := ca.Sign(sshtest.HostCert{Principals: []string{"node1.example"}})
	if err != nil {
		t.Fatal(err)
	}
	file := t.TempDir() + "/known_hosts"
	writeFile(t, file, s.KnownHostsLine("node1.example")+"\n"+ca.KnownHostsLine("*.example")+"\n")
	o := newOptions()
	o.Port, o.StrictHostKeyChecking, o.UserKnownHostsFiles = 22, "yes", []string{file}
	tg := &target{options: o, Host: "node1.example"}
	jr := newJob("node1.example", "true")
	r := &run{d: &Driver{}, job: jr.job, diag: jr.stderr, level: logInfo}
	cb, algos, err := r.hostKeyCallback(tg, &handshake{})
	if err != nil {
		t.Fatal(err)
	}
	if len(algos) == 0 || !strings.Contains(algos[0], "-cert-") {
		t.Errorf("algorithms %q: certificates not first", algos)
	}
	if err := cb("", nil, s.HostKey()); err != nil {
		t.Errorf("known key refused: %v", err)
	}
	if err := cb("", nil, certified.Cert); err != nil {
		t.Errorf("certificate refused: %v", err)
	}
	if err := cb("", nil, newCA(t).Signer.PublicKey()); err == nil {
		t.Error("an unknown key was accepted")
	}
}
