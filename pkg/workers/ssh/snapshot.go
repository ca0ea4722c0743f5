package ssh

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// snapshotCache holds, under Driver.Snapshot, what the driver found on
// disk at the first look: each file's stamp (or why it has none) and the
// matches of each Include pattern.
type snapshotCache struct {
	stats sync.Map // path → statResult
	globs sync.Map // pattern → globResult
	// hostname is the short host name (%l, %L), looked up once.
	hostnameOnce sync.Once
	hostname     string
}

type statResult struct {
	stamp fileStamp
	err   error
}

type globResult struct {
	matches []string
	err     error
}

// stat returns the stamp of the file at path, or the error of its stat.
// Under Snapshot, a path is stat'ed once and what it gave is kept.
func (d *Driver) stat(path string) (fileStamp, error) {
	if !d.Snapshot {
		return statPath(path)
	}
	if v, ok := d.cache.snap.stats.Load(path); ok {
		r := v.(statResult)
		return r.stamp, r.err
	}
	st, err := statPath(path)
	v, _ := d.cache.snap.stats.LoadOrStore(path, statResult{st, err})
	r := v.(statResult)
	return r.stamp, r.err
}

// restat stats path again and, under Snapshot, keeps the new stamp: after
// the driver wrote to the file itself.
func (d *Driver) restat(path string) fileStamp {
	st, err := statPath(path)
	if d.Snapshot {
		d.cache.snap.stats.Store(path, statResult{st, err})
	}
	return st
}

// stamp is stat's stamp, missing when the file cannot be stat'ed.
func (d *Driver) stamp(path string) fileStamp {
	st, _ := d.stat(path)
	return st
}

func statPath(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return missing, err
	}
	return stampOf(fi), nil
}

// glob is filepath.Glob, sorted; under Snapshot, once per pattern.
func (d *Driver) glob(pattern string) ([]string, error) {
	if d.Snapshot {
		if v, ok := d.cache.snap.globs.Load(pattern); ok {
			r := v.(globResult)
			return r.matches, r.err
		}
	}
	matches, err := filepath.Glob(pattern)
	slices.Sort(matches)
	if d.Snapshot {
		d.cache.snap.globs.Store(pattern, globResult{matches, err})
	}
	return matches, err
}

// shortHostname is the local host name up to its first dot (OpenSSH's
// %l and %L), looked up once under Snapshot.
func (d *Driver) shortHostname() string {
	if !d.Snapshot {
		return shortHostname()
	}
	c := &d.cache.snap
	c.hostnameOnce.Do(func() { c.hostname = shortHostname() })
	return c.hostname
}
