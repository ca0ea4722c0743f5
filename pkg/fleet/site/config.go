package site

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/protocol"
	"go.yaml.in/yaml/v3"
)

// The configs a site holds. Their keys are the long flag names of the
// commands that read them (internal/cliconf): coordinator --config,
// agent --config; csub reads fleet.yaml (ClientConfig). Paths are
// absolute paths inside the site directory: copy a users/<id> or
// agents/<id> directory to the same path on its machine, or edit them.

type coordinatorYAML struct {
	Listen     string `yaml:"listen"`
	Prefix     string `yaml:"prefix"`
	TLSCert    string `yaml:"tls-cert"`
	TLSKey     string `yaml:"tls-key"`
	TLSCA      string `yaml:"tls-ca"`
	Identities string `yaml:"identities"`
	SigningKey string `yaml:"signing-key"`
}

type agentYAML struct {
	NATS           string   `yaml:"nats"`
	Prefix         string   `yaml:"prefix"`
	ID             string   `yaml:"id"`
	Name           string   `yaml:"name"`
	Group          []string `yaml:"group,omitempty"`
	Local          bool     `yaml:"local,omitempty"`
	Creds          string   `yaml:"creds"`
	CA             string   `yaml:"ca"`
	CoordinatorKey string   `yaml:"coordinator-key"`
}

// ClientConfig is a csub user's users/<id>/fleet.yaml: how to reach and
// authenticate to the site's fleet. Its keys are those csub reads
// ($FLEETSH_FLEET_CONFIG or ~/.config/fleetsh/fleet.yaml).
type ClientConfig struct {
	// URL is the coordinator's NATS URL (tls://HOST:PORT).
	URL string `yaml:"url"`
	// User is the user id the credential names.
	User string `yaml:"user"`
	// Creds is the path of the user's nkey seed file.
	Creds string `yaml:"creds"`
	// CA is the path of the site CA certificate.
	CA string `yaml:"ca"`
}

// maxConfigFile bounds a config file.
const maxConfigFile = 64 << 10

// LoadClientConfig reads and checks a fleet.yaml (bounded; see
// ParseClientConfig). Relative paths in it are taken relative to its
// directory.
func LoadClientConfig(path string) (*ClientConfig, error) {
	data, err := readBounded(path, maxConfigFile, false)
	if err != nil {
		return nil, fmt.Errorf("fleet config: %w", err)
	}
	c, err := ParseClientConfig(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("fleet config %s: %w", path, err)
	}
	return c, nil
}

// ParseClientConfig decodes and checks a fleet.yaml: unknown keys are
// refused, url must be a URL, user a valid id, creds and ca given;
// relative paths are made relative to base.
func ParseClientConfig(data []byte, base string) (*ClientConfig, error) {
	if len(data) > maxConfigFile {
		return nil, fmt.Errorf("over %d bytes", maxConfigFile)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c ClientConfig
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	if u, err := url.Parse(c.URL); err != nil || u.Host == "" {
		return nil, fmt.Errorf("url %.100q: not a URL", c.URL)
	}
	if err := protocol.ValidID(c.User); err != nil {
		return nil, fmt.Errorf("user: %w", err)
	}
	if c.Creds == "" || c.CA == "" {
		return nil, fmt.Errorf("creds and ca are required")
	}
	for _, p := range []*string{&c.Creds, &c.CA} {
		if !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	return &c, nil
}

// meta is site.json: what configs written after Init need.
type meta struct {
	URL    string `json:"url"`
	Prefix string `json:"prefix"`
	Listen string `json:"listen"`
	// Cluster is the NATS cluster of an external server's conf (nil: a
	// single server).
	Cluster *natsCluster `json:"cluster,omitempty"`
	// Leaves are the gateway sites' leaf servers (nil: none).
	Leaves *natsLeaves `json:"leaves,omitempty"`
}

// writer writes the files of the site in dir.
type writer struct {
	dir  string
	meta meta
	ca   []byte // the CA certificate, PEM, copied into each holder's directory
	ids  []auth.Identity
}

func (w *writer) path(parts ...string) string {
	return filepath.Join(append([]string{w.dir}, parts...)...)
}

func yamlFile(header string, v any) ([]byte, error) {
	buf := bytes.NewBufferString(header)
	enc := yaml.NewEncoder(buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// newCoordinatorKey writes a new coordinator seed and returns its identity.
func (w *writer) newCoordinatorKey(id string) (auth.Identity, error) {
	pub, err := newSeedFile(w.path(CoordinatorSeedFile))
	if err != nil {
		return auth.Identity{}, err
	}
	return auth.Identity{Role: auth.Coordinator, ID: id, Nkey: pub}, nil
}

// holderDir makes the directory of one user or agent (files already in
// it are replaced one by one) and copies the CA into it.
func (w *writer) holderDir(sub, id string) (string, error) {
	d := w.path(sub, id)
	if err := mkdir(filepath.Dir(d)); err != nil {
		return "", err
	}
	if err := mkdir(d); err != nil {
		return "", err
	}
	return d, writeFile(filepath.Join(d, CACertFile), w.ca)
}

// addUser writes a new key and the csub config of user id with role.
func (w *writer) addUser(role auth.Role, id string) (auth.Identity, error) {
	d, err := w.holderDir(UsersDir, id)
	if err != nil {
		return auth.Identity{}, err
	}
	pub, err := newSeedFile(filepath.Join(d, UserSeedFile))
	if err != nil {
		return auth.Identity{}, err
	}
	c := ClientConfig{URL: w.meta.URL, User: id, Creds: filepath.Join(d, UserSeedFile), CA: filepath.Join(d, CACertFile)}
	b, err := yamlFile(fmt.Sprintf("# csub's fleet config for %s %s (written by coordinator init-site)\n", role, id), c)
	if err != nil {
		return auth.Identity{}, err
	}
	if err := writeFile(filepath.Join(d, ClientConfigFile), b); err != nil {
		return auth.Identity{}, err
	}
	return auth.Identity{Role: role, ID: id, Nkey: pub}, nil
}

// addAgent writes a new key and the config of agent a, which trusts
// shards signed by coordinatorKey.
func (w *writer) addAgent(a AgentSpec, coordinatorKey string) (auth.Identity, error) {
	d, err := w.holderDir(AgentsDir, a.ID)
	if err != nil {
		return auth.Identity{}, err
	}
	pub, err := newSeedFile(filepath.Join(d, AgentSeedFile))
	if err != nil {
		return auth.Identity{}, err
	}
	ident := a.identity(pub)
	return ident, w.writeAgentConfig(ident, coordinatorKey)
}

// writeAgentConfig writes agents/<id>/agent.yaml for agent identity a.
func (w *writer) writeAgentConfig(a auth.Identity, coordinatorKey string) error {
	d := w.path(AgentsDir, a.ID)
	c := agentYAML{NATS: w.agentURL(a.ID), Prefix: w.meta.Prefix, ID: a.ID, Name: a.Name, Group: a.Groups, Local: a.Local,
		Creds: filepath.Join(d, AgentSeedFile), CA: filepath.Join(d, CACertFile), CoordinatorKey: coordinatorKey}
	b, err := yamlFile(fmt.Sprintf("# agent --config %s (written by coordinator init-site)\n", filepath.Join(d, AgentConfigFile)), c)
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(d, AgentConfigFile), b)
}

func (w *writer) writeCoordinatorConfig() error {
	c := coordinatorYAML{Listen: w.meta.Listen, Prefix: w.meta.Prefix,
		TLSCert: w.path(ServerCertFile), TLSKey: w.path(ServerKeyFile), TLSCA: w.path(CACertFile),
		Identities: w.path(IdentitiesFile), SigningKey: w.path(CoordinatorSeedFile)}
	b, err := yamlFile(fmt.Sprintf("# coordinator --config %s (written by coordinator init-site)\n", w.path(CoordinatorConfig)), c)
	if err != nil {
		return err
	}
	return writeFile(w.path(CoordinatorConfig), b)
}

func (w *writer) writeMeta() error {
	b, err := json.MarshalIndent(w.meta, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(w.path(MetaFile), append(b, '\n'))
}

// writeIdentities checks the site's identities together and writes them,
// site.json, and the nats-server.conf and leaf confs that name them.
func (w *writer) writeIdentities() error {
	if err := checkIdentities(w.ids); err != nil {
		return err
	}
	b, err := marshalIdentities(w.ids)
	if err != nil {
		return err
	}
	if err := w.writeMeta(); err != nil {
		return err
	}
	if err := w.writeNATSConf(); err != nil {
		return err
	}
	if err := w.writeLeafConfs(); err != nil { // natsleaf.go
		return err
	}
	return writeFile(w.path(IdentitiesFile), b)
}
