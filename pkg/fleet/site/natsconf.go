package site

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// NATSServerConfFile is the nats-server configuration of a site that runs
// an external NATS server (`nats-server -c DIR/nats-server.conf`, the
// coordinator joining it with --nats): the same listener, TLS, nkey users
// and permissions the coordinator's embedded server gets.
const NATSServerConfFile = "nats-server.conf"

// Settings of the external server that match the embedded one
// (pkg/fleet/broker).
const (
	natsTLSTimeout   = 5         // seconds for a client's TLS handshake
	natsMaxPending   = 128 << 20 // a coordinator receives every agent's events
	natsPingInterval = "10s"
	natsPingMax      = 3
)

// NATSStoreDir is the directory, in the site's directory, where the
// external server's JetStream keeps the coordinator's state (the job
// registry and journals, pkg/fleet/store).
const NATSStoreDir = "nats-state"

// natsConfFiles are the paths a nats-server.conf names.
type natsConfFiles struct {
	Cert, Key, CA string
	Store         string // JetStream's store_dir
}

// natsConf renders the nats-server configuration of a site: listen on
// the site's address, TLS with files, and one nkey user per identity
// with the permissions auth.Permissions gives it on the fleet subj
// (rendered from those values, so the embedded and the external server
// enforce the same subjects), each allowed standard client connections
// only (no websocket, MQTT or leaf node). With a cluster, its routes
// (natscluster.go); with gateway sites, the leaf-node listener and one
// user per leaf server, allowed leaf-node connections only
// (natsleaf.go). No other user: anonymous clients are refused.
func (w *writer) natsConf(files natsConfFiles, subj protocol.Subjects) string {
	listen, ids, cluster := w.meta.Listen, w.ids, w.meta.Cluster
	var b strings.Builder
	b.WriteString("# nats-server -c FILE: the fleet's NATS server, written by coordinator init-site and\n")
	b.WriteString("# rewritten by coordinator site add-user|add-agent|rotate|remove (edits are lost).\n")
	b.WriteString("# The permissions are auth.Permissions of each identity (docs/SECURITY.md).\n")
	fmt.Fprintf(&b, "listen: %s\n", confString(listen))
	fmt.Fprintf(&b, "max_pending: %d\n", natsMaxPending)
	fmt.Fprintf(&b, "ping_interval: %s\n", confString(natsPingInterval))
	fmt.Fprintf(&b, "ping_max: %d\n\n", natsPingMax)
	b.WriteString("# The coordinator keeps its job registry and journals in JetStream.\n")
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %s\n}\n\n", confString(files.Store))
	b.WriteString("tls {\n")
	fmt.Fprintf(&b, "  cert_file: %s\n", confString(files.Cert))
	fmt.Fprintf(&b, "  key_file: %s\n", confString(files.Key))
	fmt.Fprintf(&b, "  ca_file: %s\n", confString(files.CA))
	fmt.Fprintf(&b, "  timeout: %d\n", natsTLSTimeout)
	b.WriteString("}\n")
	writeClusterConf(&b, cluster, files)   // natscluster.go
	writeLeafHub(&b, w.meta.Leaves, files) // natsleaf.go
	b.WriteString("\nauthorization {\n  users = [\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "    # %s %s\n", id.Role, id.ID)
		fmt.Fprintf(&b, "    {\n      nkey: %s\n", confString(id.Nkey))
		b.WriteString("      allowed_connection_types: [\"STANDARD\"]\n")
		writePermissions(&b, auth.Permissions(subj, id), "      ")
		b.WriteString("    }\n")
	}
	w.writeLeafUsers(&b, subj)
	b.WriteString("  ]\n}\n")
	return b.String()
}

// writePermissions renders p as the permissions block of a user.
func writePermissions(b *strings.Builder, p *server.Permissions, indent string) {
	b.WriteString(indent + "permissions: {\n")
	for _, sp := range []struct {
		key string
		p   *server.SubjectPermission
	}{{"publish", p.Publish}, {"subscribe", p.Subscribe}} {
		if sp.p == nil {
			continue
		}
		fmt.Fprintf(b, "%s  %s: {\n", indent, sp.key)
		if sp.p.Allow != nil {
			fmt.Fprintf(b, "%s    allow: %s\n", indent, confList(sp.p.Allow))
		}
		if sp.p.Deny != nil {
			fmt.Fprintf(b, "%s    deny: %s\n", indent, confList(sp.p.Deny))
		}
		b.WriteString(indent + "  }\n")
	}
	if r := p.Response; r != nil {
		fmt.Fprintf(b, "%s  allow_responses: { max: %d, expires: %s }\n", indent, r.MaxMsgs, confString(r.Expires.String()))
	}
	b.WriteString(indent + "}\n")
}

func confList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = confString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// confString quotes s for the nats-server configuration format: a
// double-quoted string (never read as a $variable), with the escapes its
// lexer knows (\\, \", \xXX), ASCII only.
func confString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c >= 0x7f: // bytes, so a path's bytes stay as they are
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// writeNATSConf writes the site's nats-server.conf for its identities.
func (w *writer) writeNATSConf() error {
	files := natsConfFiles{Cert: w.path(ServerCertFile), Key: w.path(ServerKeyFile), CA: w.path(CACertFile), Store: w.path(NATSStoreDir)}
	conf := w.natsConf(files, protocol.Subjects{Prefix: w.meta.Prefix})
	return writeFile(w.path(NATSServerConfFile), []byte(conf))
}
