package statusweb

import (
	"cmp"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// JobsPage is what /api/jobs answers.
type JobsPage struct {
	// Now is the coordinator's time of the answer.
	Now time.Time `json:"now"`
	// Jobs are the newest jobs, in brief, at most MaxJobs.
	Jobs []protocol.JobStatus `json:"jobs"`
	// More counts the older jobs left out.
	More int `json:"more,omitempty"`
}

// AgentsPage is what /api/agents answers.
type AgentsPage struct {
	// Now is the coordinator's time of the answer: a heartbeat's age is
	// Now minus the agent's LastSeen, whatever the browser's clock says.
	Now time.Time `json:"now"`
	// Groups are the gateway groups agents serve, the local group ("")
	// first, then by name; an agent serving several is in each.
	Groups []AgentGroup `json:"groups"`
	// More counts the agents left out (MaxAgents).
	More int `json:"more,omitempty"`
}

// AgentGroup is a gateway group and the agents serving it, by id.
type AgentGroup struct {
	// Group is the group's name ("": the nodes under no gateway).
	Group  string                 `json:"group"`
	Agents []protocol.AgentStatus `json:"agents"`
}

// JobPage is what /api/job/{id} answers.
type JobPage struct {
	Now time.Time `json:"now"`
	// Job is the job's full status, its node sets (Nodes, Unfinished,
	// States, Codes) cut to MaxSetBytes each: each is then the folded
	// set of its first nodes only. With ?brief=1, the job's brief
	// status (no node sets, which the coordinator does not fold then).
	Job protocol.JobStatus `json:"job"`
	// More counts the nodes left out of each cut set, by "nodes",
	// "unfinished", the final state's name or "rc=" and the exit
	// status (MoreCode).
	More map[string]int `json:"more,omitempty"`
	// CodeCounts counts the exited nodes of each exit status of
	// Job.Codes (-1: its set does not parse).
	CodeCounts map[int]int `json:"code_counts,omitempty"`
}

// Keys of JobPage.More for the sets that are not a final state's.
const (
	MoreNodes      = "nodes"
	MoreUnfinished = "unfinished"
	// MoreCode and the exit status ("rc=3") is the key of an exit
	// status's set.
	MoreCode = "rc="
)

func (h *handler) jobsPage() JobsPage {
	jobs := h.src.Jobs()
	p := JobsPage{Now: h.now(), Jobs: jobs}
	if len(jobs) > h.maxJobs {
		p.Jobs, p.More = jobs[:h.maxJobs], len(jobs)-h.maxJobs
	}
	if p.Jobs == nil {
		p.Jobs = []protocol.JobStatus{}
	}
	return p
}

func (h *handler) agentsPage() AgentsPage {
	agents := h.src.Agents()
	p := AgentsPage{Now: h.now(), Groups: []AgentGroup{}}
	if len(agents) > h.maxAgents {
		agents, p.More = agents[:h.maxAgents], len(agents)-h.maxAgents
	}
	at := map[string]int{}
	for _, a := range agents {
		for _, g := range a.Served {
			i, ok := at[g]
			if !ok {
				i = len(p.Groups)
				at[g] = i
				p.Groups = append(p.Groups, AgentGroup{Group: g})
			}
			p.Groups[i].Agents = append(p.Groups[i].Agents, a)
		}
	}
	slices.SortFunc(p.Groups, func(a, b AgentGroup) int { return cmp.Compare(a.Group, b.Group) })
	for _, g := range p.Groups {
		slices.SortFunc(g.Agents, func(a, b protocol.AgentStatus) int { return cmp.Compare(a.Agent, b.Agent) })
	}
	return p
}

// jobPage returns job id with its sets cut, and whether it exists.
func (h *handler) jobPage(id string) (JobPage, bool) {
	st, ok := h.src.Job(id)
	if !ok {
		return JobPage{}, false
	}
	p := JobPage{Now: h.now(), Job: st}
	more := func(key string, n int) {
		if n != 0 {
			if p.More == nil {
				p.More = map[string]int{}
			}
			p.More[key] = n
		}
	}
	var n int
	p.Job.Nodes, n = cutSet(st.Nodes, h.maxSet, st.Total)
	more(MoreNodes, n)
	p.Job.Unfinished, n = cutSet(st.Unfinished, h.maxSet, st.Total-ended(st))
	more(MoreUnfinished, n)
	if st.States != nil {
		p.Job.States = make(map[protocol.State]string, len(st.States))
		for s, set := range st.States {
			p.Job.States[s], n = cutSet(set, h.maxSet, st.Finals[s])
			more(string(s), n)
		}
	}
	if st.Codes != nil {
		p.Job.Codes = make(map[int]string, len(st.Codes))
		p.CodeCounts = make(map[int]int, len(st.Codes))
		for code, set := range st.Codes {
			count := codeCount(st, set)
			p.CodeCounts[code] = count
			p.Job.Codes[code], n = cutSet(set, h.maxSet, count)
			more(MoreCode+strconv.Itoa(code), n)
		}
	}
	return p, true
}

// codeCount counts the nodes of set, st's exited nodes of one exit
// status: all of them when it has one status, else those of the parsed
// set (-1 when it does not parse). The coordinator counts only the
// final states, not the statuses.
func codeCount(st protocol.JobStatus, set string) int {
	if len(st.Codes) == 1 {
		return st.Finals[protocol.StateExited]
	}
	ns, err := nodeset.Parse(set)
	if err != nil {
		return -1
	}
	return ns.Len()
}

// cutSet returns the folded set of the first nodes of folded set s (of
// count nodes) whose text fits in limit bytes, and how many nodes it
// leaves out (0 when s fits whole). It reads only the head of s: the
// whole elements (between top-level commas: disjoint sets) that fit, or
// when the first alone is too long, its first nodes. A head that does not
// parse is cut at a byte boundary (-1 nodes left out: an unknown number).
func cutSet(s string, limit, count int) (string, int) {
	if len(s) <= limit {
		return s, 0
	}
	first, end := topCommas(s, limit)
	head := s
	switch {
	case end > 0:
		head = s[:end]
	case first > 0:
		head = s[:first]
	}
	shown, err := nodeset.Parse(head)
	if err != nil {
		return cutBytes(s, limit), -1
	}
	if len(shown.String()) > limit {
		// The first element alone is too long (or the head was not
		// folded): a long prefix of its iteration order whose fold
		// fits, found by bisection (a longer prefix folds to more text
		// nearly always; the prefix kept fits in any case).
		lo, hi := int64(0), int64(shown.Len())
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if len(shown.Slice(0, mid).String()) <= limit {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		shown = shown.Slice(0, lo)
	}
	more := count - shown.Len()
	if more < 0 {
		more = -1 // count was wrong: unknown
	}
	return shown.String(), more
}

// topCommas returns the indexes of the first comma of s outside
// brackets and of the last one at or before upto (-1: none).
func topCommas(s string, upto int) (first, last int) {
	first, last = -1, -1
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth != 0 {
				break
			}
			if first < 0 {
				first = i
			}
			if i > upto {
				return first, last
			}
			last = i
		}
	}
	return first, last
}

// cutBytes cuts s to at most limit bytes of valid UTF-8.
func cutBytes(s string, limit int) string {
	cut := s[:limit]
	for !utf8.ValidString(cut) {
		cut = cut[:len(cut)-1]
	}
	return cut
}

// ended counts st's nodes in a final state.
func ended(st protocol.JobStatus) int {
	n := 0
	for _, c := range st.Finals {
		n += c
	}
	return n
}

// stateCount is one final state of a job and its nodes.
type stateCount struct {
	State protocol.State
	Count int
	Set   string // folded, maybe cut
	More  int    // nodes cut from Set
}

// finals lists st's final states with nodes in protocol.States order
// (unknown ones after, by name), with their sets from p when given.
func finals(st protocol.JobStatus, more map[string]int) []stateCount {
	var out []stateCount
	for s, n := range st.Finals {
		if n > 0 {
			out = append(out, stateCount{State: s, Count: n, Set: st.States[s], More: more[string(s)]})
		}
	}
	rank := func(s protocol.State) int {
		if i := slices.Index(protocol.States, s); i >= 0 {
			return i
		}
		return len(protocol.States)
	}
	slices.SortFunc(out, func(a, b stateCount) int {
		return cmp.Or(cmp.Compare(rank(a.State), rank(b.State)), cmp.Compare(a.State, b.State))
	})
	return out
}

// exitCount is one exit status of a job's exited nodes.
type exitCount struct {
	Code  int
	Count int    // -1: unknown
	Set   string // folded, maybe cut
	More  int    // nodes cut from Set
}

// exits lists p's exit statuses in increasing order.
func exits(p JobPage) []exitCount {
	out := make([]exitCount, 0, len(p.Job.Codes))
	for code, set := range p.Job.Codes {
		out = append(out, exitCount{Code: code, Count: p.CodeCounts[code], Set: set, More: p.More[MoreCode+strconv.Itoa(code)]})
	}
	slices.SortFunc(out, func(a, b exitCount) int { return cmp.Compare(a.Code, b.Code) })
	return out
}
