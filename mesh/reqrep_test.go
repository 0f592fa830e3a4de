package mesh

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"
)

func echoRep(t *testing.T, ep string, cfg RepConfig) *RepServer {
	t.Helper()
	s, err := ListenRep(ep, cfg, func(ctx context.Context, req []byte) []byte {
		if bytes.Equal(req, []byte("slow")) {
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Second):
			}
		}
		return append([]byte("re:"), req...)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestReqRepRoundTrip(t *testing.T) {
	for _, ep := range []string{"tcp://127.0.0.1:0", "ipc://" + filepath.Join(t.TempDir(), "rep.sock"), "inproc://reqrep-test"} {
		s := echoRep(t, ep, RepConfig{})
		c, err := NewReqClient(s.Endpoint(), RepConfig{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for i := range 3 { // the second and third reuse the connection
			rep, err := c.Request(ctx, []byte{'a' + byte(i)})
			if err != nil || string(rep) != "re:"+string(rune('a'+i)) {
				t.Fatalf("%s: request %d: %q, %v", ep, i, rep, err)
			}
		}
		cancel()
		c.Close()
		c.Close()
		s.Close()
		s.Close()
	}
}

func TestReqTimeoutThenNextRequest(t *testing.T) {
	s := echoRep(t, "tcp://127.0.0.1:0", RepConfig{})
	c, _ := NewReqClient(s.Endpoint(), RepConfig{})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := c.Request(ctx, []byte("slow"))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow request: %v, want deadline exceeded", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if rep, err := c.Request(ctx, []byte("x")); err != nil || string(rep) != "re:x" {
		t.Fatalf("next request: %q, %v", rep, err)
	}
}

func TestReqServerRestartOnSamePath(t *testing.T) {
	ep := "ipc://" + filepath.Join(t.TempDir(), "rep.sock")
	s := echoRep(t, ep, RepConfig{})
	c, _ := NewReqClient(ep, RepConfig{})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Request(ctx, []byte("1")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := c.Request(ctx, []byte("2")); !errors.Is(err, ErrNotDelivered) {
		t.Fatalf("request with no server: %v, want ErrNotDelivered", err)
	}
	echoRep(t, ep, RepConfig{})
	if rep, err := c.Request(ctx, []byte("3")); err != nil || string(rep) != "re:3" {
		t.Fatalf("after restart: %q, %v", rep, err)
	}
}

func TestReqRepLimits(t *testing.T) {
	s := echoRep(t, "tcp://127.0.0.1:0", RepConfig{MaxMessageSize: 1024})
	c, _ := NewReqClient(s.Endpoint(), RepConfig{MaxMessageSize: 1 << 20})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Request(ctx, make([]byte, 4096)); err == nil {
		t.Fatal("oversized request answered")
	}
	small, _ := NewReqClient(s.Endpoint(), RepConfig{MaxMessageSize: 10})
	defer small.Close()
	if _, err := small.Request(ctx, make([]byte, 11)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("client limit: %v", err)
	}
	// garbage, a huge frame header and a silent client leave it serving
	for _, b := range [][]byte{[]byte("GET / HTTP/1.0\r\n\r\n"), append(zmtpGreeting(), 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)} {
		conn, err := net.Dial("tcp", s.Endpoint()[len("tcp://"):])
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(b)
		defer conn.Close()
	}
	if rep, err := c.Request(ctx, []byte("ok")); err != nil || string(rep) != "re:ok" {
		t.Fatalf("after garbage: %q, %v", rep, err)
	}
}

func TestSplitEnvelope(t *testing.T) {
	cases := []struct {
		frames [][]byte
		ok     bool
	}{
		{[][]byte{{}, []byte("b")}, true},
		{[][]byte{[]byte("id"), {}, []byte("b")}, true},
		{[][]byte{[]byte("b")}, false},
		{[][]byte{{}, []byte("b"), []byte("c")}, false},
		{[][]byte{{}}, false},
	}
	for i, c := range cases {
		if _, _, ok := splitEnvelope(c.frames); ok != c.ok {
			t.Errorf("case %d: ok = %v", i, ok)
		}
	}
}
