package site

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Defaults of a site's NATS cluster (InitOptions.ClusterRoutes).
const (
	DefaultClusterName = "fleetsh"
	DefaultClusterPort = 6222
	// ServerNameEnv names the environment variable the nats-server.conf of
	// a cluster takes each server's name from: JetStream needs a name per
	// server that stays the same across its restarts, and one file serves
	// every server of the cluster.
	ServerNameEnv = "FLEETSH_NATS_SERVER_NAME"
)

// natsCluster is the cluster block of a site's nats-server.conf, kept in
// site.json so that every verb that rewrites the conf keeps it.
type natsCluster struct {
	Name   string   `json:"name"`
	Listen string   `json:"listen"`
	Routes []string `json:"routes"`
}

// clusterOf checks and completes the cluster options of o: nil without
// routes (a single server, no cluster block).
func (o *InitOptions) clusterOf() (*natsCluster, error) {
	if len(o.ClusterRoutes) == 0 {
		if o.ClusterListen != "" || o.ClusterName != "" {
			return nil, inputErr("--cluster-listen and --cluster-name need --cluster-route")
		}
		return nil, nil
	}
	c := &natsCluster{Name: o.ClusterName, Listen: o.ClusterListen}
	if c.Name == "" {
		c.Name = DefaultClusterName
	}
	if strings.ContainsAny(c.Name, " \t\r\n.*>") {
		return nil, inputErr("--cluster-name %q: one token without spaces, dots or wildcards", c.Name)
	}
	if c.Listen == "" {
		host, _, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, inputErr("--listen %q: %w", o.Listen, err)
		}
		c.Listen = net.JoinHostPort(host, fmt.Sprint(DefaultClusterPort))
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return nil, inputErr("--cluster-listen %q: %w", c.Listen, err)
	}
	for _, r := range o.ClusterRoutes {
		route, err := routeURL(r)
		if err != nil {
			return nil, err
		}
		c.Routes = append(c.Routes, route)
	}
	return c, nil
}

// routeURL checks a --cluster-route: nats-route://HOST:PORT, or
// HOST:PORT for short.
func routeURL(r string) (string, error) {
	if !strings.Contains(r, "://") {
		r = "nats-route://" + r
	}
	u, err := url.Parse(r)
	if err != nil {
		return "", inputErr("--cluster-route %q: %w", r, err)
	}
	if u.Scheme != "nats-route" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Port() == "" || u.Hostname() == "" {
		return "", inputErr("--cluster-route %q: want nats-route://HOST:PORT", r)
	}
	return "nats-route://" + u.Host, nil
}

// writeClusterConf renders the cluster block of the nats-server.conf
// (nothing for a single server): the server's name from ServerNameEnv,
// the route listener and the routes to every server of the cluster (a
// server ignores the route to itself, so one list serves all), over TLS
// with the site's certificate, each server verifying the other's against
// the site CA (the certificate is valid for client auth too): only the
// site's servers join its cluster.
func writeClusterConf(b *strings.Builder, c *natsCluster, files natsConfFiles) {
	if c == nil {
		return
	}
	b.WriteString("\n# One server of a cluster: start each with its own name in $" + ServerNameEnv + ".\n")
	fmt.Fprintf(b, "server_name: $%s\n\n", ServerNameEnv)
	b.WriteString("cluster {\n")
	fmt.Fprintf(b, "  name: %s\n", confString(c.Name))
	fmt.Fprintf(b, "  listen: %s\n", confString(c.Listen))
	fmt.Fprintf(b, "  routes: %s\n", confList(c.Routes))
	b.WriteString("  tls {\n")
	fmt.Fprintf(b, "    cert_file: %s\n", confString(files.Cert))
	fmt.Fprintf(b, "    key_file: %s\n", confString(files.Key))
	fmt.Fprintf(b, "    ca_file: %s\n", confString(files.CA))
	b.WriteString("    verify: true\n")
	fmt.Fprintf(b, "    timeout: %d\n", natsTLSTimeout)
	b.WriteString("  }\n}\n")
}
