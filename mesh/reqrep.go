package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
)

// Plain ZeroMQ request/reply, for programs that speak it rather than the
// pyros wire (pyzmp nodes and their REQ clients). The same guard as links
// bounds every frame; handshakes have a deadline; every connection and
// goroutine is owned by its RepServer or ReqClient.

// RepConfig configures a RepServer or a ReqClient. Zero values take the
// defaults given with each field.
type RepConfig struct {
	// MaxMessageSize bounds one request or reply, in bytes. Default 16 MiB.
	MaxMessageSize int
	// HandshakeTimeout bounds the ZMTP handshake. Default 5 s.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds writing one message. Default 10 s.
	WriteTimeout time.Duration
	// MaxConns bounds the connections a RepServer serves at once. Default 256.
	MaxConns int
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
}

func (c *RepConfig) setDefaults() {
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = 16 << 20
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 5 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 256
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// RepHandler answers one request of a REQ client. ctx ends when the
// server closes.
type RepHandler func(ctx context.Context, req []byte) []byte

// RepServer answers ZeroMQ REQ sockets (libzmq's or any other) on one
// endpoint, as a REP socket would: each connection's requests are
// answered in order, one at a time.
type RepServer struct {
	cfg    RepConfig
	h      RepHandler
	ln     net.Listener
	ep     string
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// ListenRep serves h on endpoint (tcp://host:port, ipc:///path or
// inproc://name). A unix socket file left by a dead process is replaced.
func ListenRep(endpoint string, cfg RepConfig, h RepHandler) (*RepServer, error) {
	cfg.setDefaults()
	removeStaleSocket(endpoint)
	ln, ep, err := listen(endpoint)
	if err != nil {
		return nil, err
	}
	s := &RepServer{cfg: cfg, h: h, ln: ln, ep: ep, conns: make(map[net.Conn]struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// removeStaleSocket deletes the file of an ipc endpoint that no process
// answers on any more, as libzmq does when it binds.
func removeStaleSocket(endpoint string) {
	scheme, path, err := splitEndpoint(endpoint)
	if err != nil || scheme != "ipc" {
		return
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSocket == 0 {
		return
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		os.Remove(path)
	}
}

// Endpoint returns the endpoint clients connect to, with an OS-assigned
// port filled in.
func (s *RepServer) Endpoint() string { return s.ep }

// Close stops listening, closes every connection and waits for the
// server's goroutines. It is idempotent.
func (s *RepServer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.ln.Close()
	s.wg.Wait()
	if scheme, path, err := splitEndpoint(s.ep); err == nil && scheme == "ipc" {
		os.Remove(path)
	}
	return nil
}

func (s *RepServer) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.ctx.Err() != nil {
				return
			}
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond): // EMFILE and friends
			}
			continue
		}
		if !s.track(c) {
			c.Close()
			continue
		}
		s.wg.Add(1)
		go s.serve(c)
	}
}

// track registers c, unless the server is closed or full.
func (s *RepServer) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.conns) >= s.cfg.MaxConns {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *RepServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	g, z, err := openPlain(c, zmq4.Rep, true, s.cfg)
	if err != nil {
		s.cfg.Logger.Debug("req/rep handshake failed", "remote", c.RemoteAddr(), "err", err)
		return
	}
	for {
		msg, err := z.RecvMsg()
		if err != nil {
			return
		}
		envelope, body, ok := splitEnvelope(msg.Frames)
		if !ok {
			s.cfg.Logger.Debug("req/rep message without a single body frame", "remote", c.RemoteAddr())
			return
		}
		reply := s.h(s.ctx, body)
		if err := sendPlain(g, z, append(envelope, reply), s.cfg.WriteTimeout); err != nil {
			return
		}
	}
}

// splitEnvelope splits a request into its routing envelope (up to and
// including the empty delimiter frame) and its one body frame.
func splitEnvelope(frames [][]byte) (envelope [][]byte, body []byte, ok bool) {
	for i, f := range frames {
		if len(f) == 0 {
			if i != len(frames)-2 {
				return nil, nil, false
			}
			return frames[: i+1 : i+1], frames[i+1], true
		}
	}
	return nil, nil, false
}

// openPlain runs the ZMTP handshake on c as a socket of type t.
func openPlain(c net.Conn, t zmq4.SocketType, server bool, cfg RepConfig) (g *guardConn, z *zmq4.Conn, err error) {
	g = newGuardConn(c, uint64(cfg.MaxMessageSize))
	c.SetDeadline(time.Now().Add(cfg.HandshakeTimeout))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: zmtp handshake: %v", ErrProtocol, r)
		}
	}()
	z, err = zmq4.Open(g, null.Security(), t, zmq4.SocketIdentity(""), server, nil)
	if err != nil {
		return nil, nil, err
	}
	c.SetDeadline(time.Time{})
	g.handshakeDone()
	return g, z, nil
}

// sendPlain writes one message and flushes it.
func sendPlain(g *guardConn, z *zmq4.Conn, frames [][]byte, timeout time.Duration) error {
	g.SetWriteDeadline(time.Now().Add(timeout))
	if err := z.SendMsg(zmq4.NewMsgFrom(frames...)); err != nil {
		return err
	}
	return g.Flush()
}

// ReqClient sends requests to one REP endpoint, as a REQ socket would,
// with a deadline on every request. It keeps idle connections for reuse;
// a connection whose request fails or times out is closed, so a late
// reply can never answer the next request.
type ReqClient struct {
	ep  string
	cfg RepConfig

	mu     sync.Mutex
	idle   []*reqConn
	closed bool
}

type reqConn struct {
	c net.Conn
	g *guardConn
	z *zmq4.Conn
}

// maxIdleReq is how many idle connections a ReqClient keeps.
const maxIdleReq = 8

// ErrReqClosed is returned by a closed ReqClient.
var ErrReqClosed = errors.New("mesh: req client closed")

// NewReqClient returns a client of the REP socket at endpoint. It
// connects on the first request.
func NewReqClient(endpoint string, cfg RepConfig) (*ReqClient, error) {
	if _, _, err := splitEndpoint(endpoint); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &ReqClient{ep: endpoint, cfg: cfg}, nil
}

// Endpoint returns the endpoint the client sends to.
func (r *ReqClient) Endpoint() string { return r.ep }

// Request sends req and waits for the reply until ctx ends. An error
// wrapping ErrNotDelivered means the request was never written.
func (r *ReqClient) Request(ctx context.Context, req []byte) ([]byte, error) {
	if len(req) > r.cfg.MaxMessageSize {
		return nil, fmt.Errorf("%w: request of %d bytes", ErrTooLarge, len(req))
	}
	rc, err := r.conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotDelivered, r.ep, err)
	}
	stop := context.AfterFunc(ctx, func() { rc.c.SetDeadline(time.Unix(1, 0)) })
	reply, err := rc.exchange(req, r.cfg.WriteTimeout)
	if !stop() || err != nil {
		rc.c.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrUnknownOutcome, r.ep, err)
	}
	r.put(rc)
	return reply, nil
}

func (rc *reqConn) exchange(req []byte, timeout time.Duration) ([]byte, error) {
	if err := sendPlain(rc.g, rc.z, [][]byte{{}, req}, timeout); err != nil {
		return nil, err
	}
	msg, err := rc.z.RecvMsg()
	if err != nil {
		return nil, err
	}
	envelope, body, ok := splitEnvelope(msg.Frames)
	if !ok || len(envelope) != 1 {
		return nil, fmt.Errorf("%w: reply is not one delimited frame", ErrProtocol)
	}
	return body, nil
}

// conn returns an idle connection or opens one.
func (r *ReqClient) conn(ctx context.Context) (*reqConn, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrReqClosed
	}
	for n := len(r.idle); n > 0; n = len(r.idle) {
		rc := r.idle[n-1]
		r.idle = r.idle[:n-1]
		if !rc.stale() {
			r.mu.Unlock()
			return rc, nil
		}
		rc.c.Close()
	}
	r.mu.Unlock()
	c, err := dial(ctx, r.ep)
	if err != nil {
		return nil, err
	}
	g, z, err := openPlain(c, zmq4.Req, false, r.cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	return &reqConn{c: c, g: g, z: z}, nil
}

// stale reports whether an idle connection was closed by the server (or
// carries bytes nobody asked for), so no request is sent on it. It peeks
// at the socket without blocking.
func (rc *reqConn) stale() bool {
	if rc.g.r.Buffered() > 0 {
		return true
	}
	sc, ok := rc.c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	alive := false
	var b [1]byte
	err = raw.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = errors.Is(rerr, syscall.EAGAIN)
		return true
	})
	return err != nil || !alive
}

// put keeps rc for the next request.
func (r *ReqClient) put(rc *reqConn) {
	rc.c.SetDeadline(time.Time{})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || len(r.idle) >= maxIdleReq {
		rc.c.Close()
		return
	}
	r.idle = append(r.idle, rc)
}

// Close closes idle connections; requests in flight finish or fail on
// their own. It is idempotent.
func (r *ReqClient) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, rc := range r.idle {
		rc.c.Close()
	}
	r.idle = nil
	return nil
}
