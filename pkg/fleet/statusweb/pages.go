package statusweb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// funcs are the templates' helpers; the script (assets/app.js) formats
// the same way.
var funcs = template.FuncMap{
	"when":       when,
	"age":        age,
	"ended":      ended,
	"finals":     func(st protocol.JobStatus) []stateCount { return finals(st, nil) },
	"stateClass": stateClass,
	"groupName":  groupName,
	"command":    command,
	"more":       moreNote,
	"percent": func(st protocol.JobStatus) int {
		if st.Total == 0 {
			return 100
		}
		return ended(st) * 100 / st.Total
	},
}

// when formats a time as the page shows it (UTC, to the second).
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// age formats how long before now t was.
func age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case t.IsZero():
		return "never"
	case d < 0:
		d = 0
	}
	if d < time.Minute {
		return fmt.Sprintf("%.1f s ago", d.Seconds())
	}
	return d.Round(time.Second).String() + " ago"
}

// moreNote says how many nodes a cut set leaves out (n < 0: unknown).
func moreNote(n int) string {
	if n < 0 {
		return "… more nodes not shown"
	}
	return fmt.Sprintf("… %d more nodes not shown", n)
}

// stateClass is the CSS class of a final state ("st-command-timeout").
func stateClass(s protocol.State) string {
	return "st-" + strings.ReplaceAll(string(s), " ", "-")
}

// groupName names a gateway group for people.
func groupName(g string) string {
	if g == "" {
		return "local (nodes under no gateway)"
	}
	return "gateway group " + g
}

// command is what a job runs, a copy's too.
func command(st protocol.JobStatus) string {
	if cp := st.Copy; cp != nil {
		arrow := " → "
		if cp.Reverse {
			arrow = " ← "
		}
		return "copy " + cp.Source + arrow + cp.Dest
	}
	return st.Command
}

type indexData struct {
	Title, Root string
	Jobs        JobsPage
	Agents      AgentsPage
}

type jobData struct {
	Title, Root string
	Page        JobPage
	Finals      []stateCount
	Exits       []exitCount
	Ended       int
	MoreNodes   int
	MoreUnfin   int
	Unfinished  int // count of nodes not ended
}

func (h *handler) index(w http.ResponseWriter, r *http.Request) {
	h.render(w, "index.html", indexData{Title: "Status", Root: "./", Jobs: h.jobsPage(), Agents: h.agentsPage()})
}

func (h *handler) job(w http.ResponseWriter, r *http.Request) {
	p, ok := h.lookup(w, r)
	if !ok {
		return
	}
	n := ended(p.Job)
	h.render(w, "job.html", jobData{Title: "Job " + p.Job.ID, Root: "../", Page: p, Finals: finals(p.Job, p.More), Exits: exits(p), Ended: n,
		MoreNodes: p.More[MoreNodes], MoreUnfin: p.More[MoreUnfinished], Unfinished: p.Job.Total - n})
}

func (h *handler) apiJobs(w http.ResponseWriter, r *http.Request) { h.json(w, h.jobsPage()) }

func (h *handler) apiAgents(w http.ResponseWriter, r *http.Request) { h.json(w, h.agentsPage()) }

// apiJob answers a job's full status, or with ?brief=1 its brief status
// (no node sets: nothing to fold, for the progress polled every second).
func (h *handler) apiJob(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("brief") == "" {
		if p, ok := h.lookup(w, r); ok {
			h.json(w, p)
		}
		return
	}
	id := r.PathValue("id")
	if !h.validID(w, id) {
		return
	}
	for _, st := range h.src.Jobs() {
		if st.ID == id {
			h.json(w, JobPage{Now: h.now(), Job: st})
			return
		}
	}
	http.Error(w, "no job "+id, http.StatusNotFound)
}

// lookup finds the job the path names, or answers 400 (not a job id) or
// 404.
func (h *handler) lookup(w http.ResponseWriter, r *http.Request) (JobPage, bool) {
	id := r.PathValue("id")
	if !h.validID(w, id) {
		return JobPage{}, false
	}
	p, ok := h.jobPage(id)
	if !ok {
		http.Error(w, "no job "+id, http.StatusNotFound)
	}
	return p, ok
}

// validID tells whether id is a job id, else answers 400.
func (h *handler) validID(w http.ResponseWriter, id string) bool {
	if protocol.ValidID(id) != nil {
		// The culprit is not echoed: the answer stays free of what the
		// request put in it.
		http.Error(w, "bad job id: letters, digits, '-' and '_' only", http.StatusBadRequest)
		return false
	}
	return true
}

// static serves the embedded script, style sheet and icon.
func (h *handler) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	typ, ok := staticTypes[path.Ext(name)]
	data, err := assets.ReadFile("assets/" + name)
	if !ok || err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", typ)
	_, _ = w.Write(data)
}

// staticTypes are the served assets' types (templates are not served).
var staticTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
}

// render executes page into a buffer first, so that a failure answers
// 500 rather than half a page.
func (h *handler) render(w http.ResponseWriter, page string, data any) {
	var b bytes.Buffer
	if err := h.pages.ExecuteTemplate(&b, page, data); err != nil {
		h.log.Error("status page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b.Bytes())
}

func (h *handler) json(w http.ResponseWriter, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		h.log.Error("status page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(data, '\n'))
}
