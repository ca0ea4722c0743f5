package ssh

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/pkg/engine"
)

func TestParseAlgorithms(t *testing.T) {
	safe := ssh.SupportedAlgorithms().KeyExchanges
	for _, c := range []struct {
		spec string
		want []string
	}{
		{ssh.KeyExchangeCurve25519, []string{ssh.KeyExchangeCurve25519}},
		// Names only OpenSSH implements are valid and not offered.
		{"sntrup761x25519-sha512@openssh.com," + ssh.KeyExchangeCurve25519, []string{ssh.KeyExchangeCurve25519}},
		{"-mlkem*", slices.DeleteFunc(slices.Clone(safe), func(n string) bool { return strings.HasPrefix(n, "mlkem") })},
		{"^" + ssh.KeyExchangeECDHP256, append([]string{ssh.KeyExchangeECDHP256},
			slices.DeleteFunc(slices.Clone(safe), func(n string) bool { return n == ssh.KeyExchangeECDHP256 })...)},
		// An insecure name is offered when asked for, after the default.
		{"+" + ssh.InsecureAlgorithms().KeyExchanges[0], append(slices.Clone(safe), ssh.InsecureAlgorithms().KeyExchanges[0])},
	} {
		got, err := parseAlgorithms("kexalgorithms", c.spec)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, %v; want %v", c.spec, got, err, c.want)
		}
	}
	for spec, want := range map[string]string{
		"nosuch-kex":                         "Bad SSH2 KexAlgorithms 'nosuch-kex': unknown nosuch-kex",
		"":                                   "Bad SSH2 KexAlgorithms ''",
		ssh.KeyExchangeCurve25519 + ",":      "Bad SSH2 KexAlgorithms",
		"sntrup761x25519-sha512@openssh.com": "none of them is implemented",
		"-[":                                 "syntax error in pattern",
	} {
		if _, err := parseAlgorithms("kexalgorithms", spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", spec, err, want)
		}
	}
	if got, err := parseAlgorithms("ciphers", "aes256-gcm@openssh.com"); err != nil || !slices.Equal(got, []string{"aes256-gcm@openssh.com"}) {
		t.Errorf("Ciphers: %v %v", got, err)
	}
	if _, err := parseAlgorithms("macs", "hmac-nosuch"); err == nil || !strings.Contains(err.Error(), "Bad SSH2 MACs") {
		t.Errorf("MACs: %v", err)
	}
}

// TestAlgorithmOptions connects with the lists of -o options and of the
// ssh_config: what the server negotiated is what was asked for, and a
// list the server shares nothing with fails as OpenSSH does.
func TestAlgorithmOptions(t *testing.T) {
	s, e := sshtest.StartNodes(t, sshtest.Config{}, "node1", "node2")
	if err := e.AddConfig("Host node2", "  KexAlgorithms -mlkem*,curve25519*"); err != nil {
		t.Fatal(err)
	}
	d := testDriver(t, e)
	jr := newJob("node1", "true")
	jr.info["ssh_options"] = "-o KexAlgorithms=" + ssh.KeyExchangeCurve25519 + " -o Ciphers=aes256-ctr -o MACs=hmac-sha2-256"
	wantCode(t, jr, jr.run(t, d), 0)
	jr = newJob("node2", "true")
	wantCode(t, jr, jr.run(t, d), 0)
	st := s.Stats()
	if st.KeyExchanges[ssh.KeyExchangeCurve25519] != 1 || st.KeyExchanges[ssh.KeyExchangeECDHP256] != 1 || len(st.KeyExchanges) != 2 {
		t.Errorf("key exchanges %v, want one %s (-o) and one %s (the config's list without ML-KEM and curve25519)",
			st.KeyExchanges, ssh.KeyExchangeCurve25519, ssh.KeyExchangeECDHP256)
	}
	// A bad list is the job's local error, naming it.
	jr = newJob("node1", "true")
	jr.info["ssh_options"] = "-o KexAlgorithms=nosuch"
	if res := jr.run(t, d); engine.ReasonOf(res.Err) != engine.ReasonLocal || !strings.Contains(jr.stderr.String(), "Bad SSH2 KexAlgorithms 'nosuch'") {
		t.Errorf("%v, stderr %q", res.Err, jr.stderr)
	}
}

// FuzzParseAlgorithms: any list either fails or offers only names x/crypto
// implements, each once.
func FuzzParseAlgorithms(f *testing.F) {
	for _, s := range []string{"curve25519-sha256", "+diffie-hellman-group1-sha1", "-*sha1*,mlkem*", "^ecdh-sha2-nistp256", "", ",", "-["} {
		f.Add("kexalgorithms", s)
	}
	f.Add("ciphers", "aes128-ctr,chacha20-poly1305@openssh.com")
	f.Add("macs", "-hmac-sha1*")
	f.Fuzz(func(t *testing.T, kw, spec string) {
		if _, ok := algorithmKeys[kw]; !ok {
			return
		}
		got, err := parseAlgorithms(kw, spec)
		if err != nil {
			return
		}
		safe, insecure := algorithmKeys[kw].implemented()
		seen := map[string]bool{}
		for _, n := range got {
			if seen[n] || (!slices.Contains(safe, n) && !slices.Contains(insecure, n)) {
				t.Fatalf("%s %q: offers %v", kw, spec, got)
			}
			seen[n] = true
		}
		if len(got) == 0 {
			t.Fatalf("%s %q: empty list without an error", kw, spec)
		}
	})
}
