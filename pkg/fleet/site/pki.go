package site

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Validity of what Init issues. The CA lives long because replacing it
// means redistributing every file; the server certificate is re-issued
// with `coordinator site rotate DIR server-cert` well before it expires.
const (
	CAValidity     = 10 * 365 * 24 * time.Hour
	ServerValidity = 2 * 365 * 24 * time.Hour
	// ExpiryWarning is how close to its end a certificate makes Load warn.
	ExpiryWarning = 30 * 24 * time.Hour
	// backdate covers clocks a little behind the issuer's.
	backdate = time.Hour
	// maxPEMFile bounds a certificate or key file (a CA bundle of a few
	// hundred certificates fits).
	maxPEMFile = 1 << 20
)

// issued is a certificate and its private key, in PEM.
type issued struct {
	cert   *x509.Certificate
	signer crypto.Signer
	crt    []byte // PEM CERTIFICATE
	key    []byte // PEM PRIVATE KEY (PKCS #8)
}

// newKey returns a certificate's ECDSA P-256 key and its random 128-bit
// serial number; what names the certificate in errors ("CA", "server").
func newKey(what string) (*ecdsa.PrivateKey, *big.Int, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("%s key: %w", what, err)
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, fmt.Errorf("%s serial: %w", what, err)
	}
	return key, sn, nil
}

// newCA issues a self-signed ECDSA P-256 CA named after site.
func newCA(name string, now time.Time) (*issued, error) {
	key, sn, err := newKey("CA")
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: name + " fleetsh site CA", Organization: []string{"fleetsh"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	return sign(tmpl, tmpl, key, key)
}

// newServerCert issues the coordinator's NATS listener certificate for
// hosts (DNS names) and ips, signed by ca.
func newServerCert(ca *x509.Certificate, caKey crypto.Signer, hosts []string, ips []net.IP, now time.Time) (*issued, error) {
	key, sn, err := newKey("server")
	if err != nil {
		return nil, err
	}
	cn := "fleetsh coordinator"
	if len(hosts) > 0 {
		cn = hosts[0]
	}
	notAfter := now.Add(ServerValidity)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter // a certificate cannot outlive its issuer
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"fleetsh"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		DNSNames:     hosts,
		IPAddresses:  ips,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Client auth too: nats-server presents the same certificate on
		// the cluster routes it dials.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	return sign(tmpl, ca, key, caKey)
}

func sign(tmpl, parent *x509.Certificate, key *ecdsa.PrivateKey, by crypto.Signer) (*issued, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), by)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &issued{
		cert:   cert,
		signer: key,
		crt:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}),
	}, nil
}

// readCerts reads the PEM certificates of the file at path (bounded).
func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := readBounded(path, maxPEMFile, false)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return certs, nil
}

// readKey reads the PEM private key at path, refusing a key file others
// may read.
func readKey(path string) (crypto.Signer, error) {
	data, err := readBounded(path, maxPEMFile, true)
	if err != nil {
		return nil, err
	}
	defer wipe(data)
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("%s: no PEM private key", path)
	}
	var k any
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("%s: PEM block %q is not a private key", path, b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: unsupported key type %T", path, k)
	}
	return s, nil
}

// LoadCAPool reads the PEM CA certificates at path into a pool: what a
// client (agent, csub) trusts for the coordinator's TLS listener.
func LoadCAPool(path string) (*x509.CertPool, error) {
	certs, err := readCerts(path)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// ClientTLS is the TLS configuration of a fleet client (agent, csub, a
// coordinator joining a NATS cluster) that trusts the CA at caFile only.
func ClientTLS(caFile string) (*tls.Config, error) {
	pool, err := LoadCAPool(caFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// ServerTLS is the TLS configuration of the coordinator's NATS listener:
// the certificate and key at certFile and keyFile, which must chain to
// the CA at caFile and be valid now (the key file must be private).
func ServerTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, _, err := loadServerCert(certFile, keyFile, caFile, time.Now())
	if err != nil {
		return nil, err
	}
	pool, err := LoadCAPool(caFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// loadServerCert reads and checks the server certificate: its key
// matches, it chains to the CA for server authentication, and it is
// valid at now. warn is set when it expires within ExpiryWarning.
func loadServerCert(certFile, keyFile, caFile string, now time.Time) (cert tls.Certificate, warn string, err error) {
	certs, err := readCerts(certFile)
	if err != nil {
		return cert, "", fmt.Errorf("server certificate: %w", err)
	}
	key, err := readKey(keyFile)
	if err != nil {
		return cert, "", fmt.Errorf("server key: %w", err)
	}
	pool, err := LoadCAPool(caFile)
	if err != nil {
		return cert, "", err
	}
	leaf := certs[0]
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		return cert, "", fmt.Errorf("server key %s does not match certificate %s", keyFile, certFile)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return cert, "", fmt.Errorf("server certificate %s does not verify against CA %s: %w", certFile, caFile, err)
	}
	if left := leaf.NotAfter.Sub(now); left < ExpiryWarning {
		warn = fmt.Sprintf("server certificate %s expires on %s (in %s): re-issue it with `coordinator site rotate DIR server-cert`",
			certFile, leaf.NotAfter.UTC().Format(time.DateOnly), left.Round(time.Hour))
	}
	cert.Leaf = leaf
	cert.PrivateKey = key
	for _, c := range certs {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, warn, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// parseSANs splits SANs into DNS names and IP addresses.
func parseSANs(sans []string) (hosts []string, ips []net.IP) {
	for _, s := range sans {
		if ip := net.ParseIP(s); ip != nil {
			ips = append(ips, ip)
		} else {
			hosts = append(hosts, s)
		}
	}
	return hosts, ips
}

var errNoCAKey = errors.New("the CA's private key is not in the site directory")
