package ssh

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckOptions(t *testing.T) {
	for _, c := range []struct {
		value       string
		scp         bool
		err         string // "" for none
		unsupported bool
	}{
		{"", false, "", false},
		{"-F /etc/x -i ~/.ssh/id -p 2222 -l bob -o StrictHostKeyChecking=no -oConnectTimeout=3 -T", false, "", false},
		{"-P 2222 -p -r", true, "", false},
		{"-A", false, `ssh_options: unsupported option "-A": `, true},
		{"-o Compression=yes", false, `ssh_options: unsupported option "-o Compression=yes": `, true},
		{"-l bob", true, `scp_options: unsupported option "-l": `, true},
		{"-p 99999", false, `ssh_options: -p 99999: Bad port '99999'`, false},
		{"-o 'User", false, "info key ssh_options: No closing quotation", false},
		{"host", false, `ssh_options: unexpected argument "host"`, false},
	} {
		err := CheckOptions(c.value, c.scp)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.value, err)
		case c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)):
			t.Errorf("%q: got %v, want %s...", c.value, err, c.err)
		case err != nil && errors.Is(err, ErrUnsupportedOption) != c.unsupported:
			t.Errorf("%q: unsupported %v, want %v", c.value, !c.unsupported, c.unsupported)
		}
	}
}
