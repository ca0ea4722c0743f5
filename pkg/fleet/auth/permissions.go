package auth

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// ReplyExpires bounds how long an agent may answer a request it was sent
// (a shard, a stdin chunk): one reply, within this time. An agent answers
// in milliseconds; the bound keeps a stolen reply subject short-lived.
const ReplyExpires = time.Minute

// systemSubjects are the NATS server's own APIs (JetStream, the system
// account): only the coordinator may touch them.
var systemSubjects = []string{"$JS.>", "$SYS.>", "$KV.>", "$O.>"}

// InboxPrefix is the inbox prefix a client of id's role uses
// (nats.CustomInboxPrefix); "" for the coordinator, which keeps NATS's
// default _INBOX.
func InboxPrefix(subj protocol.Subjects, id Identity) string {
	switch id.Role {
	case Submitter, Admin:
		return subj.UserInbox(id.ID)
	case Agent:
		return subj.AgentInbox(id.ID)
	}
	return ""
}

// Permissions returns the subjects the NATS server lets id publish and
// subscribe to on the fleet subj: a submitter or admin only the subjects
// carrying its own user id, an agent only those carrying its own agent
// id, the coordinator every subject. Anything else is denied, and the
// server's own APIs ($JS, $SYS) are denied explicitly to all but the
// coordinator (a deny beats any allow). An unknown role gets nothing.
func Permissions(subj protocol.Subjects, id Identity) *server.Permissions {
	deny := func(allow ...string) *server.SubjectPermission {
		return &server.SubjectPermission{Allow: allow, Deny: append([]string(nil), systemSubjects...)}
	}
	switch id.Role {
	case Coordinator:
		return &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{">"}},
			Subscribe: &server.SubjectPermission{Allow: []string{">"}},
		}
	case Submitter, Admin:
		u := id.ID
		return &server.Permissions{
			Publish: deny(
				subj.Submit(u),
				subj.Jobs(u),
				subj.Stdin(u, "*"),
				subj.OutputAck(u, "*"),
				// Chunks of its pushes and reverse copies, through
				// the coordinator (never JetStream's own API).
				subj.Files(u),
			),
			Subscribe: deny(
				subj.Output(u, "*"),
				subj.UserInbox(u)+".>",
			),
		}
	case Agent:
		a := id.ID
		return &server.Permissions{
			Publish: deny(
				subj.Register(a),
				subj.Heartbeat(a),
				subj.Events(a, "*"),
				subj.Done(a, "*"),
				// Chunks of the trees it copies and of its nodes'
				// copies, through the coordinator.
				subj.AgentFiles(a),
			),
			Subscribe: deny(
				subj.Agent(a),
				subj.Control(a),
				subj.AgentStdin(a),
				subj.AgentInbox(a)+".>",
			),
			// The answers to the shards and stdin chunks it is sent go
			// to the coordinator's inbox: one reply per request.
			Response: &server.ResponsePermission{MaxMsgs: 1, Expires: ReplyExpires},
		}
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Deny: []string{">"}},
		Subscribe: &server.SubjectPermission{Deny: []string{">"}},
	}
}

// RoleTable renders what each role may do as a Markdown table, for the
// fleet subj with "<user>" and "<agent>" standing for the credential's
// id. docs/SECURITY.md holds it for the default prefix; a test fails when
// the two disagree.
func RoleTable(subj protocol.Subjects) string {
	var b strings.Builder
	b.WriteString("| Role | May publish to | May subscribe to | Replies to requests it receives |\n")
	b.WriteString("|---|---|---|---|\n")
	rows := []Identity{
		{Role: Submitter, ID: "<user>"},
		{Role: Admin, ID: "<user>"},
		{Role: Agent, ID: "<agent>"},
		{Role: Coordinator, ID: "<coordinator>"},
	}
	list := func(sp *server.SubjectPermission) string {
		var parts []string
		for _, s := range sp.Allow {
			parts = append(parts, "`"+s+"`")
		}
		if len(sp.Deny) > 0 {
			var d []string
			for _, s := range sp.Deny {
				d = append(d, "`"+s+"`")
			}
			parts = append(parts, "never "+strings.Join(d, ", "))
		}
		return strings.Join(parts, ", ")
	}
	for _, id := range rows {
		perm := Permissions(subj, id)
		resp := "none"
		if perm.Response != nil {
			resp = fmt.Sprintf("%d reply within %v", perm.Response.MaxMsgs, perm.Response.Expires)
		}
		if id.Role == Coordinator {
			resp = "any"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", id.Role, list(perm.Publish), list(perm.Subscribe), resp)
	}
	return b.String()
}
