package mesh

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/pyros-mesh/pyros/meshkey"
)

// Mesh keys on links: with Config.Keys, a tcp connection runs a TLS 1.3
// handshake (meshkey's configurations: both ends show a certificate signed
// by the authority of a key of the ring) before its ZMTP handshake, in the
// same goroutine and under the same deadline. ipc and inproc connections
// stay plain.

// First bytes of a connection, which tell a TLS peer from a ZMTP one.
const (
	tlsRecordAlert     = 0x15
	tlsRecordHandshake = 0x16
	zmtpSignature      = 0xff
)

// alertKeyRequired is the TLS alert (fatal, certificate_required) a keyed
// node sends a client that opened with a plain ZMTP greeting, so that the
// client can tell its user why (ErrKeyRequired) rather than see an EOF.
var alertKeyRequired = []byte{tlsRecordAlert, 3, 3, 0, 2, 2, 116}

// tlsConfigs returns a node's TLS configurations; nil for an open mesh.
func tlsConfigs(r *meshkey.Ring) (server, client *tls.Config) {
	if r == nil {
		return nil, nil
	}
	server = r.ServerTLS()
	return server, r.ClientTLS()
}

// guard returns the guarded connection a link runs on: c itself, or TLS
// over c when the node has keys and c is a tcp connection. The caller has
// set c's handshake deadline and closes c on error.
func (n *Node) guard(ctx context.Context, c net.Conn, server bool) (*guardConn, error) {
	max := n.cfg.maxFrame()
	if n.srvTLS == nil || !isTCP(c) {
		return newGuardConn(c, max), nil
	}
	var tc *tls.Conn
	if server {
		tc = tls.Server(c, n.srvTLS)
	} else {
		tc = tls.Client(c, n.cliTLS)
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, explainTLS(c, server, err)
	}
	return newSealedGuardConn(tc, c, max), nil
}

func isTCP(c net.Conn) bool {
	_, ok := c.(*net.TCPConn)
	return ok
}

// explainTLS names a failed TLS handshake's cause when it is a peer that
// speaks plain ZMTP; a peer of another mesh already fails with
// meshkey.ErrNotMember.
func explainTLS(c net.Conn, server bool, err error) error {
	var rh tls.RecordHeaderError
	if !errors.As(err, &rh) || rh.RecordHeader[0] != zmtpSignature {
		return fmt.Errorf("mesh: tls handshake: %w", err)
	}
	if server {
		c.Write(alertKeyRequired) // best effort, under the handshake deadline
		return errors.New("mesh: tls handshake: the client has no mesh key (it spoke plain ZMTP)")
	}
	return fmt.Errorf("%w: it answered in plain ZMTP", ErrPeerOpen)
}

// explainZMTP names a failed ZMTP handshake's cause when it is the keys:
// over TLS, the other side sent an alert (it rejected this node's
// certificate, which TLS 1.3 tells a client only after its handshake);
// in plain, the other side answered in TLS.
func explainZMTP(g *guardConn, err error) error {
	var op *net.OpError
	switch {
	case g.sealed && errors.As(err, &op) && op.Op == "remote error":
		return fmt.Errorf("%w (%w)", ErrKeyRefused, err)
	case !g.sealed && (g.first == tlsRecordAlert || g.first == tlsRecordHandshake):
		return fmt.Errorf("%w (%w)", ErrKeyRequired, err)
	}
	return err
}
