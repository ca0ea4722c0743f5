package ssh

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// fileLine is a line of a known_hosts file, as knownhosts.KnownKey names it.
type fileLine struct {
	file string
	line int
}

// authorityLines finds the @cert-authority lines of files, numbered as
// knownhosts numbers them (bufio.Scanner lines, from 1).
func authorityLines(files []string) map[fileLine]bool {
	ca := make(map[fileLine]bool)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, len(data)+1)
		for n := 1; sc.Scan(); n++ {
			l := bytes.TrimLeft(sc.Bytes(), " \t")
			if rest, ok := bytes.CutPrefix(l, []byte("@cert-authority")); ok && len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
				ca[fileLine{f, n}] = true
			}
		}
	}
	return ca
}

// certRefusal is why a host certificate was not accepted: OpenSSH's line
// and a sentence naming the host, the certificate and the reason.
type certRefusal struct {
	level   logLevel // OpenSSH's: error for an invalid certificate, debug for an unknown CA
	line    string
	summary string
}

// explain puts the certificate's refusal in f: its line first, as
// OpenSSH prints it before falling back to the plain key, and in the
// one-line reason.
func (c *certRefusal) explain(f *failure) {
	f.lines = append([]diagLine{{level: c.level, text: c.line}}, f.lines...)
	if f.summary == "" {
		f.summary = c.summary + "; and its plain key is not known"
	}
}

// verifyHostCert checks a host certificate as OpenSSH does: refused if it,
// its key or its authority is @revoked; accepted if an @cert-authority
// line naming the host holds its signing key and the certificate is a
// valid host certificate for the host (a listed principal, within its
// validity, no critical option); otherwise the certificate's plain key
// is checked like any host key, and the certificate's problem is said.
func (r *run) verifyHostCert(t *target, set *knownHostsSet, h hostID, known hostKeys, cert *ssh.Certificate) *failure {
	if f := r.revoked(set, h, cert.Key, cert, "key"); f != nil {
		return f
	}
	if f := r.revoked(set, h, cert.SignatureKey, cert, "certificate authority key"); f != nil {
		return f
	}
	i := slices.IndexFunc(known.cas, func(k knownhosts.KnownKey) bool { return keysEqual(k.Key, cert.SignatureKey) })
	if i < 0 {
		r.debugf("SSHCLIENT: %s: no matching CA found for the %s host certificate signed by %s; retry with plain key",
			r.job.Node, keyTypeName(cert), ssh.FingerprintSHA256(cert.SignatureKey))
		var refusal *certRefusal
		if len(known.cas) > 0 {
			refusal = &certRefusal{
				level: logDebug,
				line:  "debug1: No matching CA found. Retry with plain key",
				summary: fmt.Sprintf("%s host certificate of %s refused: signed by CA %s, which no @cert-authority line trusts for it",
					keyTypeName(cert), h.name, ssh.FingerprintSHA256(cert.SignatureKey)),
			}
		}
		return r.verifyPlainKey(t, set, h, known, cert.Key, refusal)
	}
	ca := known.cas[i]
	checker := ssh.CertChecker{
		IsHostAuthority: func(auth ssh.PublicKey, _ string) bool { return keysEqual(auth, ca.Key) },
	}
	err := checker.CheckHostKey(h.hostport, fakeRemote, cert)
	if err == nil {
		r.debugf("SSHCLIENT: %s: host '%s' is known and matches the %s host certificate; found CA key in %s:%d",
			r.job.Node, h.name, keyTypeName(cert), set.realName(ca.Filename), ca.Line)
		return nil
	}
	reason := certProblem(cert, h.principal(), time.Now(), err)
	refusal := &certRefusal{
		level: logError,
		line:  reason,
		summary: fmt.Sprintf("%s host certificate of %s (serial %d, id %q, principals %q, signed by %s, trusted in %s:%d) refused: %s",
			keyTypeName(cert), h.name, cert.Serial, cert.KeyId, cert.ValidPrincipals, ssh.FingerprintSHA256(cert.SignatureKey),
			set.realName(ca.Filename), ca.Line, reason),
	}
	return r.verifyPlainKey(t, set, h, known, cert.Key, refusal)
}

// certProblem says in OpenSSH's words (sshkey_cert_check_authority) why
// CertChecker refused cert for principal; err, when none of them applies
// (a bad signature).
func certProblem(cert *ssh.Certificate, principal string, now time.Time, err error) string {
	unix := now.Unix()
	switch {
	case cert.CertType != ssh.HostCert:
		return "Certificate invalid: not a host certificate"
	case int64(cert.ValidAfter) < 0 || unix < int64(cert.ValidAfter):
		return "Certificate invalid: not yet valid"
	case cert.ValidBefore != ssh.CertTimeInfinity && (int64(cert.ValidBefore) < 0 || unix >= int64(cert.ValidBefore)):
		return "Certificate invalid: expired"
	case len(cert.ValidPrincipals) == 0:
		return "Certificate lacks principal list"
	case !slices.Contains(cert.ValidPrincipals, principal):
		return "Certificate invalid: name is not a listed principal"
	case len(cert.CriticalOptions) > 0:
		return fmt.Sprintf("Certificate for %s contains unsupported critical options(s)", principal)
	}
	return fmt.Sprintf("Certificate invalid: %v", err)
}
