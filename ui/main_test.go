package ui

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pyros-mesh/pyros/discovery"
	"github.com/pyros-mesh/pyros/peer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// startPeers starts n peers on loopback, each joining the first; a
// configure function may change each one's Config.
func startPeers(t testing.TB, n int, configure func(i int, c *peer.Config)) []*peer.Peer {
	t.Helper()
	var peers []*peer.Peer
	for i := range n {
		cfg := peer.Config{Name: fmt.Sprintf("p%d", i), Bind: "127.0.0.1:0", Gossip: discovery.LocalConfig(),
			IPCDir: t.TempDir(), Logger: testLogger(t)}
		if i > 0 {
			cfg.Join = []string{peers[0].Addr()}
		}
		if configure != nil {
			configure(i, &cfg)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		p, err := peer.New(ctx, cfg)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		peers = append(peers, p)
	}
	return peers
}

// serve starts a Server for p behind an httptest server, with quick timers.
func serve(t testing.TB, p *peer.Peer, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	if cfg.Interval == 0 {
		cfg.Interval = 100 * time.Millisecond
	}
	cfg.Logger = testLogger(t)
	s, err := New(p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		s.Close()
	})
	return s, hs
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// events reads the server-sent events at url; the channel closes when the
// stream ends or the test does.
func events(t testing.TB, url string) <-chan []byte {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		resp.Body.Close()
		t.Fatalf("GET %s: %s, %s", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	ch := make(chan []byte, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				select {
				case ch <- []byte(data):
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ch
}

// next decodes events into v until ok(v) or the deadline.
func next[T any](t testing.TB, ch <-chan []byte, d time.Duration, what string, ok func(T) bool) T {
	t.Helper()
	deadline := time.After(d)
	var last T
	for {
		select {
		case b, open := <-ch:
			if !open {
				t.Fatalf("%s: the event stream ended; last: %+v", what, last)
			}
			var v T
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("%s: bad event %s: %v", what, b, err)
			}
			if ok(v) {
				return v
			}
			last = v
		case <-deadline:
			t.Fatalf("%s: not within %v; last: %+v", what, d, last)
		}
	}
}
