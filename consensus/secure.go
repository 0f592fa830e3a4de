package consensus

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pyros-mesh/pyros/meshkey"
)

// handshakeTimeout bounds the TLS handshake of an accepted raft
// connection: generous for a WAN, short enough that silent clients do not
// hold their share of maxInbound for long.
const handshakeTimeout = 5 * time.Second

// tlsConfigs returns the raft transport's TLS configurations.
func tlsConfigs(r *meshkey.Ring) (server, client *tls.Config) {
	server = r.ServerTLS()
	return server, r.ClientTLS()
}

// clientHandshake runs TLS as a client on c, by deadline.
func clientHandshake(c net.Conn, cfg *tls.Config, deadline time.Time) (*tls.Conn, error) {
	tc := tls.Client(c, cfg)
	c.SetDeadline(deadline)
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return tc, nil
}

// serverConn is an accepted raft connection whose TLS handshake runs on
// its first Read or Write, under handshakeTimeout. raft's accept loop
// hands each connection to a goroutine of its own, which reads first: so
// the handshake runs there, and a silent client never delays the accept
// loop.
type serverConn struct {
	*tls.Conn
	raw  net.Conn
	log  *slog.Logger
	once sync.Once
	err  error
}

func newServerConn(raw net.Conn, cfg *tls.Config, log *slog.Logger) *serverConn {
	return &serverConn{Conn: tls.Server(raw, cfg), raw: raw, log: log}
}

// handshake runs the TLS handshake once. On failure the connection is
// closed and reads return io.EOF: the cause is logged here, at debug
// level, rather than by raft as an error (anyone who can reach the port
// could flood the log).
func (c *serverConn) handshake() error {
	c.once.Do(func() {
		c.raw.SetDeadline(time.Now().Add(handshakeTimeout))
		if err := c.Conn.Handshake(); err != nil {
			c.log.Debug("raft connection refused", "remote", c.raw.RemoteAddr(), "err", err)
			c.raw.Close()
			c.err = io.EOF
			return
		}
		c.raw.SetDeadline(time.Time{})
	})
	return c.err
}

func (c *serverConn) Read(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *serverConn) Write(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, net.ErrClosed
	}
	return c.Conn.Write(p)
}

var _ net.Conn = (*serverConn)(nil)
