package csub

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// osError is a file error as Python's OSError prints it, which clush
// reports as "ERROR: <error>" (exit 1): "[Errno 2] No such file or
// directory: 'hosts'".
type osErrorT struct{ msg string }

func (e *osErrorT) Error() string { return e.msg }

func osError(err error) error {
	var pe *fs.PathError
	var errno syscall.Errno
	if !errors.As(err, &pe) || !errors.As(err, &errno) {
		return &osErrorT{err.Error()}
	}
	return &osErrorT{fmt.Sprintf("[Errno %d] %s: %s", int(errno), strerror(errno), pyfmt.ReprString(pe.Path))}
}

// strerror is the C library's message for errno; Go's start in lower
// case.
func strerror(errno syscall.Errno) string {
	msg := errno.Error()
	if msg != "" && msg[0] >= 'a' && msg[0] <= 'z' {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	return msg
}

// pyJoin is os.path.join(dir, name).
func pyJoin(dir, name string) string {
	switch {
	case strings.HasPrefix(name, "/"):
		return name
	case dir == "" || strings.HasSuffix(dir, "/"):
		return dir + name
	}
	return dir + "/" + name
}
