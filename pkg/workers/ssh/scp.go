package ssh

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fleetsh/fleetsh/internal/fileinfo"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// scpCopier speaks the scp protocol (the one OpenSSH's scp uses with -O)
// to "scp -t" (we send) or "scp -f" (we receive) run on the node.
//
// Every message is a line: "C<mode> <size> <name>" for a file, followed
// by its bytes and a status byte; "D<mode> 0 <name>" enters a directory,
// "E" leaves it; "T<mtime> 0 <atime> 0" gives the times of the next C or
// D (with -p). Each is answered with one status byte: 0 for success, 1
// for an error (followed by a message line; the transfer goes on with
// the next file), 2 for a fatal error.
type scpCopier struct {
	run      *run
	client   *ssh.Client
	preserve bool
	errs     int
}

func (s *scpCopier) failed() bool { return s.errs > 0 }

// shellQuote quotes p for the remote shell, leaving a leading "~/" out
// of the quotes so that the shell still expands it, as it does for
// scp's "node:~/file".
func shellQuote(p string) string {
	prefix := ""
	if p == "~" {
		return p
	}
	if strings.HasPrefix(p, "~/") {
		prefix, p = "~/", p[2:]
		if p == "" {
			return prefix
		}
	}
	return prefix + "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}

// scpSession is "scp -t" or "scp -f" running on the node.
type scpSession struct {
	sess *ssh.Session
	in   io.WriteCloser
	w    *bufio.Writer
	r    *bufio.Reader
}

// start runs "scp <mode> [-r] [-p] -- <path>" on the node: mode is -t
// (sink: receive into path) or -f (source: send path), -p comes with
// Preserve.
func (s *scpCopier) start(mode string, recursive bool, path string) (*scpSession, error) {
	args := mode
	if recursive {
		args += " -r"
	}
	if s.preserve {
		args += " -p"
	}
	sess, err := s.client.NewSession()
	if err != nil {
		return nil, &lostError{err}
	}
	in, err := sess.StdinPipe()
	if err != nil {
		_ = sess.Close()
		return nil, &lostError{err}
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		_ = sess.Close()
		return nil, &lostError{err}
	}
	// The remote scp's own complaints ("scp: /x: Permission denied") go
	// where ssh's stderr goes.
	sess.Stderr = s.run.diag
	if err := sess.Start("scp " + args + " -- " + shellQuote(path)); err != nil {
		_ = sess.Close()
		return nil, &lostError{err}
	}
	return &scpSession{sess: sess, in: in, w: bufio.NewWriterSize(in, 64<<10), r: bufio.NewReaderSize(out, 64<<10)}, nil
}

// finish closes the remote scp's input and waits for it; a non-zero exit
// counts as a failure (it printed why on its stderr).
func (s *scpCopier) finish(ss *scpSession) {
	_ = ss.w.Flush()
	_ = ss.in.Close()
	err := ss.sess.Wait()
	_ = ss.sess.Close()
	var ee *ssh.ExitError
	if errors.As(err, &ee) && s.errs == 0 {
		s.errs++
	}
}

// scpError is a status 1 or 2 answer.
type scpError struct {
	fatal bool
	msg   string
}

func (e *scpError) Error() string { return e.msg }

// ack reads one status byte (and its message).
func (ss *scpSession) ack() error {
	b, err := ss.r.ReadByte()
	if err != nil {
		return &lostError{err}
	}
	switch b {
	case 0:
		return nil
	case 1, 2:
		line, err := ss.r.ReadString('\n')
		if err != nil {
			return &lostError{err}
		}
		return &scpError{fatal: b == 2, msg: strings.TrimSuffix(line, "\n")}
	}
	line, _ := ss.r.ReadString('\n')
	return &lostError{fmt.Errorf("protocol error: unexpected <%q%s>", b, strings.TrimSuffix(line, "\n"))}
}

// send writes a protocol line and reads its answer.
func (ss *scpSession) send(line string) error {
	if _, err := ss.w.WriteString(line); err != nil {
		return &lostError{err}
	}
	if err := ss.w.Flush(); err != nil {
		return &lostError{err}
	}
	return ss.ack()
}

// answerErr handles an answer: an error of one file is printed (the
// message is already "scp: ...") and counted, and the copy goes on; a
// fatal one or a broken connection stops it.
func (s *scpCopier) answerErr(err error) (skip bool, stop error) {
	if err == nil {
		return false, nil
	}
	var se *scpError
	if errors.As(err, &se) {
		s.errs++
		s.run.say(logError, se.msg)
		if se.fatal {
			return true, &lostError{se}
		}
		return true, nil
	}
	return true, err
}

func (s *scpCopier) put(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		s.errs++
		s.run.say(logError, fmt.Sprintf("scp: %s: %s", src, describe(err)))
		return nil
	}
	ss, err := s.start("-t", fi.IsDir(), dst)
	if err != nil {
		return err
	}
	defer s.finish(ss)
	// The sink speaks first: 0 when it is ready.
	if _, stop := s.answerErr(ss.ack()); stop != nil {
		return stop
	}
	return s.sendEntry(ss, src, fi)
}

func (s *scpCopier) sendTimes(ss *scpSession, fi fs.FileInfo) (skip bool, stop error) {
	if !s.preserve {
		return false, nil
	}
	return s.answerErr(ss.send(fmt.Sprintf("T%d 0 %d 0\n", fi.ModTime().Unix(), fileinfo.AccessTime(fi).Unix())))
}

func (s *scpCopier) sendEntry(ss *scpSession, p string, fi fs.FileInfo) error {
	name := filepath.Base(p)
	if strings.ContainsAny(name, "\n") {
		s.errs++
		s.run.say(logError, fmt.Sprintf("scp: %s: filename contains a newline", p))
		return nil
	}
	switch {
	case fi.IsDir():
		return s.sendDir(ss, p, name, fi)
	case fi.Mode().IsRegular():
		return s.sendFile(ss, p, name, fi)
	}
	s.errs++
	s.run.say(logError, fmt.Sprintf("scp: %s: not a regular file", p))
	return nil
}

func (s *scpCopier) sendFile(ss *scpSession, p, name string, fi fs.FileInfo) error {
	f, err := os.Open(p)
	if err != nil {
		s.errs++
		s.run.say(logError, fmt.Sprintf("scp: %s: %s", p, describe(err)))
		return nil
	}
	defer f.Close()
	if skip, stop := s.sendTimes(ss, fi); skip || stop != nil {
		return stop
	}
	size := fi.Size()
	if skip, stop := s.answerErr(ss.send(fmt.Sprintf("C%04o %d %s\n", protocol.ModeBits(fi.Mode()), size, name))); skip || stop != nil {
		return stop
	}
	n, rerr := io.Copy(ss.w, io.LimitReader(f, size))
	if rerr == nil && n < size {
		rerr = io.ErrUnexpectedEOF // the file shrank while we sent it
	}
	if rerr != nil {
		var lerr *lostError
		if errors.As(rerr, &lerr) {
			return rerr
		}
		// Keep the protocol in step: pad to the announced size, then
		// report the error instead of the success byte, as scp does.
		if _, err := io.CopyN(ss.w, zeroReader{}, size-n); err != nil {
			return &lostError{err}
		}
		msg := fmt.Sprintf("scp: %s: %s", p, describe(rerr))
		s.errs++
		s.run.say(logError, msg)
		if _, err := ss.w.WriteString("\x01" + msg + "\n"); err != nil {
			return &lostError{err}
		}
	} else if err := ss.w.WriteByte(0); err != nil {
		return &lostError{err}
	}
	if err := ss.w.Flush(); err != nil {
		return &lostError{err}
	}
	_, stop := s.answerErr(ss.ack())
	return stop
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func (s *scpCopier) sendDir(ss *scpSession, p, name string, fi fs.FileInfo) error {
	// List the directory before the sink creates anything: a tree sent
	// into itself (dst inside p) must not send what it receives.
	entries, rerr := os.ReadDir(p)
	if skip, stop := s.sendTimes(ss, fi); skip || stop != nil {
		return stop
	}
	if skip, stop := s.answerErr(ss.send(fmt.Sprintf("D%04o 0 %s\n", protocol.ModeBits(fi.Mode()), name))); skip || stop != nil {
		return stop
	}
	if rerr != nil {
		s.errs++
		s.run.say(logError, fmt.Sprintf("scp: %s: %s", p, describe(rerr)))
	}
	for _, e := range entries {
		child := filepath.Join(p, e.Name())
		cfi, err := os.Stat(child) // follow symbolic links, as scp
		if err != nil {
			s.errs++
			s.run.say(logError, fmt.Sprintf("scp: %s: %s", child, describe(err)))
			continue
		}
		if err := s.sendEntry(ss, child, cfi); err != nil {
			return err
		}
	}
	_, stop := s.answerErr(ss.send("E\n"))
	return stop
}

// sinkDir is a directory being received, with what to apply when its
// "E" arrives.
type sinkDir struct {
	path  string
	mode  fs.FileMode
	times *[2]time.Time // mtime, atime
}

// get runs "scp -f" on the node and receives into dst.
func (s *scpCopier) get(src, dst string) error {
	ss, err := s.start("-f", true, src)
	if err != nil {
		return err
	}
	defer s.finish(ss)
	var (
		stack []sinkDir
		times *[2]time.Time
	)
	ok := func() error {
		if err := ss.w.WriteByte(0); err != nil {
			return &lostError{err}
		}
		if err := ss.w.Flush(); err != nil {
			return &lostError{err}
		}
		return nil
	}
	// refuse answers a C or D we cannot honour: the source skips it.
	refuse := func(p string, err error) error {
		msg := fmt.Sprintf("scp: %s: %s", p, describe(err))
		s.errs++
		s.run.say(logError, msg)
		if _, werr := ss.w.WriteString("\x01" + msg + "\n"); werr != nil {
			return &lostError{werr}
		}
		if werr := ss.w.Flush(); werr != nil {
			return &lostError{werr}
		}
		return nil
	}
	if err := ok(); err != nil {
		return err
	}
	for {
		kind, err := ss.r.ReadByte()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &lostError{err}
		}
		line, err := ss.r.ReadString('\n')
		if err != nil {
			return &lostError{err}
		}
		line = strings.TrimSuffix(line, "\n")
		switch kind {
		case 1, 2:
			s.errs++
			s.run.say(logError, line)
			if kind == 2 {
				return nil
			}
			continue
		case 'T':
			var mt, ma, at, aa int64
			if _, err := fmt.Sscanf(line, "%d %d %d %d", &mt, &ma, &at, &aa); err != nil {
				return &lostError{fmt.Errorf("protocol error: bad T line %q", line)}
			}
			times = &[2]time.Time{time.Unix(mt, 0), time.Unix(at, 0)}
			if err := ok(); err != nil {
				return err
			}
			continue
		case 'E':
			if len(stack) == 0 {
				return &lostError{errors.New("protocol error: unexpected E")}
			}
			d := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			s.applyLocal(d.path, d.mode, d.times)
			if err := ok(); err != nil {
				return err
			}
			continue
		case 'C', 'D':
		default:
			return &lostError{fmt.Errorf("protocol error: unexpected <%q%s>", kind, line)}
		}
		modeStr, rest, ok1 := strings.Cut(line, " ")
		sizeStr, name, ok2 := strings.Cut(rest, " ")
		bits, err1 := strconv.ParseUint(modeStr, 8, 32)
		size, err2 := strconv.ParseInt(sizeStr, 10, 64)
		if !ok1 || !ok2 || err1 != nil || err2 != nil || size < 0 {
			return &lostError{fmt.Errorf("protocol error: bad %c line %q", kind, line)}
		}
		// A name from the node must not climb out of the destination
		// (CVE-2018-20685, CVE-2019-6111).
		if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
			return &lostError{fmt.Errorf("protocol error: unsafe file name %q", name)}
		}
		mode := protocol.FileModeOf(uint32(bits))
		var target string
		if len(stack) == 0 {
			target = dst
			if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
				target = filepath.Join(dst, name)
			}
		} else {
			target = filepath.Join(stack[len(stack)-1].path, name)
		}
		t := times
		times = nil
		if kind == 'D' {
			fi, err := os.Stat(target)
			switch {
			case err == nil && !fi.IsDir():
				if err := refuse(target, errNotDir); err != nil {
					return err
				}
				continue
			case err != nil:
				if err := os.Mkdir(target, mode.Perm()|0o700); err != nil {
					if err := refuse(target, err); err != nil {
						return err
					}
					continue
				}
			}
			stack = append(stack, sinkDir{path: target, mode: mode, times: t})
			if err := ok(); err != nil {
				return err
			}
			continue
		}
		if err := s.receiveFile(ss, target, mode, size, t, ok, refuse); err != nil {
			return err
		}
	}
}

var errNotDir = errors.New("Not a directory") //nolint:staticcheck // strerror(ENOTDIR)

// receiveFile receives one file's bytes into target.
func (s *scpCopier) receiveFile(ss *scpSession, target string, mode fs.FileMode, size int64, t *[2]time.Time, ok func() error, refuse func(string, error) error) error {
	// No O_TRUNC (the target may be the file the node sends), and a
	// truncation once written, as OpenSSH's scp sink.
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE, mode.Perm())
	if err != nil {
		return refuse(target, err)
	}
	if err := ok(); err != nil {
		f.Close()
		return err
	}
	// Read all of the announced bytes even if writing fails, to stay in
	// step with the source.
	n, werr := io.Copy(f, io.LimitReader(ss.r, size))
	if werr == nil && n < size {
		f.Close()
		return &lostError{io.ErrUnexpectedEOF}
	}
	if werr != nil {
		if _, err := io.CopyN(io.Discard, ss.r, size-n); err != nil {
			f.Close()
			return &lostError{err}
		}
	}
	if werr == nil {
		werr = truncateRegular(f, size)
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	// The source's status byte after the data.
	if _, stop := s.answerErr(ss.ack()); stop != nil {
		return stop
	}
	if werr != nil {
		return refuse(target, werr)
	}
	s.applyLocal(target, mode, t)
	return ok()
}

// applyLocal applies a received entry's mode and times with Preserve.
func (s *scpCopier) applyLocal(p string, mode fs.FileMode, t *[2]time.Time) {
	if !s.preserve {
		return
	}
	if err := os.Chmod(p, mode); err != nil {
		s.errs++
		s.run.say(logError, fmt.Sprintf("scp: %s: %s", p, describe(err)))
	}
	if t != nil {
		if err := os.Chtimes(p, t[1], t[0]); err != nil {
			s.errs++
			s.run.say(logError, fmt.Sprintf("scp: %s: %s", p, describe(err)))
		}
	}
}
