package protocol

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Field limits. A message is bounded by the NATS server's max_payload,
// but the coordinator keeps a job's spec for as long as the job is in its
// registry (an hour after its end by default), logs its fields and
// repeats them in status replies: each field a peer chooses is bounded
// on its own, and a message over one is refused with an error naming the
// field (CheckFields).
const (
	// MaxCommand bounds a job's command: 128 KiB, Linux's MAX_ARG_STRLEN
	// (the longest single argument a shell command line can be).
	MaxCommand = 128 << 10
	// MaxPath bounds a copy's source and destination: Linux's PATH_MAX.
	MaxPath = 4096
	// MaxInfoKeys bounds a job's task info keys, MaxInfoKey each key and
	// MaxInfoValue each value (ssh_options and the like).
	MaxInfoKeys  = 64
	MaxInfoKey   = 128
	MaxInfoValue = 4096
	// MaxName bounds the short names of a message: user, worker, an
	// agent's gateway name, group names and release.
	MaxName = 256
	// MaxGroups bounds the gateway groups an agent names.
	MaxGroups = 1024
	// MaxHeartbeatShards bounds the shard keys of a heartbeat.
	MaxHeartbeatShards = 1 << 16
	// MaxLoad bounds the load average a heartbeat reports: far above
	// any machine's, so that only a broken or hostile peer reaches it.
	MaxLoad = 1 << 20
	// MaxLogField is what logs and replies show of a field a peer
	// chose (Truncate): enough to recognise a command, never megabytes.
	MaxLogField = 256
	// MaxReplyField is what registry replies (csub jobs) show of a
	// job's command and copy paths.
	MaxReplyField = 4096
)

// FieldError is the refusal of a message with a field over its limit.
type FieldError struct {
	Field string // the field, as the JSON names it ("command", "info[ssh_options]")
	Size  int    // its size in bytes (or entries, for counts)
	Limit int
	Unit  string // "bytes" or "entries"
}

func (e *FieldError) Error() string {
	if e.Size < 0 {
		return fmt.Sprintf("field %s: %d %s, negative", e.Field, e.Size, e.Unit)
	}
	return fmt.Sprintf("field %s: %d %s, over the limit of %d", e.Field, e.Size, e.Unit, e.Limit)
}

// lenCheck is a string field, as the JSON names it, and its limit.
type lenCheck struct {
	field, v string
	limit    int
}

// checkLens returns a *FieldError for the first of fields over its
// limit in bytes, or nil.
func checkLens(fields ...lenCheck) error {
	for _, f := range fields {
		if len(f.v) > f.limit {
			return &FieldError{Field: f.field, Size: len(f.v), Limit: f.limit, Unit: "bytes"}
		}
	}
	return nil
}

// CheckFields checks the spec's fields against the field limits (the
// node set is bounded by its count instead: see DefaultMaxJobNodes). The
// error is a *FieldError naming the first field over its limit.
func (s *JobSpec) CheckFields() error {
	fields := []lenCheck{{"command", s.Command, MaxCommand}, {"user", s.User, MaxName}, {"worker", s.Worker, MaxName}}
	if s.Copy != nil {
		fields = append(fields, lenCheck{"copy.source", s.Copy.Source, MaxPath}, lenCheck{"copy.dest", s.Copy.Dest, MaxPath})
	}
	if err := checkLens(fields...); err != nil {
		return err
	}
	if s.MaxOutput < 0 || s.MaxOutput > MaxOutputLimit {
		return &FieldError{Field: "max_output", Size: int(s.MaxOutput), Limit: int(MaxOutputLimit), Unit: "bytes"}
	}
	if len(s.Info) > MaxInfoKeys {
		return &FieldError{Field: "info", Size: len(s.Info), Limit: MaxInfoKeys, Unit: "entries"}
	}
	for k, v := range s.Info {
		if err := checkLens(lenCheck{"info key", k, MaxInfoKey}, lenCheck{"info[" + k + "]", v, MaxInfoValue}); err != nil {
			return err
		}
	}
	return nil
}

// CheckFields checks an agent's Hello against the field limits.
func (h *Hello) CheckFields() error {
	if err := checkLens(lenCheck{"name", h.Name, MaxName}, lenCheck{"release", h.Release, MaxName}); err != nil {
		return err
	}
	if len(h.Groups) > MaxGroups {
		return &FieldError{Field: "groups", Size: len(h.Groups), Limit: MaxGroups, Unit: "entries"}
	}
	for i, g := range h.Groups {
		if err := checkLens(lenCheck{"groups[" + strconv.Itoa(i) + "]", g, MaxName}); err != nil {
			return err
		}
	}
	return nil
}

// CheckFields checks a heartbeat against the field limits.
func (hb *Heartbeat) CheckFields() error {
	if err := hb.Hello.CheckFields(); err != nil {
		return err
	}
	if len(hb.Shards) > MaxHeartbeatShards {
		return &FieldError{Field: "shards", Size: len(hb.Shards), Limit: MaxHeartbeatShards, Unit: "entries"}
	}
	if hb.Running < 0 {
		return &FieldError{Field: "running", Size: hb.Running, Unit: "nodes"}
	}
	// JSON has no NaN or infinities, so a decoded load is finite.
	if hb.Load != nil && (*hb.Load < 0 || *hb.Load > MaxLoad) {
		return &LoadError{Load: *hb.Load}
	}
	return nil
}

// LoadError is the refusal of a heartbeat whose load average is negative
// or over MaxLoad.
type LoadError struct{ Load float64 }

func (e *LoadError) Error() string {
	return fmt.Sprintf("field load: %g, not between 0 and %d", e.Load, MaxLoad)
}

// Truncate returns s cut to at most n bytes at a character boundary,
// followed by how long it was: what logs and replies show of a field a
// peer chose. A string of at most n bytes is returned as it is.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "... (" + strconv.Itoa(len(s)) + " bytes)"
}
