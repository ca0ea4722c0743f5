package site

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Modes of everything a site holds: secrets and the files that name
// them are for their owner only, and so is every directory.
const (
	fileMode = 0o600
	dirMode  = 0o700
)

// readBounded reads the file at path, refusing one over limit bytes (the
// read itself stops at limit+1). With private set it also refuses a file
// that its group or others may read or write, as OpenSSH refuses an
// unprotected private key: a secret that others can read is no longer one.
func readBounded(path string, limit int64, private bool) ([]byte, error) {
	// Stat before opening: opening a FIFO would wait for a writer.
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if private && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: permissions %04o are too open: a secret must be readable by its owner only (chmod 600 %s)",
			path, st.Mode().Perm(), path)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: over %d bytes", path, limit)
	}
	return data, nil
}

// writeFile replaces the file at path with data, mode 0600, atomically: a
// crash leaves either the old file or the new one, never half of one
// (rotation rewrites files a running site depends on).
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name) // a no-op once renamed
	if err := tmp.Chmod(fileMode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	return nil
}

// mkdir makes dir and its missing parents, and leaves dir itself mode
// 0700 even when it existed with a wider mode.
func mkdir(dir string) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	return os.Chmod(dir, dirMode)
}

// exists reports whether path exists (an error other than "not found"
// counts as existing, so a site is never overwritten by mistake).
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil || !os.IsNotExist(err)
}

// isDirEmpty reports whether dir is an empty directory.
func isDirEmpty(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return true, nil
		}
		return false, err
	}
	return len(entries) == 0, nil
}
