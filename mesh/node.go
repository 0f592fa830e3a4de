package mesh

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
)

// maxHandshakes bounds connections in their handshake at once.
const maxHandshakes = 256

// Node is one endpoint of the mesh: it listens for links, serves requests
// with its Handler and calls other nodes.
type Node struct {
	cfg Config
	log *slog.Logger
	eps Endpoints
	lns []net.Listener

	srvTLS, cliTLS *tls.Config // nil for an open mesh

	handler  atomic.Pointer[Handler]
	streams  atomic.Pointer[StreamHandler]
	ctx      context.Context // parent of handler contexts
	cancel   context.CancelFunc
	inflight atomic.Int64
	handlers sync.WaitGroup
	shaking  atomic.Int64

	mu      sync.Mutex
	closed  bool
	out     map[string]*link // links this node dialed, by remote name
	dialing map[string]*dialOp
	links   map[*link]struct{}

	wg        sync.WaitGroup // accept loops, link loops, dials
	closeOnce sync.Once
}

type dialOp struct {
	done chan struct{}
	l    *link
	err  error
}

// Listen starts a node on the endpoints of cfg.
func Listen(cfg Config) (*Node, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:     cfg,
		log:     cfg.Logger,
		out:     make(map[string]*link),
		dialing: make(map[string]*dialOp),
		links:   make(map[*link]struct{}),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.srvTLS, n.cliTLS = tlsConfigs(cfg.Keys)
	n.eps.Proc, n.eps.Host = identities()
	if err := n.listenAll(); err != nil {
		for _, ln := range n.lns {
			ln.Close()
		}
		n.cancel()
		return nil, err
	}
	for _, ln := range n.lns {
		n.wg.Add(1)
		go n.acceptLoop(ln)
	}
	cfg.Faults.OnChange(n.cutPartitioned)
	return n, nil
}

func (n *Node) listenAll() error {
	add := func(ep string) (string, error) {
		ln, real, err := listen(ep)
		if err != nil {
			return "", err
		}
		n.lns = append(n.lns, ln)
		return real, nil
	}
	var err error
	if n.cfg.TCP != "" {
		if n.eps.TCP, err = add("tcp://" + n.cfg.TCP); err != nil {
			return err
		}
		if h := n.cfg.AdvertiseHost; h != "" {
			_, port, _ := net.SplitHostPort(strings.TrimPrefix(n.eps.TCP, "tcp://"))
			n.eps.TCP = "tcp://" + net.JoinHostPort(h, port)
		}
	}
	if n.cfg.IPCDir != "" {
		if n.eps.IPC, err = add("ipc://" + filepath.Join(n.cfg.IPCDir, randomHex(6)+".sock")); err != nil {
			return err
		}
	}
	if n.cfg.Inproc {
		if n.eps.Inproc, err = add("inproc://" + n.cfg.Name + "." + randomHex(6)); err != nil {
			return err
		}
	}
	return nil
}

// Name returns the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Endpoints returns where other nodes can reach this one.
func (n *Node) Endpoints() Endpoints { return n.eps }

// Handle installs the handler for incoming requests, replacing any other.
func (n *Node) Handle(h Handler) { n.handler.Store(&h) }

func (n *Node) acceptLoop(ln net.Listener) {
	defer n.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || n.isClosed() {
				return
			}
			n.log.Warn("accept failed", "err", err)
			select {
			case <-n.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond): // back off on EMFILE and friends
			}
			continue
		}
		if n.shaking.Add(1) > maxHandshakes {
			n.shaking.Add(-1)
			c.Close()
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer n.shaking.Add(-1)
			if _, err := n.handshake(n.ctx, c, true, ""); err != nil {
				n.log.Debug("incoming connection refused", "remote", c.RemoteAddr(), "err", err)
			}
		}()
	}
}

// handshake runs the TLS handshake on c if it needs one, then the ZMTP
// handshake, and starts a link. want, if set, is the name the remote must
// have. ctx ends the TLS handshake early.
func (n *Node) handshake(ctx context.Context, c net.Conn, server bool, want string) (*link, error) {
	c.SetDeadline(time.Now().Add(n.cfg.HandshakeTimeout))
	g, err := n.guard(ctx, c, server)
	if err != nil {
		c.Close()
		return nil, err
	}
	z, err := openZMTP(g, server, n.cfg.Name)
	if err != nil {
		c.Close()
		return nil, explainZMTP(g, err)
	}
	c.SetDeadline(time.Time{})
	g.handshakeDone()
	remote := z.Peer.Meta["Identity"]
	if want != "" && remote != want {
		c.Close()
		return nil, fmt.Errorf("%w: endpoint now belongs to %q, not %q", ErrNoEndpoint, remote, want)
	}
	if remote == "" {
		remote = c.RemoteAddr().String()
	}
	l := newLink(n, g, z, remote)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		c.Close()
		return nil, ErrClosed
	}
	// Checked under mu: a partition set meanwhile either sees this link
	// in links (cutPartitioned) or is seen here.
	if err := n.partitioned(remote); err != nil {
		n.mu.Unlock()
		c.Close()
		return nil, err
	}
	n.links[l] = struct{}{}
	n.mu.Unlock()
	l.start()
	return l, nil
}

// openZMTP performs the ZMTP greeting and NULL handshake; zmq4 panics on
// some malformed handshakes, which become errors here.
func openZMTP(g *guardConn, server bool, name string) (z *zmq4.Conn, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: zmtp handshake: %v", ErrProtocol, r)
		}
	}()
	return zmq4.Open(g, null.Security(), zmq4.Dealer, zmq4.SocketIdentity(name), server, nil)
}

// linkTo returns a live link to t, dialing one if needed. Concurrent callers
// share one dial. A peer that a fault partition separates from this node is
// never dialed.
func (n *Node) linkTo(ctx context.Context, t Target) (*link, error) {
	if err := n.partitioned(t.Name); err != nil {
		return nil, fmt.Errorf("%w: dial %s: %w", ErrNotDelivered, t.Name, err)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	if l := n.out[t.Name]; l != nil && l.alive() {
		n.mu.Unlock()
		return l, nil
	}
	d := n.dialing[t.Name]
	if d == nil {
		d = &dialOp{done: make(chan struct{})}
		n.dialing[t.Name] = d
		n.wg.Add(1)
		go n.dial(t, d)
	}
	n.mu.Unlock()
	select {
	case <-d.done:
		return d.l, d.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dial opens a link to t on the best endpoint that answers.
func (n *Node) dial(t Target, d *dialOp) {
	defer n.wg.Done()
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.DialTimeout)
	defer cancel()
	d.err = fmt.Errorf("%w: %s has no endpoint reachable from here", ErrNoEndpoint, t.Name)
	for _, ep := range t.Endpoints.choose(n.eps) {
		c, err := dial(ctx, ep)
		if err != nil {
			d.err = err
			continue
		}
		d.l, d.err = n.handshake(ctx, c, false, t.Name)
		if d.err == nil {
			break
		}
	}
	if d.err != nil {
		d.err = fmt.Errorf("%w: dial %s: %w", ErrNotDelivered, t.Name, d.err)
	}
	n.mu.Lock()
	delete(n.dialing, t.Name)
	if d.l != nil {
		if n.closed {
			d.l, d.err = nil, ErrClosed
		} else {
			n.out[t.Name] = d.l
		}
	}
	n.mu.Unlock()
	close(d.done)
}

// dropLink forgets a dead link.
func (n *Node) dropLink(l *link) {
	n.mu.Lock()
	delete(n.links, l)
	if n.out[l.remote] == l {
		delete(n.out, l.remote)
	}
	n.mu.Unlock()
}

// forgetDrain is how long a forgotten link keeps reading what already
// arrived, so acknowledgements in flight are not mistaken for losses.
const forgetDrain = 100 * time.Millisecond

// Forget closes the link this node dialed to name, failing calls waiting on
// it once what the peer already sent has been read. Use it when discovery
// says the node is gone.
func (n *Node) Forget(name string) {
	n.mu.Lock()
	l := n.out[name]
	n.mu.Unlock()
	if l != nil {
		l.forgotten.Store(true)
		l.g.Conn.SetReadDeadline(time.Now().Add(forgetDrain))
	}
}

// Links returns the names of the nodes this node has dialed links to.
func (n *Node) Links() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	names := make([]string, 0, len(n.out))
	for name := range n.out {
		names = append(names, name)
	}
	return names
}

func (n *Node) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// acquire admits one handler run; false when closing or saturated.
func (n *Node) acquire() bool {
	if n.inflight.Add(1) > int64(n.cfg.MaxConcurrent) {
		n.inflight.Add(-1)
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		n.inflight.Add(-1)
		return false
	}
	n.handlers.Add(1)
	return true
}

func (n *Node) release() {
	n.inflight.Add(-1)
	n.handlers.Done()
}

// Close stops accepting, refuses new requests, waits up to DrainTimeout for
// running handlers and sends their replies, then closes every link and
// waits for all goroutines. It is idempotent.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closed = true
		n.mu.Unlock()
		for _, ln := range n.lns {
			ln.Close()
		}
		n.drain()
		n.cancel()
		n.mu.Lock()
		links := make([]*link, 0, len(n.links))
		for l := range n.links {
			links = append(links, l)
		}
		n.mu.Unlock()
		for _, l := range links {
			l.closeGracefully(ErrClosed)
		}
		n.handlers.Wait()
		n.wg.Wait()
	})
	return nil
}

// drain waits for running handlers, at most DrainTimeout.
func (n *Node) drain() {
	done := make(chan struct{})
	go func() {
		n.handlers.Wait()
		close(done)
	}()
	t := time.NewTimer(n.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		n.log.Warn("handlers still running at close; cancelling them")
	}
}
