package csub

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// history is the interactive prompt's history (x/term's History): the
// last size lines, most recent last, loaded from and saved to path (no
// file when path is ""), one entry per line like GNU readline's history
// file that clush writes. The file is rewritten after each new entry, so
// a session that ends badly loses nothing, with mode 0600 since commands
// may carry secrets.
type history struct {
	path  string
	size  int // negative: unbounded
	lines []string
}

func newHistory(path string, size int) *history {
	h := &history{path: path, size: size}
	if path == "" {
		return h
	}
	f, err := os.Open(path)
	if err != nil {
		return h // no history yet: clush ignores the error too
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		h.lines = append(h.lines, sc.Text())
	}
	h.trim()
	return h
}

func (h *history) trim() {
	if h.size >= 0 && len(h.lines) > h.size {
		h.lines = append(h.lines[:0:0], h.lines[len(h.lines)-h.size:]...)
	}
}

// Add records a line the user entered: not an empty one, nor the same
// line again.
func (h *history) Add(line string) {
	if strings.TrimSpace(line) == "" || len(h.lines) > 0 && h.lines[len(h.lines)-1] == line {
		return
	}
	h.lines = append(h.lines, line)
	h.trim()
	h.save()
}

// Len is the number of entries.
func (h *history) Len() int { return len(h.lines) }

// At returns entry i, 0 being the most recent.
func (h *history) At(i int) string { return h.lines[len(h.lines)-1-i] }

func (h *history) save() {
	if h.path == "" {
		return
	}
	var b strings.Builder
	for _, l := range h.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	// Write a temporary file (created 0600) and rename it: two sessions
	// saving at once leave one whole history, not an interleaving.
	f, err := os.CreateTemp(filepath.Dir(h.path), filepath.Base(h.path)+".*")
	if err != nil {
		return
	}
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), h.path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
}
