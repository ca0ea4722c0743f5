package csub

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// clush.conf's fd_max is the open files soft limit clush sets for itself
// (Clush.py's set_fdlimit): min(fd_max, hard limit). csub sets it for its
// own process, so commands of the exec worker (and ssh, rsh, pdsh
// processes) that the in-process fleet starts inherit it, as clush's
// do. With --fleet the agents run elsewhere and keep the limit they were
// started with: fd_max does not travel with the job.
//
// One difference: Go raises its soft limit (to the hard one minus one)
// at start-up, so "Changing max open files soft limit from N" names that
// raised value where clush names the limit it was started with.

// rlimits reads and sets the open files limit (the process's own in
// Main; a fake in tests, which must not change the test binary's).
type rlimits interface {
	get() (soft, hard uint64, err error)
	set(soft, hard uint64) error
}

// processLimits is this process's RLIMIT_NOFILE.
type processLimits struct{}

func (processLimits) get() (soft, hard uint64, err error) {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil {
		return 0, 0, fmt.Errorf("read the open files limit: %w", err)
	}
	return l.Cur, l.Max, nil
}

func (processLimits) set(soft, hard uint64) error {
	return unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: soft, Max: hard})
}

// pyRlim is a limit as Python's resource module shows it: RLIM_INFINITY
// is -1.
func pyRlim(v uint64) int64 {
	if v == unix.RLIM_INFINITY {
		return -1
	}
	return int64(v)
}

// setFdLimit is set_fdlimit: its messages, at its verbosity levels, and
// the soft limit set to min(fdMax, hard) with Python's integer
// comparisons (an infinite hard limit is -1 there).
func setFdLimit(lim rlimits, fdMax int, d *display) {
	cur, max, err := lim.get()
	if err != nil {
		d.vprintErr(verbVerb, "Warning: %v", err)
		return
	}
	soft, hard := pyRlim(cur), pyRlim(max)
	if hard < int64(fdMax) {
		d.vprintErr(verbVerb, "Warning: fd_max set to %d but max open files hard limit is %d", fdMax, hard)
	}
	want := min(hard, int64(fdMax))
	if soft == want {
		return
	}
	d.vprint(verbDebug, "Changing max open files soft limit from %d to %d", soft, want)
	// Python hands the value to setrlimit as an rlim_t: -1 is
	// RLIM_INFINITY, another negative number a huge limit (refused).
	if err := lim.set(uint64(want), max); err != nil {
		d.vprintErr(verbVerb, "Warning: Failed to set max open files limit to %d (%s)", want, pySetrlimitError(err))
	}
}

// pySetrlimitError is the text of the exception Python's
// resource.setrlimit raises for err.
func pySetrlimitError(err error) string {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	switch errno {
	case unix.EINVAL:
		return "current limit exceeds maximum limit"
	case unix.EPERM:
		return "not allowed to raise maximum limit"
	}
	return fmt.Sprintf("[Errno %d] %s", int(errno), strerror(errno))
}
