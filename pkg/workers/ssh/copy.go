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
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

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
			cp = &sftpCopier{run: r, c: sc, preserve: preserve}
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

// sftpCopier copies with SFTP.
type sftpCopier struct {
	run      *run
	c        *sftpClient
	preserve bool
	errs     int
}

func (s *sftpCopier) failed() bool { return s.errs > 0 }

// report prints a per-file error and counts it; an error of the
// connection itself stops the copy.
func (s *sftpCopier) report(p string, err error) error {
	if errors.Is(err, sftp.ErrSSHFxConnectionLost) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &lostError{err}
	}
	s.errs++
	s.run.say(logError, fmt.Sprintf("scp: %s: %s", p, describe(err)))
	return nil
}

func (s *sftpCopier) put(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return s.report(src, err)
	}
	target := dst
	if rfi, err := s.c.Stat(dst); err == nil && rfi.IsDir() {
		target = path.Join(dst, filepath.Base(src))
	}
	return s.putEntry(src, target, fi)
}

func (s *sftpCopier) putEntry(src, dst string, fi fs.FileInfo) error {
	return s.entry(src, dst, fi, s.putDir, s.putFile)
}

// entry copies src, whose information is fi, to dst with dir or file by
// its kind; anything else (a device, a socket) is a per-file error, as
// with scp.
func (s *sftpCopier) entry(src, dst string, fi fs.FileInfo, dir, file func(src, dst string, fi fs.FileInfo) error) error {
	switch {
	case fi.IsDir():
		return dir(src, dst, fi)
	case fi.Mode().IsRegular():
		return file(src, dst, fi)
	}
	s.errs++
	s.run.say(logError, fmt.Sprintf("scp: %s: not a regular file", src))
	return nil
}

func (s *sftpCopier) putFile(src, dst string, fi fs.FileInfo) error {
	f, err := os.Open(src)
	if err != nil {
		return s.report(src, err)
	}
	defer f.Close()
	rfi, statErr := s.c.Stat(dst)
	isNew := statErr != nil
	// No O_TRUNC: the destination may be the source itself (a copy to
	// the node we run on, onto the same path), which truncating first
	// would empty before it is read. Like OpenSSH's scp (its SFTP client
	// and its scp sink), write over the old bytes, then cut the file at
	// the size written. Rewriting a file with its own bytes leaves it
	// intact; the destination keeps its inode, owner and links.
	rf, err := s.c.OpenFile(dst, os.O_WRONLY|os.O_CREATE)
	if err != nil {
		return s.report(dst, err)
	}
	n, err := rf.ReadFrom(f)
	if err == nil && (isNew || rfi.Mode().IsRegular()) {
		err = rf.Truncate(n)
	}
	if cerr := rf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return s.report(dst, err)
	}
	return s.setAttrs(dst, fi, isNew)
}

// setAttrs applies mode (always with Preserve, else to new files only,
// as scp) and, with Preserve, access and modification times.
func (s *sftpCopier) setAttrs(dst string, fi fs.FileInfo, isNew bool) error {
	switch {
	case s.preserve:
		if err := s.c.Chmod(dst, protocol.FileModeOf(protocol.ModeBits(fi.Mode()))); err != nil {
			return s.report(dst, err)
		}
		if err := s.c.Chtimes(dst, atime(fi), fi.ModTime()); err != nil {
			return s.report(dst, err)
		}
	case isNew:
		if err := s.c.Chmod(dst, newMode(fi.Mode())); err != nil {
			return s.report(dst, err)
		}
	}
	return nil
}

func (s *sftpCopier) putDir(src, dst string, fi fs.FileInfo) error {
	rfi, err := s.c.Stat(dst)
	isNew := err != nil
	switch {
	case err == nil && !rfi.IsDir():
		return s.report(dst, syscall.ENOTDIR)
	}
	// List the source before creating anything: a tree copied into
	// itself (dst inside src) must not copy what it creates.
	entries, err := os.ReadDir(src)
	if err != nil {
		return s.report(src, err)
	}
	if isNew {
		if err := s.c.Mkdir(dst); err != nil {
			return s.report(dst, err)
		}
		// Owner rwx while we fill it, as scp's mkdir(mode|S_IRWXU).
		if err := s.c.Chmod(dst, newMode(fi.Mode())|0o700); err != nil {
			return s.report(dst, err)
		}
	}
	for _, e := range entries {
		child := filepath.Join(src, e.Name())
		cfi, err := os.Stat(child) // follow symbolic links, as scp
		if err != nil {
			if err := s.report(child, err); err != nil {
				return err
			}
			continue
		}
		if err := s.putEntry(child, path.Join(dst, e.Name()), cfi); err != nil {
			return err
		}
	}
	if s.preserve {
		return s.setAttrs(dst, fi, false)
	}
	return nil
}

func (s *sftpCopier) get(src, dst string) error {
	rfi, err := s.c.Stat(src)
	if err != nil {
		return s.report(src, err)
	}
	target := dst
	if lfi, err := os.Stat(dst); err == nil && lfi.IsDir() {
		target = filepath.Join(dst, path.Base(src))
	}
	return s.getEntry(src, target, rfi)
}

func (s *sftpCopier) getEntry(src, dst string, rfi fs.FileInfo) error {
	return s.entry(src, dst, rfi, s.getDir, s.getFile)
}

// remoteAtime is the access time the SFTP server reported.
func remoteAtime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*sftp.FileStat); ok {
		return time.Unix(int64(st.Atime), 0)
	}
	return fi.ModTime()
}

func (s *sftpCopier) getFile(src, dst string, rfi fs.FileInfo) error {
	rf, err := s.c.Open(src)
	if err != nil {
		return s.report(src, err)
	}
	defer rf.Close()
	// No O_TRUNC, as in putFile: the destination may be the source.
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE, rfi.Mode().Perm())
	if err != nil {
		return s.report(dst, err)
	}
	n, err := rf.WriteTo(f)
	if err == nil {
		err = truncateRegular(f, n)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return s.report(dst, err)
	}
	return s.setLocalAttrs(dst, rfi)
}

func (s *sftpCopier) setLocalAttrs(dst string, rfi fs.FileInfo) error {
	if !s.preserve {
		return nil
	}
	if err := os.Chmod(dst, protocol.FileModeOf(protocol.ModeBits(rfi.Mode()))); err != nil {
		return s.report(dst, err)
	}
	if err := os.Chtimes(dst, remoteAtime(rfi), rfi.ModTime()); err != nil {
		return s.report(dst, err)
	}
	return nil
}

func (s *sftpCopier) getDir(src, dst string, rfi fs.FileInfo) error {
	lfi, err := os.Stat(dst)
	if err == nil && !lfi.IsDir() {
		return s.report(dst, syscall.ENOTDIR)
	}
	// List the source first, as putDir does.
	entries, rerr := s.c.ReadDir(src)
	if rerr != nil {
		return s.report(src, rerr)
	}
	if err != nil {
		if err := os.Mkdir(dst, rfi.Mode().Perm()|0o700); err != nil {
			return s.report(dst, err)
		}
	}
	for _, e := range entries {
		child := path.Join(src, e.Name())
		cfi := e
		if e.Mode()&fs.ModeSymlink != 0 {
			if cfi, err = s.c.Stat(child); err != nil {
				if err := s.report(child, err); err != nil {
					return err
				}
				continue
			}
		}
		if err := s.getEntry(child, filepath.Join(dst, e.Name()), cfi); err != nil {
			return err
		}
	}
	if s.preserve {
		return s.setLocalAttrs(dst, rfi)
	}
	return nil
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
