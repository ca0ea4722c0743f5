package exec

import (
	"errors"
	"strings"
)

// ErrInvalidHostname is OpenSSH's refusal of a host name that holds shell
// syntax or starts with '-' (ssh(1) since 9.6: such a name given on the
// command line could run commands through a ProxyCommand's %h, or be read
// as an option).
var ErrInvalidHostname = errors.New("hostname contains invalid characters")

// ValidHostname is OpenSSH's valid_hostname: node may reach ssh as a host
// unless it starts with '-' or holds one of '`"$\;&<>|(){} or a blank or
// control character. The ssh drivers (native and openssh) check every
// node with it before anything runs.
func ValidHostname(node string) error {
	if strings.HasPrefix(node, "-") {
		return ErrInvalidHostname
	}
	for i := 0; i < len(node); i++ {
		c := node[i]
		if strings.IndexByte("'`\"$\\;&<>|(){}", c) >= 0 || c <= ' ' || c == 0x7f {
			return ErrInvalidHostname
		}
	}
	return nil
}
