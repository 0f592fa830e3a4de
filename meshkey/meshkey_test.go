package meshkey

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseKeys(t *testing.T) {
	a, b := Generate(), Generate()
	keys, err := ParseKeys([]byte("# ring\n" + a.String() + "\n\n  " + b.String() + "  \n"))
	if err != nil || len(keys) != 2 || keys[0] != a || keys[1] != b {
		t.Fatalf("ParseKeys: %v, %v", keys, err)
	}
	for _, bad := range []string{"", "# only a comment\n", "not base64!", "AAAA", a.String() + "\nshort"} {
		if _, err := ParseKeys([]byte(bad)); !errors.Is(err, ErrKey) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if a.ID() == b.ID() || len(a.ID()) != 8 || strings.Contains(a.String(), a.ID()) {
		t.Errorf("ids: %s %s", a.ID(), b.ID())
	}
	if _, err := NewRing(a, a); !errors.Is(err, ErrKey) {
		t.Errorf("duplicate key accepted: %v", err)
	}
	if _, err := NewRing(); !errors.Is(err, ErrKey) {
		t.Errorf("empty ring accepted: %v", err)
	}
}

// handshake runs TLS between a client and a server ring and returns the
// errors of both ends.
func handshake(t *testing.T, client, server *Ring) (error, error) {
	t.Helper()
	c1, c2 := tcpPair(t)
	defer c1.Close()
	defer c2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srvErr := make(chan error, 1)
	go func() {
		s := tls.Server(c2, server.ServerTLS())
		err := s.HandshakeContext(ctx)
		if err == nil {
			_, err = io.ReadFull(s, make([]byte, 5))
		}
		srvErr <- err
		c2.Close()
	}()
	c := tls.Client(c1, client.ClientTLS())
	err := c.HandshakeContext(ctx)
	if err == nil {
		_, err = c.Write([]byte("hello"))
	}
	if err != nil {
		c1.Close()
	}
	return err, <-srvErr
}

// tcpPair returns the two ends of a loopback tcp connection.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return c1, c2
}

func TestTLSNeedsAKeyOfTheRing(t *testing.T) {
	old, cur, other := Generate(), Generate(), Generate()
	a, _ := NewRing(cur)
	b, _ := NewRing(cur)
	if ce, se := handshake(t, a, b); ce != nil || se != nil {
		t.Fatalf("same key: client %v, server %v", ce, se)
	}
	o, _ := NewRing(other)
	if _, se := handshake(t, o, b); se == nil {
		t.Error("server accepted a client of another mesh")
	}
	if ce, _ := handshake(t, b, o); ce == nil {
		t.Error("client accepted a server of another mesh")
	}
	// rotation: b still sends with old, a has installed cur on top of old
	b.Set(old, cur)
	a.Set(cur, old)
	if ce, se := handshake(t, a, b); ce != nil || se != nil {
		t.Fatalf("during rotation: client %v, server %v", ce, se)
	}
	a.Set(cur)
	if _, se := handshake(t, b, a); se == nil {
		t.Error("a removed key still accepted")
	}
}

func TestDeriveDiffersByPurpose(t *testing.T) {
	k := Generate()
	if string(k.Derive("gossip", 32)) == string(k.Derive("beacon", 32)) || string(k.Derive("gossip", 32)) == string(k[:]) {
		t.Error("derived keys collide")
	}
	r, _ := NewRing(k, Generate())
	called := 0
	r.OnChange(func() { called++ })
	r.Set(r.Keys()[1], k)
	if d := r.Derive("gossip", 32); len(d) != 2 || string(d[1]) != string(k.Derive("gossip", 32)) || called != 1 {
		t.Errorf("Derive after Set: %d keys, called %d", len(d), called)
	}
}

func TestWatchFollowsTheFile(t *testing.T) {
	a, b := Generate(), Generate()
	path := t.TempDir() + "/mesh.key"
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(a.String() + "\n")
	r, _ := NewRing(a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Watch(ctx, path, r, 5*time.Millisecond, slog.New(slog.DiscardHandler))
	}()
	defer func() { cancel(); <-done }()
	waitKeys := func(want ...Key) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !slices.Equal(r.Keys(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("ring %v, want %v", r.IDs(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	write(a.String() + "\n" + b.String() + "\n")
	waitKeys(a, b)
	write(b.String() + "\n" + a.String() + "\n")
	waitKeys(b, a)
	write("garbage\n") // ignored
	write(b.String() + "\n")
	waitKeys(b)
}
