package ssh

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/fleetsh/fleetsh/pkg/engine"
)

// knownHostsCache keeps parsed known_hosts file sets. Keys this driver
// appended (accept-new) are remembered beside the parsed set, and the set's
// file stamps are moved forward past our own appends, so that adding the
// keys of 10 000 new hosts does not re-parse a growing file 10 000 times.
type knownHostsCache struct {
	mu    sync.Mutex
	sets  map[string]*knownHostsSet
	added map[string]map[string][]ssh.PublicKey // file → host → keys we appended
	probe ssh.PublicKey                         // a key no host has, to list a host's known keys
	// appendMu serializes appends within the process; flock serializes
	// them with other processes.
	appendMu sync.Mutex
}

type knownHostsSet struct {
	files  []string
	stamps []fileStamp
	check  ssh.HostKeyCallback
	rename map[string]string // sanitized copy → real file, for messages
	ca     map[fileLine]bool // the @cert-authority lines, as check names them
}

// missing is the stamp of a file that does not exist.
var missing = fileStamp{ino: -1}

// statStamp is the file's stamp as it is now, missing when it cannot be
// stat'ed.
func statStamp(path string) fileStamp {
	st, _ := statPath(path)
	return st
}

// knownHosts returns the parsed set of files, from the cache when none of
// them changed.
func (d *Driver) knownHosts(files []string) (*knownHostsSet, error) {
	key := strings.Join(files, "\x00")
	stamps := make([]fileStamp, len(files))
	for i, f := range files {
		stamps[i] = d.stamp(f)
	}
	c := &d.cache.knownHosts
	c.mu.Lock()
	if s, ok := c.sets[key]; ok && slices.Equal(s.stamps, stamps) {
		c.mu.Unlock()
		return s, nil
	}
	c.mu.Unlock()
	check, rename, ca, err := parseKnownHosts(files, stamps)
	if err != nil {
		return nil, err
	}
	s := &knownHostsSet{files: files, stamps: stamps, check: check, rename: rename, ca: ca}
	d.keepKnownHosts(key, s)
	return s, nil
}

// keepKnownHosts caches s, parsed from its files as they were at
// s.stamps, unless the cache holds a set of the files as they are now
// and s read them before: a parse that began before another job appended
// a key and ended after it must not replace the set that the append moved
// forward, nor forget the key (TestStaleKnownHostsParse: two jobs then
// each added the same key, CI once under -race).
func (d *Driver) keepKnownHosts(key string, s *knownHostsSet) {
	c := &d.cache.knownHosts
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.sets[key]; ok && !slices.Equal(cur.stamps, s.stamps) {
		now := make([]fileStamp, len(s.files))
		for i, f := range s.files {
			now[i] = d.stamp(f)
		}
		if slices.Equal(cur.stamps, now) {
			return
		}
	}
	if c.sets == nil {
		c.sets = make(map[string]*knownHostsSet)
	}
	c.sets[key] = s
	// The files were read again: what we appended is in them now.
	for _, f := range s.files {
		delete(c.added, f)
	}
}

// parseKnownHosts parses the files that exist. knownhosts.New rejects a
// whole file for one bad line, where OpenSSH skips the line; so when it
// fails, the files are parsed again from copies with the bad lines blanked
// (line numbers kept, and the real names restored in messages). It also
// returns where the @cert-authority lines are, which knownhosts does not
// tell.
func parseKnownHosts(files []string, stamps []fileStamp) (ssh.HostKeyCallback, map[string]string, map[fileLine]bool, error) {
	var existing []string
	for i, f := range files {
		if stamps[i] != missing {
			existing = append(existing, f)
		}
	}
	check, err := knownhosts.New(existing...)
	if err == nil {
		return check, nil, authorityLines(existing), nil
	}
	dir, derr := os.MkdirTemp("", "fleetsh-known-hosts-")
	if derr != nil {
		return nil, nil, nil, fmt.Errorf("known hosts: %w", err)
	}
	defer os.RemoveAll(dir)
	rename := make(map[string]string)
	var copies []string
	for i, f := range existing {
		data, rerr := os.ReadFile(f)
		if rerr != nil {
			continue // unreadable: as if absent, as OpenSSH does
		}
		lines := bytes.Split(data, []byte("\n"))
		for j, l := range lines {
			if t := bytes.TrimSpace(l); len(t) == 0 || t[0] == '#' {
				continue
			}
			if _, _, _, _, _, perr := ssh.ParseKnownHosts(l); perr != nil {
				lines[j] = nil
			}
		}
		cp := filepath.Join(dir, fmt.Sprint(i))
		if werr := os.WriteFile(cp, bytes.Join(lines, []byte("\n")), 0o600); werr != nil {
			return nil, nil, nil, fmt.Errorf("known hosts: %w", werr)
		}
		rename[cp] = f
		copies = append(copies, cp)
	}
	check, err = knownhosts.New(copies...)
	if err != nil {
		for cp, f := range rename {
			err = errors.New(strings.ReplaceAll(err.Error(), cp, f))
		}
		return nil, nil, nil, fmt.Errorf("known hosts: %w", err)
	}
	return check, rename, authorityLines(copies), nil
}

// keyTypeName is OpenSSH's sshkey_type: "ED25519", "RSA", "ECDSA"...
func keyTypeName(k ssh.PublicKey) string {
	t := k.Type()
	cert := strings.HasSuffix(t, "-cert-v01@openssh.com")
	t = strings.TrimSuffix(t, "-cert-v01@openssh.com")
	var name string
	switch {
	case t == ssh.KeyAlgoRSA:
		name = "RSA"
	case t == ssh.KeyAlgoDSA:
		name = "DSA"
	case t == ssh.KeyAlgoED25519:
		name = "ED25519"
	case strings.HasPrefix(t, "ecdsa-sha2-"):
		name = "ECDSA"
	case t == ssh.KeyAlgoSKECDSA256:
		name = "ECDSA-SK"
	case t == ssh.KeyAlgoSKED25519:
		name = "ED25519-SK"
	default:
		name = strings.ToUpper(t)
	}
	if cert {
		name += "-CERT"
	}
	return name
}

// algorithmsFor are the host key algorithms that can present a key of
// type t.
func algorithmsFor(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{t}
}

// fakeRemote is given to knownhosts instead of the peer's address: we
// look keys up by host name only, as OpenSSH does with CheckHostIP no
// (its default).
var fakeRemote = &net.TCPAddr{IP: net.IPv4zero, Port: 22}

// probeKey is a key no host has: checking it lists a host's known keys.
func (c *knownHostsCache) probeKey() ssh.PublicKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.probe == nil {
		pub, _, err := ed25519.GenerateKey(nil)
		if err == nil {
			c.probe, _ = ssh.NewPublicKey(pub)
		}
	}
	return c.probe
}

// addedKeys are the keys this driver appended to file for host.
func (c *knownHostsCache) addedKeys(file, host string) []ssh.PublicKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.added[file][host])
}

// supportedHostKeys are x/crypto's host key algorithms, which
// ssh.SupportedAlgorithms copies, with every other list, at each call:
// once per node, that was a few hundred bytes of garbage each.
var supportedHostKeys = sync.OnceValue(func() []string { return ssh.SupportedAlgorithms().HostKeys })

// hostKeyCallback verifies t's host key against its known_hosts files
// with its StrictHostKeyChecking, and returns the host key algorithms to
// ask for. As OpenSSH's order_hostkeyalgs: every certificate algorithm
// first when an @cert-authority line names t, then those of the keys
// already known for t, so that a host known by its ED25519 key is not
// reported "changed" because the server preferred to show its RSA key.
func (r *run) hostKeyCallback(t *target, hs *handshake) (ssh.HostKeyCallback, []string, error) {
	files := append(slices.Clone(t.UserKnownHostsFiles), t.GlobalKnownHostsFiles...)
	set, err := r.d.knownHosts(files)
	if err != nil {
		return nil, nil, err
	}
	// knownhosts matches "host:port"; messages and new lines use the
	// normalized form ("host" on port 22, "[host]:port" otherwise).
	hostport := joinHostPort(knownHostsName(t.options, t.Host), t.Port)
	h := hostID{hostport: hostport, name: knownhosts.Normalize(hostport)}
	known := r.knownKeys(set, h)
	var algos []string
	add := func(a string) {
		if !slices.Contains(algos, a) {
			algos = append(algos, a)
		}
	}
	if len(known.cas) > 0 {
		for _, a := range supportedHostKeys() {
			if strings.Contains(a, "-cert-") {
				add(a)
			}
		}
	}
	if len(known.plain)+len(known.added) > 0 {
		for _, k := range known.plain {
			for _, a := range algorithmsFor(k.Key.Type()) {
				add(a)
			}
		}
		for _, k := range known.added {
			for _, a := range algorithmsFor(k.Type()) {
				add(a)
			}
		}
	}
	if algos != nil {
		for _, a := range supportedHostKeys() {
			add(a)
		}
	}
	cb := func(_ string, _ net.Addr, key ssh.PublicKey) error {
		f := r.verifyHostKey(t, set, h, known, key)
		if f != nil {
			hs.mu.Lock()
			hs.hostKeyFail = f
			hs.mu.Unlock()
			return f
		}
		return nil
	}
	return cb, algos, nil
}

// hostID is the name a host is known by in known_hosts.
type hostID struct {
	hostport string // "host:port", as knownhosts matches it
	name     string // knownhosts.Normalize(hostport), as messages write it
}

// principal is the name a host certificate must list: the host without
// its port, as OpenSSH checks it.
func (h hostID) principal() string {
	host, _, err := net.SplitHostPort(h.hostport)
	if err != nil {
		return h.hostport
	}
	return host
}

// hostKeys are the known_hosts lines that name one host.
type hostKeys struct {
	plain []knownhosts.KnownKey // host keys, from the files
	added []ssh.PublicKey       // host keys this driver appended
	cas   []knownhosts.KnownKey // @cert-authority keys
}

// knownKeys lists the keys known for h. knownhosts lists every line
// matching a host, @cert-authority lines included, when asked about a
// key no host has: the set's record of which lines are @cert-authority
// sorts them.
func (r *run) knownKeys(set *knownHostsSet, h hostID) hostKeys {
	var known hostKeys
	for _, f := range set.files {
		known.added = append(known.added, r.d.cache.knownHosts.addedKeys(f, h.name)...)
	}
	if probe := r.d.cache.knownHosts.probeKey(); probe != nil {
		var ke *knownhosts.KeyError
		if errors.As(set.check(h.hostport, fakeRemote, probe), &ke) {
			for _, w := range ke.Want {
				if set.ca[fileLine{w.Filename, w.Line}] {
					known.cas = append(known.cas, w)
				} else {
					known.plain = append(known.plain, w)
				}
			}
		}
	}
	return known
}

// verifyHostKey applies StrictHostKeyChecking to key, printing OpenSSH's
// messages, and returns the failure, if any.
func (r *run) verifyHostKey(t *target, set *knownHostsSet, h hostID, known hostKeys, key ssh.PublicKey) *failure {
	if cert, ok := key.(*ssh.Certificate); ok {
		return r.verifyHostCert(t, set, h, known, cert)
	}
	return r.verifyPlainKey(t, set, h, known, key, nil)
}

// verifyPlainKey checks a host key that is no certificate (or the key of
// a certificate no authority vouched for, refused for certRefusal).
func (r *run) verifyPlainKey(t *target, set *knownHostsSet, h hostID, known hostKeys, key ssh.PublicKey, certRefusal *certRefusal) *failure {
	name := h.name
	if f := r.revoked(set, h, key, key, ""); f != nil {
		return f
	}
	accepted := func() *failure {
		if certRefusal != nil {
			r.say(certRefusal.level, certRefusal.line)
		}
		return nil
	}
	for _, k := range known.added {
		if keysEqual(k, key) {
			return accepted()
		}
	}
	var offending *knownhosts.KnownKey
	for i, k := range known.plain {
		if keysEqual(k.Key, key) {
			return accepted()
		}
		if offending == nil && k.Key.Type() == key.Type() {
			offending = &known.plain[i]
		}
	}
	err := error(&knownhosts.KeyError{Want: known.plain})
	if offending == nil {
		f := r.unknownHostKey(t, name, key, err)
		if certRefusal != nil {
			if f == nil {
				r.say(certRefusal.level, certRefusal.line)
			} else {
				certRefusal.explain(f)
			}
		}
		return f
	}
	file := set.realName(offending.Filename)
	userFile := "(none)"
	if len(t.UserKnownHostsFiles) > 0 {
		userFile = t.UserKnownHostsFiles[0]
	}
	lines := []diagLine{
		errLine("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@"),
		errLine("@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @"),
		errLine("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@"),
		errLine("IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!"),
		errLine("Someone could be eavesdropping on you right now (man-in-the-middle attack)!"),
		errLine("It is also possible that a host key has just been changed."),
		errLine("The fingerprint for the %s key sent by the remote host is", keyTypeName(key)),
		errLine("%s.", ssh.FingerprintSHA256(key)),
		errLine("Please contact your system administrator."),
		errLine("Add correct host key in %s to get rid of this message.", userFile),
		errLine("Offending %s key in %s:%d", keyTypeName(offending.Key), file, offending.Line),
		errLine("  remove with:"),
		errLine("  ssh-keygen -f \"%s\" -R \"%s\"", file, name),
	}
	if certRefusal != nil {
		lines = append([]diagLine{{level: certRefusal.level, text: certRefusal.line}}, lines...)
	}
	if t.StrictHostKeyChecking == "no" {
		// OpenSSH goes on, with password authentication off (which the
		// driver never uses anyway).
		for _, l := range lines {
			r.say(l.level, l.text)
		}
		r.say(logError, "Password authentication is disabled to avoid man-in-the-middle attacks.")
		r.say(logError, "Keyboard-interactive authentication is disabled to avoid man-in-the-middle attacks.")
		return nil
	}
	lines = append(lines,
		errLine("Host key for %s has changed and you have requested strict checking.", name),
		fatalLine("Host key verification failed."))
	f := newFailure(engine.ReasonHostKeyChanged, err, lines...)
	// The banner goes to stderr as OpenSSH prints it; the reason is one
	// sentence.
	f.summary = fmt.Sprintf("%s key %s sent by %s does not match %s:%d",
		keyTypeName(key), ssh.FingerprintSHA256(key), name, file, offending.Line)
	if certRefusal != nil {
		f.summary = certRefusal.summary + "; and its " + f.summary
	}
	return f
}

// revoked refuses the host when an @revoked line names key: what it sent
// (shown), or, role naming it, the key or authority of its certificate.
func (r *run) revoked(set *knownHostsSet, h hostID, key, shown ssh.PublicKey, role string) *failure {
	var revoked *knownhosts.RevokedError
	if !errors.As(set.check(h.hostport, fakeRemote, key), &revoked) {
		return nil
	}
	f := newFailure(engine.ReasonHostKeyChanged, revoked,
		errLine("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@"),
		errLine("@       WARNING: REVOKED HOST KEY DETECTED!               @"),
		errLine("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@"),
		errLine("The %s host key for %s is marked as revoked.", keyTypeName(shown), h.name),
		errLine("This could mean that a stolen key is being used to"),
		errLine("impersonate this host."),
		fatalLine("Host key verification failed."))
	where := fmt.Sprintf("is marked as revoked in %s:%d", set.realName(revoked.Revoked.Filename), revoked.Revoked.Line)
	if role == "" {
		f.summary = fmt.Sprintf("%s key %s of %s %s", keyTypeName(shown), ssh.FingerprintSHA256(shown), h.name, where)
	} else {
		f.summary = fmt.Sprintf("%s host certificate of %s: its %s %s %s", keyTypeName(shown), h.name, role, ssh.FingerprintSHA256(key), where)
	}
	return f
}

func keysEqual(a, b ssh.PublicKey) bool { return bytes.Equal(a.Marshal(), b.Marshal()) }

// realName is the known_hosts file a message names: the user's file, not
// the sanitized copy that was parsed in its place.
func (s *knownHostsSet) realName(file string) string {
	if real, ok := s.rename[file]; ok {
		return real
	}
	return file
}

// unknownHostKey handles a host key known under no name: refused with
// yes and ask, added to the first user known_hosts file with accept-new
// and no.
func (r *run) unknownHostKey(t *target, name string, key ssh.PublicKey, cause error) *failure {
	switch t.StrictHostKeyChecking {
	case "accept-new", "no":
		if len(t.UserKnownHostsFiles) == 0 {
			r.say(logInfo, "Failed to add the host to the list of known hosts (none).")
			return nil
		}
		file := t.UserKnownHostsFiles[0]
		added, err := r.d.addKnownHost(file, name, key, t.HashKnownHosts)
		switch {
		case err != nil:
			r.debugf("SSHCLIENT: %s: %v", t.Host, err)
			r.say(logInfo, fmt.Sprintf("Failed to add the host to the list of known hosts (%s).", file))
		case added:
			r.say(logInfo, fmt.Sprintf("Warning: Permanently added '%s' (%s) to the list of known hosts.", name, keyTypeName(key)))
		}
		return nil
	case "yes":
		return newFailure(engine.ReasonHostKeyUnknown, cause,
			errLine("No %s host key is known for %s and you have requested strict checking.", keyTypeName(key), name),
			fatalLine("Host key verification failed."))
	}
	// ask: in batch mode nothing can be asked, so OpenSSH fails with only
	// the last line.
	return newFailure(engine.ReasonHostKeyUnknown, cause, fatalLine("Host key verification failed."))
}

// addKnownHost appends host's key to file, once: under a process-wide
// mutex and an exclusive flock, it first checks that no other job of this
// driver, nor another process, added the key meanwhile. It reports
// whether it wrote the line.
func (d *Driver) addKnownHost(file, host string, key ssh.PublicKey, hash bool) (bool, error) {
	c := &d.cache.knownHosts
	c.appendMu.Lock()
	defer c.appendMu.Unlock()
	for _, k := range c.addedKeys(file, host) {
		if bytes.Equal(k.Marshal(), key.Marshal()) {
			return false, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return false, fmt.Errorf("add known host: %w", err)
	}
	before := statStamp(file)
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return false, fmt.Errorf("add known host: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return false, fmt.Errorf("add known host: lock %s: %w", file, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing unlocks too
	// Another process may have written the key since we parsed the file.
	if st := statStamp(file); st != missing && !c.stampKnown(file, st) {
		if check, err := knownhosts.New(file); err == nil && check(host, fakeRemote, key) == nil {
			return false, nil
		}
	}
	hostField := host
	if hash {
		hostField = knownhosts.HashHostname(host)
	}
	line := hostField + " " + key.Type() + " " + base64.StdEncoding.EncodeToString(key.Marshal()) + "\n"
	if _, err := f.WriteString(line); err != nil {
		return false, fmt.Errorf("add known host: %w", err)
	}
	after := d.restat(file)
	c.mu.Lock()
	if c.added == nil {
		c.added = make(map[string]map[string][]ssh.PublicKey)
	}
	if c.added[file] == nil {
		c.added[file] = make(map[string][]ssh.PublicKey)
	}
	c.added[file][host] = append(c.added[file][host], key)
	// The parsed sets that had the file as it was before our line are
	// still right with the line in c.added: move their stamp forward.
	for _, s := range c.sets {
		for i, sf := range s.files {
			if sf == file && s.stamps[i] == before {
				s.stamps[i] = after
			}
		}
	}
	c.mu.Unlock()
	return true, nil
}

// stampKnown reports whether some parsed set read file at stamp st.
func (c *knownHostsCache) stampKnown(file string, st fileStamp) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sets {
		for i, sf := range s.files {
			if sf == file && s.stamps[i] == st {
				return true
			}
		}
	}
	return false
}
