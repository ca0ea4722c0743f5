package ssh

import (
	"errors"

	"github.com/fleetsh/fleetsh/pkg/workers/exec"
)

// ErrUnsupportedOption matches (errors.Is) the errors of options that
// OpenSSH has and this driver does not implement: the openssh driver,
// which passes options to ssh itself, runs them.
var ErrUnsupportedOption = errors.New("option not supported by the native ssh driver")

// CheckOptions reports whether the driver can use value as the info key
// ssh_options (scp false) or scp_options (scp true), as it would read it
// for a job: nil, or the error the job would fail with, naming the first
// option it cannot use. A front end calls it before submitting a job, so
// that a typo or an unsupported option fails once instead of once per
// node.
func CheckOptions(value string, scp bool) error {
	key := "ssh_options"
	if scp {
		key = "scp_options"
	}
	info := func(k string) (any, bool) {
		if k == key {
			return value, true
		}
		return nil, false
	}
	words, err := exec.SplitInfoArgs(info, key, true)
	if err != nil {
		return err
	}
	_, err = parseCmdLine(words, key, scp)
	return err
}
