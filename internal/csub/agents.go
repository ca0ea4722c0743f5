package csub

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/fleetsh/fleetsh/internal/optparse"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// registryTimeout bounds a subcommand's request to the coordinator.
const registryTimeout = 10 * time.Second

// localGroupName is how csub agents names the group of the nodes under
// no gateway (the coordinator's "").
const localGroupName = "(local)"

// agentJSON is one agent in `csub agents --json`: the documented,
// stable form (docs/csub.md), not the wire's.
type agentJSON struct {
	Agent    string    `json:"agent"`
	Name     string    `json:"name"`
	Local    bool      `json:"local"`
	Groups   []string  `json:"groups"`
	LastSeen time.Time `json:"last_seen"`
	Age      float64   `json:"age"` // seconds since LastSeen, by csub's clock
	Shards   int       `json:"shards"`
	Running  int       `json:"running"`
	Capacity int       `json:"capacity"`
	Load     *float64  `json:"load"` // null: the agent gives none
	Release  string    `json:"release"`
	Draining bool      `json:"draining"`
	Lost     bool      `json:"lost"`
}

func runAgents(ctx context.Context, s *settings, operands []string, p *optparse.Parser, env *environ) int {
	agents, status, ok := askFleet(ctx, s, operands, p, env, "agents", (*client.Client).Agents)
	if !ok {
		return status
	}
	now := env.clock()
	if s.json {
		writeJSON(env.stdout, agentsJSON(agents, now))
		return 0
	}
	if err := writeAgents(env.stdout, agents, now); err != nil {
		return 1
	}
	return 0
}

// agentsJSON is the --json form of agents, by id.
func agentsJSON(agents []protocol.AgentStatus, now time.Time) []agentJSON {
	out := make([]agentJSON, 0, len(agents))
	for _, a := range agents {
		out = append(out, agentJSON{Agent: a.Agent, Name: a.Name, Local: a.Local, Groups: groupLabels(a.Served),
			LastSeen: a.LastSeen, Age: max(now.Sub(a.LastSeen), 0).Seconds(), Shards: a.Shards, Running: a.Running,
			Capacity: a.Capacity, Load: a.Load, Release: a.Release, Draining: a.Draining, Lost: a.Lost})
	}
	slices.SortFunc(out, func(a, b agentJSON) int { return strings.Compare(a.Agent, b.Agent) })
	return out
}

// writeAgents prints agents as a table with a row per gateway group
// each serves (an agent serving two groups has two rows), by group then
// id, the local group first.
func writeAgents(w io.Writer, agents []protocol.AgentStatus, now time.Time) error {
	type row struct {
		group string
		a     *protocol.AgentStatus
	}
	var rows []row
	for i := range agents {
		a := &agents[i]
		groups := a.Served
		if len(groups) == 0 {
			groups = []string{"-"} // never from a coordinator that registered it
		}
		for _, g := range groups {
			rows = append(rows, row{g, a})
		}
	}
	slices.SortFunc(rows, func(x, y row) int {
		return cmp.Or(cmp.Compare(x.group, y.group), strings.Compare(x.a.Agent, y.a.Agent))
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tAGENT\tNAME\tSERVES\tHEARTBEAT\tSHARDS\tRUNNING\tFANOUT\tLOAD\tRELEASE\tSTATE")
	for _, r := range rows {
		a := r.a
		load := "-"
		if a.Load != nil {
			load = strconv.FormatFloat(*a.Load, 'f', 2, 64)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", orDash(groupLabel(r.group)), a.Agent, orDash(a.Name),
			orDash(strings.Join(groupLabels(a.Served), ",")), ago(now.Sub(a.LastSeen)), a.Shards, a.Running, a.Capacity,
			load, orDash(a.Release), agentState(a))
	}
	return tw.Flush()
}

func groupLabel(g string) string {
	if g == "" {
		return localGroupName
	}
	return g
}

func groupLabels(gs []string) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = groupLabel(g)
	}
	return out
}

// orDash is a field a peer chose as a table cell: "-" for an empty one,
// blanks made "_" so that columns stay split by blanks, and other
// unprintable characters "?" so that none reaches the terminal.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return printable(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return '_'
		}
		return r
	}, s))
}

// printable is s with its unprintable characters (terminal escapes,
// line breaks) made "?".
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
}

// agentState says whether the coordinator sends an agent shards.
func agentState(a *protocol.AgentStatus) string {
	switch {
	case a.Lost:
		return "lost"
	case a.Draining:
		return "draining"
	}
	return "live"
}

// ago says how long ago something happened, in at most two units: "0s
// ago", "42s ago", "3m05s ago", "2h10m ago", "3d04h ago". A time in the
// future (clocks apart) is "0s ago".
func ago(d time.Duration) string {
	s := int64(max(d, 0) / time.Second)
	var out string
	switch {
	case s < 60:
		out = fmt.Sprintf("%ds", s)
	case s < 3600:
		out = fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		out = fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	default:
		out = fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
	}
	return out + " ago"
}
