package csub

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// terminal is csub's side of the user's terminal, what clush gets from
// readline and its tty checks: whether standard input is the foreground
// terminal (interactive mode, keys read during a run), the live progress
// line on a terminal standard error (progress.go), and the terminal modes
// csub switches between. It is nil when neither standard input nor
// standard error is a terminal, as in every test that compares csub's
// output with clush's; all its methods accept a nil receiver.
type terminal struct {
	// in is standard input when it is a terminal and csub is in its
	// foreground process group (clush's stdin_isafgtty), else nil.
	in     *os.File
	inOrig *unix.Termios // in's settings at start, restored at the end
	// errw is standard error when it is a terminal: the progress line and
	// the status lines go there. outTTY says standard output is a
	// terminal too (the same one, presumably): the progress line is erased
	// before standard output is written as well.
	errw   io.Writer
	errFd  int // errw's descriptor (for its width), -1 if none
	outTTY bool

	// lines, when set, replaces the terminal as the source of the
	// interactive prompt's lines (tests run sessions through it).
	lines func(prompt string) (string, error)
	// now, when set, replaces time.Now as the clock a job's progress
	// starts from (tests drive the line with tick and their own times).
	now func() time.Time

	modeMu  sync.Mutex
	mode    termMode
	sigOnce sync.Once

	// mu serializes everything written to the terminal while a job runs:
	// output (through wrap), the progress line and the status lines.
	mu  sync.Mutex
	bol bool     // the cursor is at the start of a line (after a '\n')
	cr  bool     // it is at column 0 after a '\r' (clush's counter)
	pl  plState  // the progress line (progress.go)
	tr  *tracker // the running job, nil between jobs
	// want are the status requests (keys) not printed yet: they wait for
	// the cursor to be at the start of a line.
	want   wantFlags
	ticker *ticker
	keys   *keyReader
}

// termMode is how the terminal of standard input is set.
type termMode int

const (
	// modeOrig is the terminal as csub found it (canonical, echo).
	modeOrig termMode = iota
	// modePrompt is raw input for the line editor, keeping output
	// processing so that "\n" still returns the carriage for output
	// written between prompts.
	modePrompt
	// modeRun is cbreak while a job runs: keys arrive one by one without
	// echo (Ctrl-T, Enter), and the terminal still turns Ctrl-C and Ctrl-Z
	// into signals, so an interrupt works as in a one-shot clush run.
	modeRun
)

// newTerminal returns the terminal behind stdin and stderr, or nil when
// neither is one. Only *os.File can be a terminal.
func newTerminal(stdin io.Reader, stdout, stderr io.Writer) *terminal {
	t := &terminal{bol: true, errFd: -1}
	if f, ok := stdin.(*os.File); ok && isForegroundTTY(int(f.Fd())) {
		st, err := getTermios(int(f.Fd()))
		if err == nil {
			t.in, t.inOrig = f, st
		}
	}
	if f, ok := stderr.(*os.File); ok && isTTY(int(f.Fd())) {
		t.errw, t.errFd = f, int(f.Fd())
	}
	if f, ok := stdout.(*os.File); ok && isTTY(int(f.Fd())) {
		t.outTTY = true
	}
	if t.in == nil && t.errw == nil {
		return nil
	}
	return t
}

func isTTY(fd int) bool {
	_, err := getTermios(fd)
	return err == nil
}

// isForegroundTTY is clush's check that standard input is a terminal and
// that csub is its foreground job (not started with "&"): reading it, or
// changing its modes, would stop a background job (SIGTTIN, SIGTTOU).
func isForegroundTTY(fd int) bool {
	if !isTTY(fd) {
		return false
	}
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}

// interactiveTTY tells whether clush would run interactively: standard
// input and output are both the foreground terminal (user_interaction).
func (t *terminal) interactiveTTY(stdout io.Writer) bool {
	if t == nil || t.in == nil {
		return false
	}
	f, ok := stdout.(*os.File)
	return ok && isForegroundTTY(int(f.Fd()))
}

// setMode switches the terminal of standard input to m. The first switch
// away from the original settings also starts watchSignals, so that the
// user's shell never gets the terminal without echo.
func (t *terminal) setMode(m termMode) {
	if t == nil || t.in == nil {
		return
	}
	if m != modeOrig {
		t.sigOnce.Do(t.watchSignals)
	}
	t.modeMu.Lock()
	defer t.modeMu.Unlock()
	if m != t.mode {
		t.mode = m
		t.applyLocked()
	}
}

// applyLocked sets the terminal to t.mode, unless csub is in the
// background (put there with Ctrl-Z and bg): tcsetattr would stop it
// (SIGTTOU). The mode is set again when csub is continued (SIGCONT).
func (t *terminal) applyLocked() {
	fd := int(t.in.Fd())
	if !isForegroundTTY(fd) {
		return
	}
	st := *t.inOrig
	switch t.mode {
	case modePrompt:
		st.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		st.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		st.Cflag &^= unix.CSIZE | unix.PARENB
		st.Cflag |= unix.CS8
		st.Cc[unix.VMIN], st.Cc[unix.VTIME] = 1, 0
	case modeRun:
		st.Lflag &^= unix.ECHO | unix.ICANON
		st.Cc[unix.VMIN], st.Cc[unix.VTIME] = 1, 0
	}
	_ = setTermios(fd, &st)
}

// watchSignals handles the signals that would leave the terminal in csub's
// mode: SIGTERM and SIGHUP restore it and end csub as their default action
// does; Ctrl-Z (SIGTSTP) erases the progress line and restores it, then
// stops csub; SIGCONT sets csub's mode again (the shell may have set its
// own meanwhile). A signal ignored when csub started (nohup) stays so.
func (t *terminal) watchSignals() {
	var sigs []os.Signal
	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGTSTP, syscall.SIGCONT} {
		if !signal.Ignored(sig) {
			sigs = append(sigs, sig)
		}
	}
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, sigs...)
	go func() {
		fd := int(t.in.Fd())
		for sig := range ch {
			switch sig {
			case syscall.SIGCONT:
				t.modeMu.Lock()
				t.applyLocked()
				t.modeMu.Unlock()
			case syscall.SIGTSTP:
				t.mu.Lock()
				t.eraseLocked()
				t.mu.Unlock()
				t.modeMu.Lock()
				if isForegroundTTY(fd) {
					_ = setTermios(fd, t.inOrig)
				}
				t.modeMu.Unlock()
				_ = syscall.Kill(os.Getpid(), syscall.SIGSTOP)
			default:
				t.modeMu.Lock() // kept: csub ends
				if isForegroundTTY(fd) {
					_ = setTermios(fd, t.inOrig)
				}
				signal.Reset(sig)
				_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
				return
			}
		}
	}()
}

// close stops what runs and gives the terminal back as it was.
func (t *terminal) close() {
	if t == nil {
		return
	}
	t.end()
	t.setMode(modeOrig)
}

// keyReader reads the keys typed on standard input while a job runs.
// Reads are done after a poll, with a pipe to wake the poll up, so that
// the reader stops at once when the job ends and nothing is left blocked
// in a read that would steal the first key of the next prompt.
type keyReader struct {
	wake *os.File // written to stop
	done chan struct{}
}

// Key bytes handled while a job runs.
const (
	keyStatus = 0x14 // Ctrl-T: BSD's status key (VSTATUS)
	keyCR     = '\r'
	keyNL     = '\n'
)

// startKeys starts reading keys; onKey gets each byte. It needs standard
// input in modeRun.
func startKeys(in *os.File, onKey func(byte)) *keyReader {
	r, w, err := os.Pipe()
	if err != nil {
		return nil
	}
	k := &keyReader{wake: w, done: make(chan struct{})}
	go func() {
		defer close(k.done)
		defer r.Close()
		fds := []unix.PollFd{{Fd: int32(in.Fd()), Events: unix.POLLIN}, {Fd: int32(r.Fd()), Events: unix.POLLIN}}
		buf := make([]byte, 64)
		for {
			if !isForegroundTTY(int(in.Fd())) {
				// Put in the background (Ctrl-Z, bg): a read would stop
				// csub (SIGTTIN). Wait for the foreground or the end.
				fds[0].Events = 0
			} else {
				fds[0].Events = unix.POLLIN
			}
			fds[0].Revents, fds[1].Revents = 0, 0
			n, err := unix.Poll(fds, 200)
			if err != nil && !errors.Is(err, unix.EINTR) {
				return
			}
			if n <= 0 {
				continue
			}
			if fds[1].Revents != 0 {
				return
			}
			if fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
				return // the terminal is gone
			}
			if fds[0].Revents&unix.POLLIN != 0 {
				n, err := unix.Read(int(in.Fd()), buf)
				if n <= 0 && err != unix.EINTR && err != unix.EAGAIN {
					return
				}
				for _, c := range buf[:max(n, 0)] {
					onKey(c)
				}
			}
		}
	}()
	return k
}

// stop stops the reader and waits for it.
func (k *keyReader) stop() {
	if k == nil {
		return
	}
	_, _ = k.wake.Write([]byte{0})
	select {
	case <-k.done:
	case <-time.After(time.Second): // a wedged terminal: do not hang csub
	}
	_ = k.wake.Close()
}
