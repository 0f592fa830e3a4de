package consensus

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/meshkey"
)

// testLogger routes logs at warning and above to t.Log until the test
// ends (raft's connection goroutines may log a little after Close).
func testLogger(t *testing.T) *slog.Logger {
	w := &testLogWriter{t: t}
	t.Cleanup(func() { w.done.Store(true) }) // registered first: runs last
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testLogWriter struct {
	t    *testing.T
	done atomic.Bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// testMesh is the Mesh of state servers in one process: they are all
// live, with no sessions.
type testMesh struct {
	expect  int
	mu      sync.Mutex
	servers map[string]*Server
}

func (m *testMesh) Servers() []ServerInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ServerInfo
	for name, s := range m.servers {
		out = append(out, ServerInfo{Name: name, Addr: s.Addr(), Expect: m.expect, Joined: s.joined.Load()})
	}
	return out
}

func (m *testMesh) Sessions() map[string]bool { return map[string]bool{} }

func (m *testMesh) Claim(_ context.Context, server, claimant string) error {
	m.mu.Lock()
	s := m.servers[server]
	m.mu.Unlock()
	if s == nil {
		return fmt.Errorf("no server %s", server)
	}
	return s.AcceptClaim(claimant)
}

// startCluster opens n servers on loopback, each with a ring from keys and
// its configuration changed by opts, and waits for a leader.
func startCluster(t *testing.T, n int, keys func() *meshkey.Ring, opts ...func(*Config)) []*Server {
	t.Helper()
	log := testLogger(t)
	m := &testMesh{expect: n, servers: make(map[string]*Server)}
	var servers []*Server
	for i := range n {
		name := fmt.Sprintf("s%d", i)
		cfg := Config{
			Name:            name,
			Dir:             t.TempDir(),
			BootstrapExpect: n,
			Mesh:            m,
			Keys:            keys(),
			Logger:          log.With("server", name),
		}
		for _, o := range opts {
			o(&cfg)
		}
		s, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		m.mu.Lock()
		m.servers[name] = s
		m.mu.Unlock()
		servers = append(servers, s)
	}
	waitFor(t, 20*time.Second, func() bool { return leader(servers) != nil })
	return servers
}

func leader(servers []*Server) *Server {
	for _, s := range servers {
		if s.Status().Leader {
			return s
		}
	}
	return nil
}

// replicate puts key through the leader and waits until every server's
// store has it.
func replicate(t *testing.T, servers []*Server, key string) {
	t.Helper()
	val := []byte("value of " + key)
	waitFor(t, 20*time.Second, func() bool {
		l := leader(servers)
		if l == nil {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := l.Apply(ctx, Command{Op: OpPut, Key: key, Value: val})
		return err == nil
	})
	waitFor(t, 20*time.Second, func() bool {
		for _, s := range servers {
			e, ok, _ := s.Store().Get(key)
			if !ok || !bytes.Equal(e.Value, val) {
				return false
			}
		}
		return true
	})
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dialRaft(t *testing.T, s *Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expectClosed reads c until the server closes it, within d.
func expectClosed(t *testing.T, c net.Conn, d time.Duration, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
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

// clientHello returns the ClientHello record a TLS client of ring sends.
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
	if err != nil || n < 100 || buf[0] != 0x16 {
		t.Fatalf("no ClientHello: %d bytes, %v", n, err)
	}
	return buf[:n]
}

// rawRPC is the start of a raft AppendEntries request, as a plain
// transport would read it.
var rawRPC = []byte{0, 0x81, 0xa4, 'T', 'e', 'r', 'm', 1}

// Servers that share a mesh key form a cluster over TLS and replicate;
// clients without the key, and hostile bytes, on their raft ports neither
// get in nor disturb them.
func TestKeyedClusterReplicates(t *testing.T) {
	key := meshkey.Generate()
	ring := func() *meshkey.Ring {
		r, err := meshkey.NewRing(key)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	servers := startCluster(t, 3, ring)
	replicate(t, servers, "before")

	other, _ := meshkey.NewRing(meshkey.Generate())
	hello := clientHello(t, ring())
	// a client that says hello and falls silent, on every server: closed
	// at the handshake deadline, holding up nothing meanwhile
	var silent []net.Conn
	for _, s := range servers {
		c := dialRaft(t, s)
		c.Write(hello)
		silent = append(silent, c)
		for range 5 {
			dialRaft(t, s) // connects and never speaks
		}
	}
	for _, s := range servers {
		// a TLS client of another mesh: the server's certificate is refused
		tc := tls.Client(dialRaft(t, s), other.ClientTLS())
		if err := tc.Handshake(); !errors.Is(err, meshkey.ErrNotMember) {
			t.Errorf("%s: client of another mesh: %v", s.cfg.Name, err)
		}
		// ... and one that does not check it completes its side, sends a
		// raft request, and is refused
		cfg := other.ClientTLS()
		cfg.VerifyPeerCertificate = nil
		fc := tls.Client(dialRaft(t, s), cfg)
		if err := fc.Handshake(); err == nil {
			fc.Write(rawRPC)
			expectClosed(t, fc, 5*time.Second, "client of another mesh")
		}
		for what, p := range map[string][]byte{
			"plain garbage":    bytes.Repeat([]byte{0x01, 0x80, 0xff}, 300),
			"plain raft rpc":   rawRPC,
			"huge record":      append([]byte{0x16, 3, 1, 0xff, 0xff}, make([]byte, 1024)...),
			"hello then junk":  append(bytes.Clone(hello), 0x15, 3, 3, 0, 2, 9, 9),
			"mangled hello":    append(bytes.Clone(hello[:60]), bytes.Repeat([]byte{0xee}, len(hello)-60)...),
			"truncated record": hello[:len(hello)/2],
		} {
			c := dialRaft(t, s)
			c.Write(p)
			if strings.HasPrefix(what, "truncated") {
				c.Close() // it would wait for the rest until its deadline
				continue
			}
			expectClosed(t, c, 5*time.Second, what)
		}
	}
	replicate(t, servers, "during")
	for _, c := range silent {
		expectClosed(t, c, handshakeTimeout+5*time.Second, "hello then silence")
	}
	replicate(t, servers, "after")
}

// A server whose key is not its cluster's cannot take part: its raft
// connections are refused both ways.
func TestServerOfAnotherMeshRefused(t *testing.T) {
	key := meshkey.Generate()
	servers := startCluster(t, 1, func() *meshkey.Ring {
		r, _ := meshkey.NewRing(key)
		return r
	})
	replicate(t, servers, "k")
	other, _ := meshkey.NewRing(meshkey.Generate())
	l := &tcpLayer{cliTLS: other.ClientTLS()}
	if _, err := l.Dial(servers[0].trans.LocalAddr(), 5*time.Second); !errors.Is(err, meshkey.ErrNotMember) {
		t.Fatalf("dial with another key: %v", err)
	}
	plain := &tcpLayer{}
	c, err := plain.Dial(servers[0].trans.LocalAddr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(rawRPC)
	expectClosed(t, c, 5*time.Second, "plain raft client")
}
