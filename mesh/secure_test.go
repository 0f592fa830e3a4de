package mesh

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/meshkey"
)

// newRing returns a ring of keys, the first the primary.
func newRing(t testing.TB, keys ...meshkey.Key) *meshkey.Ring {
	t.Helper()
	r, err := meshkey.NewRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newTCPNode starts a node with only a tcp endpoint, so that every link to
// or from it is a tcp link (and TLS when keys is set), and closes it at
// the end. opts adjust its configuration.
func newTCPNode(t testing.TB, name string, keys *meshkey.Ring, h Handler, opts ...func(*Config)) *Node {
	t.Helper()
	cfg := Config{
		Name:             name,
		TCP:              "127.0.0.1:0",
		Keys:             keys,
		HandshakeTimeout: 2 * time.Second,
		DrainTimeout:     time.Second,
		Logger:           testLogger(t),
	}
	for _, o := range opts {
		o(&cfg)
	}
	n, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if h != nil {
		n.Handle(h)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// echoCall sends one echo request from cli to srv.
func echoCall(cli, srv *Node, payload string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rep, err := cli.Call(ctx, target(srv), Request{Service: "echo", Codec: "raw", Payload: []byte(payload)})
	if err == nil && string(rep.Payload) != payload {
		err = errors.New("wrong reply " + string(rep.Payload))
	}
	return err
}

// sealed reports whether n's link to name runs over TLS.
func sealed(n *Node, name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.out[name]
	if l == nil {
		return false
	}
	_, ok := l.g.Conn.(*tls.Conn)
	return ok && l.g.sealed
}

func TestKeyedNodesCall(t *testing.T) {
	k := meshkey.Generate()
	a := newTCPNode(t, "a", newRing(t, k), echo)
	b := newTCPNode(t, "b", newRing(t, k), echo)
	if err := echoCall(a, b, "a to b"); err != nil {
		t.Fatal(err)
	}
	if err := echoCall(b, a, "b to a"); err != nil {
		t.Fatal(err)
	}
	if !sealed(a, "b") || !sealed(b, "a") {
		t.Fatal("keyed tcp links are not TLS")
	}
	// large payloads cross several TLS records and write buffers
	p := bytes.Repeat([]byte("0123456789abcdef"), 300<<10/16)
	rep, err := a.Call(context.Background(), target(b), Request{Service: "echo", Payload: p})
	if err != nil || !bytes.Equal(rep.Payload, p) {
		t.Fatalf("large payload: %v", err)
	}
	// ipc and inproc links stay plain with a key
	for _, local := range []func(*Config){
		func(c *Config) { c.TCP, c.IPCDir = "", t.TempDir() },
		func(c *Config) { c.TCP, c.Inproc = "", true },
	} {
		e := newTCPNode(t, "e", newRing(t, k), echo, local)
		f := newTCPNode(t, "f", newRing(t, k), echo, local)
		if err := echoCall(e, f, "local"); err != nil || sealed(e, "f") {
			t.Fatalf("local link: %v, sealed %v", err, sealed(e, "f"))
		}
	}
	// an open mesh stays plain
	c := newTCPNode(t, "c", nil, echo)
	d := newTCPNode(t, "d", nil, echo)
	if err := echoCall(c, d, "plain"); err != nil || sealed(c, "d") {
		t.Fatalf("open mesh: %v, sealed %v", err, sealed(c, "d"))
	}
}

func TestKeyMismatchRefused(t *testing.T) {
	old, cur, other := meshkey.Generate(), meshkey.Generate(), meshkey.Generate()
	keyed := newTCPNode(t, "keyed", newRing(t, cur), echo)
	foreign := newTCPNode(t, "foreign", newRing(t, other), echo)
	open := newTCPNode(t, "open", nil, echo)
	// rotated too early: its primary is a key that keyed does not hold
	early := newTCPNode(t, "early", newRing(t, old, cur), echo)
	cases := []struct {
		from, to *Node
		want     error
		text     string
	}{
		{foreign, keyed, meshkey.ErrNotMember, "does not hold a key of this mesh"},
		{keyed, foreign, meshkey.ErrNotMember, "does not hold a key of this mesh"},
		{open, keyed, ErrKeyRequired, "requires a mesh key"},
		{keyed, open, ErrPeerOpen, "has no mesh key"},
		{early, keyed, ErrKeyRefused, "does not accept this node's mesh key"},
		{keyed, early, meshkey.ErrNotMember, "does not hold a key of this mesh"},
	}
	for _, c := range cases {
		err := echoCall(c.from, c.to, "x")
		t.Logf("%s -> %s: %v", c.from.Name(), c.to.Name(), err)
		if !errors.Is(err, ErrNotDelivered) || !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s -> %s: got %v, want %v", c.from.Name(), c.to.Name(), err, c.want)
		}
	}
	// the refusals left every node serving its own mesh
	probe := newTCPNode(t, "probe", newRing(t, cur), nil)
	if err := echoCall(probe, keyed, "still there"); err != nil {
		t.Fatal(err)
	}
	if err := echoCall(newTCPNode(t, "probe2", nil, nil), open, "open still there"); err != nil {
		t.Fatal(err)
	}
}

// tap is a tcp proxy that records the bytes it forwards, both ways.
type tap struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu       sync.Mutex
	up, down bytes.Buffer // client to server, server to client
	conns    []net.Conn
	closed   bool
}

func newTap(t testing.TB, target string) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tap{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *tap) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		p.conns = append(p.conns, c, s)
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(s, c, &p.up)
		go p.pipe(c, s, &p.down)
	}
}

func (p *tap) pipe(dst, src net.Conn, rec *bytes.Buffer) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			rec.Write(buf[:n])
			p.mu.Unlock()
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *tap) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *tap) captured() (up, down []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.up.Bytes()), bytes.Clone(p.down.Bytes())
}

// A tap between two nodes sees the payload of a call in the clear in an
// open mesh, and never with a key.
func TestTLSHidesPayloadFromTap(t *testing.T) {
	const marker = "pyros-marker-7f3a9c-payload"
	for _, keyed := range []bool{false, true} {
		name := "open"
		if keyed {
			name = "keyed"
		}
		t.Run(name, func(t *testing.T) {
			var ra, rb *meshkey.Ring
			if keyed {
				k := meshkey.Generate()
				ra, rb = newRing(t, k), newRing(t, k)
			}
			srv := newTCPNode(t, "srv", ra, echo)
			cli := newTCPNode(t, "cli", rb, nil)
			p := newTap(t, strings.TrimPrefix(srv.Endpoints().TCP, "tcp://"))
			via := Target{Name: "srv", Endpoints: Endpoints{TCP: "tcp://" + p.ln.Addr().String()}}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for range 3 {
				rep, err := cli.Call(ctx, via, Request{Service: "echo", Codec: "raw", Payload: []byte(marker)})
				if err != nil || string(rep.Payload) != marker {
					t.Fatalf("call through the tap: %q, %v", rep.Payload, err)
				}
			}
			up, down := p.captured()
			if len(up) == 0 || len(down) == 0 {
				t.Fatalf("tap saw %d and %d bytes", len(up), len(down))
			}
			seen := bytes.Contains(up, []byte(marker)) && bytes.Contains(down, []byte(marker))
			hidden := !bytes.Contains(up, []byte(marker)) && !bytes.Contains(down, []byte(marker))
			if keyed && !hidden {
				t.Fatal("the payload crossed the wire in the clear with a mesh key")
			}
			if !keyed && !seen {
				t.Fatal("the tap does not see the payload of an open mesh: the test cannot fail")
			}
		})
	}
}

// clientHello returns the first flight of a TLS client of ring: its
// ClientHello record.
func clientHello(t *testing.T, ring *meshkey.Ring) []byte {
	t.Helper()
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tls.Client(a, ring.ClientTLS()).Handshake()
	}()
	buf := make([]byte, 64<<10)
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := b.Read(buf)
	a.Close()
	b.Close()
	<-done
	if err != nil || n < 100 || buf[0] != tlsRecordHandshake {
		t.Fatalf("no ClientHello: %d bytes, %v", n, err)
	}
	return buf[:n]
}

// expectClosed reads c until the node closes it; a read timeout fails.
func expectClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("%s: connection not closed", what)
			}
			return
		}
	}
}

// Hostile bytes on a keyed tcp port, before and after TLS, leave the node
// serving, and every connection that breaks the rules is closed.
func TestHostileBytesOnKeyedPort(t *testing.T) {
	k := meshkey.Generate()
	ring := newRing(t, k)
	srv := newTCPNode(t, "srv", ring, echo, func(c *Config) { c.HandshakeTimeout = 500 * time.Millisecond })
	hello := clientHello(t, ring)
	foreignHello := clientHello(t, newRing(t, meshkey.Generate()))
	huge := append([]byte{tlsRecordHandshake, 3, 1, 0xff, 0xff}, make([]byte, 4096)...)
	payloads := map[string][]byte{
		"empty":                     {},
		"zmtp greeting":             zmtpGreeting(),
		"truncated hello":           hello[:len(hello)/2],
		"hello header only":         hello[:5],
		"huge record":               huge,
		"huge app record":           {0x17, 3, 3, 0xff, 0xff, 1, 2, 3},
		"hello then garbage":        append(bytes.Clone(hello), 0x17, 3, 3, 0, 40, 1, 2, 3),
		"foreign hello then hello":  append(bytes.Clone(foreignHello), hello...),
		"hello with garbage inside": append(bytes.Clone(hello[:60]), bytes.Repeat([]byte{0xee}, len(hello)-60)...),
	}
	for range 50 {
		b := make([]byte, 1+int(randByte())*8)
		rand.Read(b)
		c := rawConn(t, srv)
		c.Write(b)
		c.Close()
	}
	for what, p := range payloads {
		c := rawConn(t, srv)
		c.Write(p)
		if what == "empty" || strings.HasPrefix(what, "truncated") || what == "hello header only" {
			c.Close() // the node would wait for the rest until its deadline
			continue
		}
		expectClosed(t, c, what)
	}

	// a ClientHello then silence: closed at the handshake deadline, and
	// meanwhile the node accepts others
	silent := rawConn(t, srv)
	silent.Write(hello)
	for range 20 {
		rawConn(t, srv) // connects and never speaks
	}
	assertServesKeyed(t, srv, ring)
	expectClosed(t, silent, "hello then silence")

	// a client of another mesh that does not check the server's
	// certificate completes its side of TLS; the node refuses it
	cfg := newRing(t, meshkey.Generate()).ClientTLS()
	cfg.VerifyPeerCertificate = nil
	fc := tls.Client(rawConn(t, srv), cfg)
	if err := fc.Handshake(); err == nil {
		fc.Write(zmtpGreeting())
		expectClosed(t, fc, "client of another mesh")
	}

	// a member that breaks ZMTP inside TLS is closed by the guard
	for what, p := range map[string][]byte{
		"huge frame": append(zmtpGreeting(), zmtpFlagLong, 0, 0, 0, 0x10, 0, 0, 0, 0),
		"garbage":    bytes.Repeat([]byte{0xab}, 200),
		"ping":       append(append(zmtpGreeting(), zmtpReady()...), zmtpFlagCommand, 4, 'P', 'I', 'N', 'G'),
	} {
		mc := tls.Client(rawConn(t, srv), ring.ClientTLS())
		if err := mc.Handshake(); err != nil {
			t.Fatalf("%s: member handshake: %v", what, err)
		}
		mc.Write(p)
		expectClosed(t, mc, what)
	}
	assertServesKeyed(t, srv, ring)
}

func assertServesKeyed(t *testing.T, srv *Node, ring *meshkey.Ring) {
	t.Helper()
	cli := newTCPNode(t, "probe-"+randomHex(3), ring, nil)
	if err := echoCall(cli, srv, "ok"); err != nil {
		t.Fatalf("node stopped serving: %v", err)
	}
}

// forget closes a's link to b and b's link to a and waits until they are
// gone, so the next calls open new links.
func forget(t *testing.T, a, b *Node) {
	t.Helper()
	a.Forget(b.Name())
	b.Forget(a.Name())
	waitFor(t, 5*time.Second, func() bool { return len(a.Links()) == 0 && len(b.Links()) == 0 })
}

// A mesh changes keys with no downtime: install the new key on every
// node, then make it the primary on every node, then remove the old one.
// Calls work at each step, on the links in place and on new ones.
func TestKeyRotation(t *testing.T) {
	old, cur := meshkey.Generate(), meshkey.Generate()
	ra, rb := newRing(t, old), newRing(t, old)
	a := newTCPNode(t, "a", ra, echo)
	b := newTCPNode(t, "b", rb, echo)
	steps := []struct {
		ring *meshkey.Ring
		keys []meshkey.Key
	}{
		{ra, []meshkey.Key{old, cur}},
		{rb, []meshkey.Key{old, cur}},
		{ra, []meshkey.Key{cur, old}},
		{rb, []meshkey.Key{cur, old}},
		{ra, []meshkey.Key{cur}},
		{rb, []meshkey.Key{cur}},
	}
	check := func(step string) {
		t.Helper()
		if err := echoCall(a, b, step); err != nil {
			t.Fatalf("%s: a -> b: %v", step, err)
		}
		if err := echoCall(b, a, step); err != nil {
			t.Fatalf("%s: b -> a: %v", step, err)
		}
	}
	check("start")
	for i, s := range steps {
		if err := s.ring.Set(s.keys...); err != nil {
			t.Fatal(err)
		}
		step := "step " + string(rune('1'+i))
		check(step + " on the links in place")
		forget(t, a, b)
		check(step + " on new links")
		if !sealed(a, "b") || !sealed(b, "a") {
			t.Fatalf("%s: links not sealed", step)
		}
	}
	// the old key no longer opens links
	stale := newTCPNode(t, "stale", newRing(t, old), nil)
	if err := echoCall(stale, a, "x"); !errors.Is(err, meshkey.ErrNotMember) {
		t.Fatalf("a removed key still works: %v", err)
	}
}
