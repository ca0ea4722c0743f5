// Package audit writes the fleet's audit log: one JSON line per job when
// the coordinator accepts or denies it, and one when it ends. Each line
// is appended and fsynced before Write returns, so the coordinator, which
// writes a job's accept line before it dispatches anything, never runs a
// job the log does not hold; when the line cannot be written, the job is
// refused. Reopen (on SIGHUP) makes rotation safe: rename the file,
// signal, and the next line goes to a new file at the old name.
package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Events of a record.
const (
	Accepted = "accepted" // the job was allowed and is about to start
	Denied   = "denied"   // the policy refused it
	Ended    = "ended"    // every node of the job has a final state
)

// MaxField bounds a command or node set in a record: longer ones are cut
// there and the record says Truncated.
const MaxField = 64 << 10

// Record is one line of the log.
type Record struct {
	Time  time.Time `json:"time"`
	Event string    `json:"event"`
	Job   string    `json:"job"`
	User  string    `json:"user"`
	// Command is a command job's command line; Copy a copy job's copy.
	Command string             `json:"command,omitempty"`
	Copy    *protocol.CopySpec `json:"copy,omitempty"`
	// Nodes is the job's folded node set, Count its size.
	Nodes  string `json:"nodes"`
	Count  int    `json:"node_count,omitempty"`
	Worker string `json:"worker,omitempty"`
	// Decision is "allow" or "deny" (accepted and denied records); Rule
	// the policy rule that allowed the job; Reason the decision's line.
	Decision string `json:"decision,omitempty"`
	Rule     string `json:"rule,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Finals counts the nodes per final state; DurationMS is the time
	// from accept to end (ended records).
	Finals     map[protocol.State]int `json:"finals,omitempty"`
	DurationMS int64                  `json:"duration_ms,omitempty"`
	Truncated  bool                   `json:"truncated,omitempty"`
}

// FromSpec returns the record of event for spec, whose node set has
// count nodes.
func FromSpec(event string, spec *protocol.JobSpec, count int) Record {
	r := Record{Event: event, Job: spec.ID, User: spec.User, Command: spec.Command, Copy: spec.Copy,
		Nodes: spec.Nodes, Count: count, Worker: spec.Worker}
	r.Command, r.Truncated = cut(r.Command, r.Truncated)
	r.Nodes, r.Truncated = cut(r.Nodes, r.Truncated)
	return r
}

func cut(s string, was bool) (string, bool) {
	if len(s) > MaxField {
		return s[:MaxField], true
	}
	return s, was
}

// Log is an open audit log. Its methods are safe for concurrent use.
type Log struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// Open opens (creating it 0600) the log at path for appending.
func Open(path string) (*Log, error) {
	l := &Log{path: path}
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	l.f = f
	return l, nil
}

func open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return f, nil
}

// Path is the file the log writes to.
func (l *Log) Path() string { return l.path }

// Write appends r as one line (stamping its Time when zero) and returns
// once the file is synced to disk.
func (l *Log) Write(r Record) error {
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("audit log %s: closed", l.path)
	}
	if _, err := l.f.Write(line); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// Reopen closes the file and opens path again: after a rotation renamed
// it, the log goes on in a new file. On error the log keeps the old file.
func (l *Log) Reopen() error {
	f, err := open(l.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		return old.Close()
	}
	return nil
}

// Close closes the log; Write fails after it.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// maxLine bounds one line Read accepts: a record's command and node set
// are at most MaxField each, and JSON escaping can make them six times
// longer.
const maxLine = 16*MaxField + 64<<10

// Read returns the records of a log (for tools and tests), failing on a
// line that is not a record.
func Read(r io.Reader) ([]Record, error) {
	var recs []Record
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxLine)
	for n := 1; sc.Scan(); n++ {
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return recs, fmt.Errorf("audit log line %d: %w", n, err)
		}
		recs = append(recs, rec)
	}
	return recs, sc.Err()
}

// ReadFile is Read on the file at path.
func ReadFile(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	return Read(f)
}
