package discovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/pyros-mesh/pyros/fault"
)

// maxScreening bounds the inbound streams being screened at once; further
// connections are closed immediately.
const maxScreening = 128

var errTransportDown = errors.New("discovery: transport shut down")

// guardedTransport is memberlist's NetTransport with every inbound packet and
// stream screened before memberlist parses it (see screener), every dial
// cancelled and every connection closed on Shutdown, a default I/O
// deadline on dialed connections (memberlist sets none when sending a
// reliable message), and the fault rules applied (see fault.go).
type guardedTransport struct {
	inner   *memberlist.NetTransport
	screen  screener
	timeout time.Duration
	logger  *slog.Logger

	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	sem      chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once

	mu    sync.Mutex
	conns map[*guardedConn]struct{}
	down  bool

	droppedPackets atomic.Uint64
	droppedStreams atomic.Uint64

	// faults, when not nil, injects faults; names and delayed serve it.
	faults  *fault.Injector
	names   addrNames
	delayed *delayLine
}

var _ memberlist.NodeAwareTransport = (*guardedTransport)(nil)

type transportConfig struct {
	bindAddr  string
	bindPort  int
	timeout   time.Duration // memberlist's TCPTimeout
	logger    *slog.Logger
	stdLogger *log.Logger
	// keys returns memberlist's keyring when encryption is configured;
	// plain admits unencrypted traffic all the same; label is memberlist's
	// Label (see screener).
	keys  func() [][]byte
	plain bool
	label string
	// faults is Config.Faults.
	faults *fault.Injector
}

func newGuardedTransport(c transportConfig) (*guardedTransport, error) {
	inner, err := listen(c)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &guardedTransport{
		inner: inner,
		screen: screener{
			keys:        c.keys,
			acceptPlain: c.plain,
			label:       c.label,
			inflate:     make(chan struct{}, maxInflating),
			inflateWait: c.timeout,
			done:        ctx.Done(),
		},
		timeout:  c.timeout,
		logger:   c.logger,
		packetCh: make(chan *memberlist.Packet),
		streamCh: make(chan net.Conn),
		sem:      make(chan struct{}, maxScreening),
		ctx:      ctx,
		cancel:   cancel,
		stop:     make(chan struct{}),
		conns:    make(map[*guardedConn]struct{}),
		faults:   c.faults,
	}
	g.wg.Add(2)
	go g.pumpPackets()
	go g.pumpStreams()
	if g.faults != nil {
		g.delayed = newDelayLine(func(b []byte, a memberlist.Address) { _, _ = g.inner.WriteToAddress(b, a) })
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.delayed.run(g.stop)
		}()
	}
	return g, nil
}

// listen binds UDP and TCP on one port. With port 0 the kernel picks the TCP
// port and UDP may find it taken, so that case is retried like memberlist
// does for its default transport.
func listen(c transportConfig) (*memberlist.NetTransport, error) {
	nc := &memberlist.NetTransportConfig{
		BindAddrs: []string{c.bindAddr},
		BindPort:  c.bindPort,
		Logger:    c.stdLogger,
	}
	attempts := 1
	if c.bindPort == 0 {
		attempts = 10
	}
	var err error
	for range attempts {
		var t *memberlist.NetTransport
		if t, err = memberlist.NewNetTransport(nc); err == nil {
			return t, nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, fmt.Errorf("discovery: bind %s:%d: %w", c.bindAddr, c.bindPort, err)
}

// port is the bound port.
func (g *guardedTransport) port() int { return g.inner.GetAutoBindPort() }

// FinalAdvertiseAddr implements memberlist.Transport.
func (g *guardedTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return g.inner.FinalAdvertiseAddr(ip, port)
}

// WriteTo implements memberlist.Transport.
func (g *guardedTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return g.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress implements memberlist.NodeAwareTransport.
func (g *guardedTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if g.faults != nil {
		return g.faultyWrite(b, a)
	}
	return g.inner.WriteToAddress(b, a)
}

// PacketCh implements memberlist.Transport.
func (g *guardedTransport) PacketCh() <-chan *memberlist.Packet { return g.packetCh }

// StreamCh implements memberlist.Transport.
func (g *guardedTransport) StreamCh() <-chan net.Conn { return g.streamCh }

// DialTimeout implements memberlist.Transport.
func (g *guardedTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return g.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout implements memberlist.NodeAwareTransport. The answer
// read on the connection is screened like an inbound stream.
func (g *guardedTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if g.faults != nil {
		var err error
		if timeout, err = g.faultyDial(a, timeout); err != nil {
			return nil, err
		}
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(g.ctx, "tcp", a.Addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(g.timeout))
	gc := g.track(c)
	if gc == nil {
		return nil, errTransportDown
	}
	return gc, nil
}

// Shutdown implements memberlist.Transport. It returns once every goroutine
// of the transport has exited.
func (g *guardedTransport) Shutdown() error {
	var err error
	g.once.Do(func() {
		g.cancel()
		g.mu.Lock()
		g.down = true
		conns := g.conns
		g.conns = nil
		g.mu.Unlock()
		for c := range conns {
			_ = c.Conn.Close()
		}
		// The pumps keep draining NetTransport while it stops.
		err = g.inner.Shutdown()
		close(g.stop)
		g.wg.Wait()
	})
	return err
}

func (g *guardedTransport) pumpPackets() {
	defer g.wg.Done()
	for {
		select {
		case <-g.stop:
			return
		case p := <-g.inner.PacketCh():
			if g.fromBlocked(p.From) {
				continue // lost on the way
			}
			if err := g.screen.packet(p.Buf); err != nil {
				g.droppedPackets.Add(1)
				g.logger.Debug("dropped packet", "from", p.From, "err", err)
				continue
			}
			select {
			case g.packetCh <- p:
			case <-g.stop:
				return
			}
		}
	}
}

func (g *guardedTransport) pumpStreams() {
	defer g.wg.Done()
	for {
		select {
		case <-g.stop:
			return
		case c := <-g.inner.StreamCh():
			select {
			case g.sem <- struct{}{}:
			default:
				g.reject(c.RemoteAddr(), errors.New("too many streams being screened"))
				_ = c.Close()
				continue
			}
			gc := g.track(c)
			if gc == nil {
				<-g.sem
				continue
			}
			g.wg.Add(1)
			go g.screenInbound(gc)
		}
	}
}

func (g *guardedTransport) screenInbound(c *guardedConn) {
	defer g.wg.Done()
	_ = c.Conn.SetDeadline(time.Now().Add(g.timeout))
	r, err := g.screen.stream(c.Conn, true)
	<-g.sem
	if err != nil {
		g.reject(c.RemoteAddr(), err)
		_ = c.Close()
		return
	}
	c.r = r
	select {
	case g.streamCh <- c:
	case <-g.stop:
		_ = c.Close()
	}
}

// reject counts a stream that failed screening. Malformed streams are logged
// as warnings: legitimate members never send them. Streams that merely ended
// or timed out are logged at debug level.
func (g *guardedTransport) reject(from net.Addr, err error) {
	g.droppedStreams.Add(1)
	var ne net.Error
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || (errors.As(err, &ne) && ne.Timeout()) {
		g.logger.Debug("stream ended before screening completed", "from", from, "err", err)
		return
	}
	g.logger.Warn("rejected stream", "from", from, "err", err)
}

// track registers c so Shutdown closes it; nil (and c closed) once shut down.
func (g *guardedTransport) track(c net.Conn) *guardedConn {
	gc := &guardedConn{Conn: c, g: g}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.down {
		_ = c.Close()
		return nil
	}
	g.conns[gc] = struct{}{}
	return gc
}

func (g *guardedTransport) untrack(c *guardedConn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// guardedConn is a tracked connection. Inbound ones are screened before
// memberlist sees them and replay the screened bytes; dialed ones screen the
// answer on first read.
type guardedConn struct {
	net.Conn
	g         *guardedTransport
	r         io.Reader
	err       error
	closeOnce sync.Once
}

func (c *guardedConn) Read(p []byte) (int, error) {
	if c.r == nil && c.err == nil {
		if c.r, c.err = c.g.screen.stream(c.Conn, false); c.err != nil {
			c.g.reject(c.RemoteAddr(), c.err)
		}
	}
	if c.err != nil {
		return 0, c.err
	}
	return c.r.Read(p)
}

func (c *guardedConn) Close() error {
	c.closeOnce.Do(func() { c.g.untrack(c) })
	return c.Conn.Close()
}
