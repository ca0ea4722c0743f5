package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/fleetsh/fleetsh/internal/fileinfo"
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// copy runs the job's copy over client: SFTP when the server offers the
// subsystem, else the scp protocol spoken to "scp -t" or "scp -f" run on
// the node (what OpenSSH's scp -O does). Like scp, it goes on after an
// error on one file, prints "scp: <path>: <error>" lines and ends with
// exit code 1 when anything failed.
func (r *run) copy(ctx context.Context, client *ssh.Client, t *target, cl *cmdLine) engine.Result {
	spec := r.job.Copy
	preserve := spec.Preserve || cl.preserve
	// Cancellation closes the connection: every SFTP request or scp read
	// in progress fails at once.
	stop := context.AfterFunc(ctx, func() { _ = client.Close() })
	defer stop()

	var cp copier
	if !cl.forceSCP {
		sc, err := openSFTP(client)
		switch {
		case err == nil:
			defer sc.Close()
			cp = &sftpCopier{run: r, c: sc, preserve: preserve, inFlight: r.d.copyFilesInFlight()}
			r.debugf("SCPCLIENT: %s: sftp %s", r.job.Node, copyText(spec))
		case cl.forceSFTP:
			if ctx.Err() != nil {
				return r.interrupted(ctx.Err())
			}
			r.say(logError, fmt.Sprintf("scp: sftp subsystem unavailable on %s: %v", t.HostName, err))
			return engine.Result{ExitCode: 1}
		default:
			r.debugf("SCPCLIENT: %s: no sftp (%v): scp protocol %s", r.job.Node, err, copyText(spec))
		}
	}
	if cp == nil {
		cp = &scpCopier{run: r, client: client, preserve: preserve}
	}
	var err error
	if spec.Reverse {
		err = cp.get(spec.Source, spec.Dest)
	} else {
		err = cp.put(spec.Source, spec.Dest)
	}
	if ctx.Err() != nil {
		return r.interrupted(ctx.Err())
	}
	if err != nil {
		var le *lostError
		if errors.As(err, &le) {
			return r.fail(newFailure(engine.ReasonConnect, fmt.Errorf("%s: copy: %w", r.job.Node, err),
				errLine("Connection to %s closed by remote host.", t.HostName)))
		}
		r.say(logError, "scp: "+err.Error())
		return engine.Result{ExitCode: 1}
	}
	if cp.failed() {
		return engine.Result{ExitCode: 1}
	}
	return engine.Result{ExitCode: 0}
}

func copyText(spec *protocol.CopySpec) string {
	if spec.Reverse {
		return "remote:" + spec.Source + " -> " + spec.Dest
	}
	return spec.Source + " -> remote:" + spec.Dest
}

// copier copies a file or a tree: put sends local src to remote dst, get
// fetches remote src into local dst. Errors on single files are printed
// and counted (failed); the error returned stops the whole copy.
type copier interface {
	put(src, dst string) error
	get(src, dst string) error
	failed() bool
}

// lostError is a copy that stopped because the connection or the
// protocol broke, not because of a file.
type lostError struct{ err error }

func (e *lostError) Error() string { return "lost connection: " + e.err.Error() }
func (e *lostError) Unwrap() error { return e.err }

// describe renders a file error as strerror does ("No such file or
// directory").
func describe(err error) string {
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		return strerror(errno)
	case errors.Is(err, fs.ErrNotExist):
		return "No such file or directory"
	case errors.Is(err, fs.ErrPermission):
		return "Permission denied"
	}
	var se *sftp.StatusError
	if errors.As(err, &se) {
		return se.Error()
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// newMode is the mode of a file or directory created without Preserve:
// the source's, less the usual umask (022), as scp's sink gets it from
// open(2); with SFTP the server's umask is unknown, so the mask is applied
// here. It keeps scripts executable, which a plain 0644 would not.
func newMode(m fs.FileMode) fs.FileMode { return m.Perm() &^ 0o022 }

// sftpClient is an SFTP client and its session.
type sftpClient struct {
	*sftp.Client
	sess *ssh.Session
}

func (s *sftpClient) Close() error {
	err := s.Client.Close()
	_ = s.sess.Close()
	return err
}

// openSFTP starts the sftp subsystem. An error means SFTP cannot be used
// (refused, or the server's sftp-server did not start): the caller falls
// back to scp, which fails on its own if the connection is gone.
func openSFTP(client *ssh.Client) (*sftpClient, error) {
	sess, err := client.NewSession()
	if err != nil {
		return nil, err
	}
	w, err := sess.StdinPipe()
	if err != nil {
		_ = sess.Close()
		return nil, err
	}
	rd, err := sess.StdoutPipe()
	if err != nil {
		_ = sess.Close()
		return nil, err
	}
	if err := sess.RequestSubsystem("sftp"); err != nil {
		_ = sess.Close()
		return nil, err
	}
	c, err := sftp.NewClientPipe(rd, w, sftp.UseConcurrentWrites(true), sftp.UseConcurrentReads(true))
	if err != nil {
		_ = sess.Close()
		return nil, err
	}
	return &sftpClient{Client: c, sess: sess}, nil
}

// sftpCopier copies with SFTP. A put or a get walks the tree on one
// goroutine and copies its files through a window (several at once, see
// window).
type sftpCopier struct {
	run      *run
	c        *sftpClient
	preserve bool
	inFlight int     // the window's size
	win      *window // set by put and get
	errs     atomic.Int64
}

func (s *sftpCopier) failed() bool { return s.errs.Load() > 0 }

// report prints a per-file error and counts it; an error of the
// connection itself stops the copy. The line goes to out, the lines of a
// file copied in the window, when out is not nil, else to the window's
// walk (in turn after the files before), else straight out.
func (s *sftpCopier) report(out *entryLines, p string, err error) error {
	if errors.Is(err, sftp.ErrSSHFxConnectionLost) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &lostError{err}
	}
	s.line(out, fmt.Sprintf("scp: %s: %s", p, describe(err)))
	return nil
}

// line prints (see report) and counts a per-file error line.
func (s *sftpCopier) line(out *entryLines, l string) {
	s.errs.Add(1)
	switch {
	case out != nil:
		out.lines = append(out.lines, l)
	case s.win != nil:
		s.win.line(l)
	default:
		s.run.say(logError, l)
	}
}

func (s *sftpCopier) put(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return s.report(nil, src, err)
	}
	target := dst
	if rfi, err := s.c.Stat(dst); err == nil && rfi.IsDir() {
		target = path.Join(dst, filepath.Base(src))
	}
	s.win = newWindow(s.inFlight, func(l string) { s.run.say(logError, l) })
	err = s.putEntry(src, target, fi, false, nil)
	if werr := s.win.wait(); err == nil {
		err = werr
	}
	return err
}

// putEntry copies src to dst, a directory on the walk's goroutine, a
// file in the window (counted in files when not nil). fresh says that
// dst's directory was created by this copy: dst does not exist, and is
// not looked at first.
func (s *sftpCopier) putEntry(src, dst string, fi fs.FileInfo, fresh bool, files *sync.WaitGroup) error {
	switch {
	case fi.IsDir():
		return s.putDir(src, dst, fi, fresh)
	case fi.Mode().IsRegular():
		return s.startFile(fi.Size(), files, func(out *entryLines) error {
			return s.putFile(out, src, dst, fi, fresh)
		})
	}
	s.line(nil, fmt.Sprintf("scp: %s: not a regular file", src))
	return nil
}

// startFile copies a file of size bytes with copy in the window,
// counted in files when not nil, unless a file copy lost the connection.
func (s *sftpCopier) startFile(size int64, files *sync.WaitGroup, copy func(out *entryLines) error) error {
	if err := s.win.failure(); err != nil {
		return err
	}
	if files != nil {
		files.Add(1)
	}
	s.win.start(s.win.places(size), func(out *entryLines) error {
		if files != nil {
			defer files.Done()
		}
		return copy(out)
	})
	return nil
}

// dirFiles counts the files copied into a directory when its times are
// to be set after them (Preserve: creating them changes its modification
// time); nil otherwise.
func (s *sftpCopier) dirFiles() *sync.WaitGroup {
	if s.preserve {
		return &sync.WaitGroup{}
	}
	return nil
}

// setDirAttrs runs set, which applies a directory's attributes, in the
// window once the files counted in files are in (see dirFiles).
func (s *sftpCopier) setDirAttrs(files *sync.WaitGroup, set func(out *entryLines) error) error {
	if files == nil {
		return nil
	}
	if err := s.win.failure(); err != nil {
		return err
	}
	s.win.start(1, func(out *entryLines) error {
		files.Wait()
		return set(out)
	})
	return nil
}

func (s *sftpCopier) putFile(out *entryLines, src, dst string, fi fs.FileInfo, fresh bool) error {
	f, err := os.Open(src)
	if err != nil {
		return s.report(out, src, err)
	}
	defer f.Close()
	// What was at dst: nothing in a directory this copy made, else ask.
	isNew, oldSize, regular := true, int64(0), true
	if !fresh {
		if rfi, err := s.c.Stat(dst); err == nil {
			isNew, oldSize, regular = false, rfi.Size(), rfi.Mode().IsRegular()
		}
	}
	// No O_TRUNC: the destination may be the source itself (a copy to
	// the node we run on, onto the same path), which truncating first
	// would empty before it is read. Like OpenSSH's scp (its SFTP client
	// and its scp sink), write over the old bytes, then cut the file at
	// the size written. Rewriting a file with its own bytes leaves it
	// intact; the destination keeps its inode, owner and links. Only a
	// regular file longer than what was written needs the cut: a new
	// file or a shorter one already ends there (one round trip less).
	rf, err := s.c.OpenFile(dst, os.O_WRONLY|os.O_CREATE)
	if err != nil {
		return s.report(out, dst, err)
	}
	n, err := rf.ReadFrom(f)
	if err == nil && !isNew && regular && oldSize > n {
		err = rf.Truncate(n)
	}
	if cerr := rf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return s.report(out, dst, err)
	}
	return s.setAttrs(out, dst, fi, isNew)
}

// setAttrs applies mode (always with Preserve, else to new files only,
// as scp) and, with Preserve, access and modification times.
func (s *sftpCopier) setAttrs(out *entryLines, dst string, fi fs.FileInfo, isNew bool) error {
	switch {
	case s.preserve:
		if err := s.c.Chmod(dst, protocol.FileModeOf(protocol.ModeBits(fi.Mode()))); err != nil {
			return s.report(out, dst, err)
		}
		if err := s.c.Chtimes(dst, fileinfo.AccessTime(fi), fi.ModTime()); err != nil {
			return s.report(out, dst, err)
		}
	case isNew:
		if err := s.c.Chmod(dst, newMode(fi.Mode())); err != nil {
			return s.report(out, dst, err)
		}
	}
	return nil
}

// putDir makes dst (unless it is a directory already) and copies src's
// entries into it; fresh is as for putEntry.
func (s *sftpCopier) putDir(src, dst string, fi fs.FileInfo, fresh bool) error {
	isNew := true
	if !fresh {
		rfi, err := s.c.Stat(dst)
		if err == nil && !rfi.IsDir() {
			return s.report(nil, dst, syscall.ENOTDIR)
		}
		isNew = err != nil
	}
	// List the source before creating anything: a tree copied into
	// itself (dst inside src) must not copy what it creates.
	entries, err := os.ReadDir(src)
	if err != nil {
		return s.report(nil, src, err)
	}
	if isNew {
		if err := s.c.Mkdir(dst); err != nil {
			return s.report(nil, dst, err)
		}
		// Owner rwx while we fill it, as scp's mkdir(mode|S_IRWXU).
		if err := s.c.Chmod(dst, newMode(fi.Mode())|0o700); err != nil {
			return s.report(nil, dst, err)
		}
	}
	files := s.dirFiles()
	for _, e := range entries {
		child := filepath.Join(src, e.Name())
		cfi, err := os.Stat(child) // follow symbolic links, as scp
		if err != nil {
			if err := s.report(nil, child, err); err != nil {
				return err
			}
			continue
		}
		if err := s.putEntry(child, path.Join(dst, e.Name()), cfi, isNew, files); err != nil {
			return err
		}
	}
	return s.setDirAttrs(files, func(out *entryLines) error {
		return s.setAttrs(out, dst, fi, false)
	})
}

func (s *sftpCopier) get(src, dst string) error {
	rfi, err := s.c.Stat(src)
	if err != nil {
		return s.report(nil, src, err)
	}
	target := dst
	if lfi, err := os.Stat(dst); err == nil && lfi.IsDir() {
		target = filepath.Join(dst, path.Base(src))
	}
	s.win = newWindow(s.inFlight, func(l string) { s.run.say(logError, l) })
	err = s.getEntry(src, target, rfi, nil)
	if werr := s.win.wait(); err == nil {
		err = werr
	}
	return err
}

// getEntry fetches src to dst as putEntry sends: a directory on the
// walk's goroutine, a file in the window.
func (s *sftpCopier) getEntry(src, dst string, rfi fs.FileInfo, files *sync.WaitGroup) error {
	switch {
	case rfi.IsDir():
		return s.getDir(src, dst, rfi)
	case rfi.Mode().IsRegular():
		return s.startFile(rfi.Size(), files, func(out *entryLines) error {
			return s.getFile(out, src, dst, rfi)
		})
	}
	// Anything else (a device, a socket) is a per-file error, as with
	// scp.
	s.line(nil, fmt.Sprintf("scp: %s: not a regular file", src))
	return nil
}

// remoteAtime is the access time the SFTP server reported.
func remoteAtime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*sftp.FileStat); ok {
		return time.Unix(int64(st.Atime), 0)
	}
	return fi.ModTime()
}

func (s *sftpCopier) getFile(out *entryLines, src, dst string, rfi fs.FileInfo) error {
	rf, err := s.c.Open(src)
	if err != nil {
		return s.report(out, src, err)
	}
	defer rf.Close()
	// No O_TRUNC, as in putFile: the destination may be the source.
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE, rfi.Mode().Perm())
	if err != nil {
		return s.report(out, dst, err)
	}
	n, err := rf.WriteTo(f)
	if err == nil {
		err = truncateRegular(f, n)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return s.report(out, dst, err)
	}
	return s.setLocalAttrs(out, dst, rfi)
}

func (s *sftpCopier) setLocalAttrs(out *entryLines, dst string, rfi fs.FileInfo) error {
	if !s.preserve {
		return nil
	}
	if err := os.Chmod(dst, protocol.FileModeOf(protocol.ModeBits(rfi.Mode()))); err != nil {
		return s.report(out, dst, err)
	}
	if err := os.Chtimes(dst, remoteAtime(rfi), rfi.ModTime()); err != nil {
		return s.report(out, dst, err)
	}
	return nil
}

func (s *sftpCopier) getDir(src, dst string, rfi fs.FileInfo) error {
	lfi, err := os.Stat(dst)
	if err == nil && !lfi.IsDir() {
		return s.report(nil, dst, syscall.ENOTDIR)
	}
	// List the source first, as putDir does.
	entries, rerr := s.c.ReadDir(src)
	if rerr != nil {
		return s.report(nil, src, rerr)
	}
	if err != nil {
		if err := os.Mkdir(dst, rfi.Mode().Perm()|0o700); err != nil {
			return s.report(nil, dst, err)
		}
	}
	files := s.dirFiles()
	for _, e := range entries {
		child := path.Join(src, e.Name())
		cfi := e
		if e.Mode()&fs.ModeSymlink != 0 {
			if cfi, err = s.c.Stat(child); err != nil {
				if err := s.report(nil, child, err); err != nil {
					return err
				}
				continue
			}
		}
		if err := s.getEntry(child, filepath.Join(dst, e.Name()), cfi, files); err != nil {
			return err
		}
	}
	return s.setDirAttrs(files, func(out *entryLines) error {
		return s.setLocalAttrs(out, dst, rfi)
	})
}

// truncateRegular cuts f at size n after it was written over without
// O_TRUNC, unless f is not a regular file (a device: /dev/null), as
// OpenSSH's scp sink does.
func truncateRegular(f *os.File, n int64) error {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return err
	}
	return f.Truncate(n)
}
