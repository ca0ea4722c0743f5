package ssh

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// algorithmKeys are the algorithm-list keywords the driver honours, each
// with the names x/crypto implements for it (safe ones first, in its
// order, then the insecure ones a user may still ask for by name) and
// OpenSSH's word for a bad list.
var algorithmKeys = map[string]struct {
	what        string
	implemented func() (safe, insecure []string)
}{
	"kexalgorithms": {"KexAlgorithms", func() ([]string, []string) {
		return ssh.SupportedAlgorithms().KeyExchanges, ssh.InsecureAlgorithms().KeyExchanges
	}},
	"ciphers": {"Ciphers", func() ([]string, []string) {
		return ssh.SupportedAlgorithms().Ciphers, ssh.InsecureAlgorithms().Ciphers
	}},
	"macs": {"MACs", func() ([]string, []string) {
		return ssh.SupportedAlgorithms().MACs, ssh.InsecureAlgorithms().MACs
	}},
}

// opensshOnly are names OpenSSH accepts that x/crypto does not implement:
// a list naming them is valid (as ssh_config files shared with OpenSSH
// hold), they are left out of what is offered.
var opensshOnly = []string{
	"sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com",
	"diffie-hellman-group18-sha512", "diffie-hellman-group-exchange-sha1",
	"chacha20-poly1305@openssh.com", "aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc", "aes192-ctr",
	"umac-64-etm@openssh.com", "umac-128-etm@openssh.com", "umac-64@openssh.com", "umac-128@openssh.com",
	"hmac-sha1-96", "hmac-sha1-96-etm@openssh.com", "hmac-md5", "hmac-md5-96", "hmac-md5-etm@openssh.com",
	"hmac-md5-96-etm@openssh.com",
}

// parseAlgorithms resolves an OpenSSH algorithm list (KexAlgorithms,
// Ciphers, MACs) against what x/crypto implements: a plain list replaces
// the default, "+list" appends to it, "-patterns" removes the names
// matching any pattern (* and ?), "^list" puts the names first. The
// default is x/crypto's safe algorithms in its order. A name neither
// x/crypto nor OpenSSH knows is an error, as in OpenSSH; names only
// OpenSSH implements are dropped; a list left empty is an error.
func parseAlgorithms(kw, spec string) ([]string, error) {
	k := algorithmKeys[kw]
	safe, insecure := k.implemented()
	bad := func(detail string) error {
		return fmt.Errorf("Bad SSH2 %s '%s'%s", k.what, spec, detail)
	}
	if spec == "" {
		return nil, bad("")
	}
	op, list := spec[0], spec[1:]
	switch op {
	case '+', '-', '^':
	default:
		op, list = '=', spec
	}
	names := strings.Split(list, ",")
	known := func(n string) bool {
		return slices.Contains(safe, n) || slices.Contains(insecure, n) || slices.Contains(opensshOnly, n)
	}
	for _, n := range names {
		if n == "" {
			return nil, bad("")
		}
		if op == '-' {
			if _, err := path.Match(n, ""); err != nil {
				return nil, bad(": " + err.Error())
			}
			continue
		}
		if !known(n) {
			return nil, bad(fmt.Sprintf(": unknown %s", n))
		}
	}
	implemented := func(ns []string) []string {
		var out []string
		for _, n := range ns {
			if (slices.Contains(safe, n) || slices.Contains(insecure, n)) && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		return out
	}
	var out []string
	switch op {
	case '=':
		out = implemented(names)
	case '+':
		out = implemented(append(slices.Clone(safe), names...))
	case '^':
		out = implemented(append(slices.Clone(names), safe...))
	case '-':
		for _, n := range safe {
			if !slices.ContainsFunc(names, func(p string) bool { ok, _ := path.Match(p, n); return ok }) {
				out = append(out, n)
			}
		}
	}
	if len(out) == 0 {
		return nil, bad(": none of them is implemented")
	}
	return out, nil
}
