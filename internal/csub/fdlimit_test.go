package csub

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeLimits is an open files limit that is not the test binary's.
type fakeLimits struct {
	soft, hard uint64
	err        error // what set returns
	sets       int
}

func (f *fakeLimits) get() (uint64, uint64, error) { return f.soft, f.hard, nil }

func (f *fakeLimits) set(soft, hard uint64) error {
	f.sets++
	if f.err != nil {
		return f.err
	}
	f.soft, f.hard = soft, hard
	return nil
}

// TestSetFdLimit follows Clush.py's set_fdlimit: the soft limit becomes
// min(fd_max, hard), with its messages at -d and -v (outputs of the
// reference clush 1.9.1 with -O fd_max=N).
func TestSetFdLimit(t *testing.T) {
	for _, c := range []struct {
		name       string
		verb       string
		soft, hard uint64
		fdMax      int
		err        error
		want       string
		wantSoft   uint64
		sets       int
	}{
		{"lowered", "-d", 20000, 20000, 100, nil, "Changing max open files soft limit from 20000 to 100\n", 100, 1},
		{"lowered silently", "-v", 20000, 20000, 100, nil, "", 100, 1},
		{"already there", "-d", 8192, 20000, 8192, nil, "", 8192, 0},
		{"above the hard limit", "-v", 20000, 20000, 30000, nil,
			"Warning: fd_max set to 30000 but max open files hard limit is 20000\n", 20000, 0},
		{"raised to the hard limit", "-d", 1000, 20000, 30000, nil,
			"Warning: fd_max set to 30000 but max open files hard limit is 20000\n" +
				"Changing max open files soft limit from 1000 to 20000\n", 20000, 1},
		{"refused", "-d", 20000, 20000, -5, unix.EINVAL,
			"Changing max open files soft limit from 20000 to -5\n" +
				"Warning: Failed to set max open files limit to -5 (current limit exceeds maximum limit)\n", 20000, 1},
		{"infinite hard limit", "-d", 1024, unix.RLIM_INFINITY, 8192, nil,
			"Warning: fd_max set to 8192 but max open files hard limit is -1\n" +
				"Changing max open files soft limit from 1024 to -1\n", unix.RLIM_INFINITY, 1},
		{"quiet", "-q", 20000, 20000, 30000, nil, "", 20000, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var w bytes.Buffer
			r, _ := newTestRenderer(t, []string{"n1"}, []string{c.verb}, &w)
			lim := &fakeLimits{soft: c.soft, hard: c.hard, err: c.err}
			setFdLimit(lim, c.fdMax, r.d)
			_ = r.d.o.flush()
			if got := w.String(); got != c.want {
				t.Errorf("printed %q, want %q", got, c.want)
			}
			if lim.soft != c.wantSoft || lim.hard != c.hard || lim.sets != c.sets {
				t.Errorf("limit %d/%d after %d sets, want %d/%d after %d", lim.soft, lim.hard, lim.sets, c.wantSoft, c.hard, c.sets)
			}
		})
	}
}
