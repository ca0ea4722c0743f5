//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package csub

import "golang.org/x/sys/unix"

// The terminal attribute requests (tcgetattr, tcsetattr) on the BSDs.

func getTermios(fd int) (*unix.Termios, error) { return unix.IoctlGetTermios(fd, unix.TIOCGETA) }

func setTermios(fd int, t *unix.Termios) error { return unix.IoctlSetTermios(fd, unix.TIOCSETA, t) }
