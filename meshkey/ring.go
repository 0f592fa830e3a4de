package meshkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"time"
)

// Ring is the set of keys a peer accepts, the first being the primary. It
// is safe for concurrent use; Set changes it while connections use it.
type Ring struct {
	mu      sync.RWMutex
	keys    []Key
	cas     []*x509.Certificate // the authority of each key, in order
	leaf    *tls.Certificate    // this peer's certificate, from the primary's authority
	leafKey ed25519.PrivateKey
	subs    []func()
}

// NewRing returns a ring of keys, the first being the primary.
func NewRing(keys ...Key) (*Ring, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	r := &Ring{leafKey: priv}
	if err := r.Set(keys...); err != nil {
		return nil, err
	}
	return r, nil
}

// Set replaces the ring's keys, the first being the new primary, and
// tells the functions given to OnChange.
func (r *Ring) Set(keys ...Key) error {
	if len(keys) == 0 {
		return fmt.Errorf("%w: a ring needs at least one key", ErrKey)
	}
	for i, k := range keys {
		if slices.Contains(keys[:i], k) {
			return fmt.Errorf("%w: key %s appears twice", ErrKey, k.ID())
		}
	}
	cas := make([]*x509.Certificate, len(keys))
	for i, k := range keys {
		ca, err := authority(k)
		if err != nil {
			return err
		}
		cas[i] = ca
	}
	leaf, err := r.issue(keys[0], cas[0])
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.keys, r.cas, r.leaf = slices.Clone(keys), cas, leaf
	subs := slices.Clone(r.subs)
	r.mu.Unlock()
	for _, f := range subs {
		f()
	}
	return nil
}

// OnChange registers f, called after each Set.
func (r *Ring) OnChange(f func()) {
	r.mu.Lock()
	r.subs = append(r.subs, f)
	r.mu.Unlock()
}

// Keys returns the ring's keys, the primary first.
func (r *Ring) Keys() []Key {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.keys)
}

// Primary returns the key used to send.
func (r *Ring) Primary() Key {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.keys[0]
}

// Derive returns, for each key of the ring (the primary first), n bytes
// derived for one purpose.
func (r *Ring) Derive(purpose string, n int) [][]byte {
	keys := r.Keys()
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = k.Derive(purpose, n)
	}
	return out
}

// IDs names the ring's keys for logs, the primary first.
func (r *Ring) IDs() []string {
	var ids []string
	for _, k := range r.Keys() {
		ids = append(ids, k.ID())
	}
	return ids
}

// authorityTemplate is the fixed certificate of every key's authority: its
// public key is what differs.
func authorityTemplate() *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pyros mesh"},
		NotBefore:             time.Unix(0, 0),
		NotAfter:              time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
}

// authorityKey is the signing key of k's authority.
func authorityKey(k Key) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(k.Derive("tls ca", ed25519.SeedSize))
}

// authority returns k's authority certificate.
func authority(k Key) (*x509.Certificate, error) {
	priv := authorityKey(k)
	der, err := x509.CreateCertificate(rand.Reader, authorityTemplate(), authorityTemplate(), priv.Public(), priv)
	if err != nil {
		return nil, fmt.Errorf("meshkey: authority: %w", err)
	}
	return x509.ParseCertificate(der)
}

// issue makes this peer's certificate, signed by k's authority.
func (r *Ring) issue(k Key, ca *x509.Certificate) (*tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "pyros peer"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(100 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, r.leafKey.Public(), authorityKey(k))
	if err != nil {
		return nil, fmt.Errorf("meshkey: certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: r.leafKey}, nil
}

// ErrNotMember is the TLS error for a peer whose certificate no key of the
// ring signed: it does not hold the mesh key.
var ErrNotMember = errors.New("meshkey: the other side does not hold a key of this mesh")

// verify checks that the peer's certificate was signed by the authority
// of a key of the ring.
func (r *Ring) verify(rawCerts [][]byte, _ [][]*x509.Certificate) error {
	if len(rawCerts) == 0 {
		return ErrNotMember
	}
	cert, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotMember, err)
	}
	now := time.Now()
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return fmt.Errorf("%w: certificate not valid now", ErrNotMember)
	}
	r.mu.RLock()
	cas := r.cas
	r.mu.RUnlock()
	for _, ca := range cas {
		if cert.CheckSignatureFrom(ca) == nil {
			return nil
		}
	}
	return ErrNotMember
}

func (r *Ring) certificate() *tls.Certificate {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.leaf
}

// ServerTLS is the TLS configuration for the accepting end of a
// connection: TLS 1.3, and the client must prove it holds a mesh key.
func (r *Ring) ServerTLS() *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		ClientAuth:             tls.RequireAnyClientCert,
		SessionTicketsDisabled: true, // every connection proves a key afresh
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return r.certificate(), nil
		},
		VerifyPeerCertificate: r.verify,
	}
}

// ClientTLS is the TLS configuration for the dialing end: TLS 1.3, and the
// server must prove it holds a mesh key. Host names are not checked: the
// mesh key is the identity.
func (r *Ring) ClientTLS() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // replaced by verify, which checks the signature
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return r.certificate(), nil
		},
		VerifyPeerCertificate: r.verify,
	}
}
