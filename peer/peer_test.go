package peer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pyros-mesh/pyros/discovery"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// startPeers starts n peers on loopback, each joining the first.
func startPeers(t testing.TB, n int) []*Peer {
	t.Helper()
	var peers []*Peer
	for i := range n {
		cfg := Config{
			Name:   fmt.Sprintf("p%d", i),
			Gossip: discovery.LocalConfig(),
			IPCDir: t.TempDir(),
			Logger: slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		}
		if i > 0 {
			cfg.Join = []string{peers[0].Addr()}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		p, err := New(ctx, cfg)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		peers = append(peers, p)
	}
	return peers
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

func hasProviders(p *Peer, service string, n int) func() bool {
	return func() bool { return len(p.cat.providersOf(service)) == n }
}

type addIn struct {
	A int `msgpack:"a"`
	B int `msgpack:"b"`
}

func TestCallAcrossPeers(t *testing.T) {
	ps := startPeers(t, 3)
	if err := ps[1].Provide("calc/add", Func(func(_ context.Context, in addIn) (int, error) { return in.A + in.B, nil })); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "catalog", hasProviders(ps[2], "calc/add", 1))
	var sum int
	if err := ps[2].Call(context.Background(), "calc/add", map[string]int{"a": 2, "b": 3}, &sum); err != nil || sum != 5 {
		t.Fatalf("sum=%d err=%v", sum, err)
	}
	// the provider calls itself through the same API
	if err := ps[1].Call(context.Background(), "calc/add", addIn{A: 1, B: 1}, &sum); err != nil || sum != 2 {
		t.Fatalf("self call: sum=%d err=%v", sum, err)
	}
	if err := ps[1].Provide("calc/add", Func(func(_ context.Context, in addIn) (int, error) { return 0, nil })); !errors.Is(err, ErrAlreadyProvided) {
		t.Fatalf("duplicate provide: %v", err)
	}
	if err := ps[1].Provide("bad name", nil); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("bad name: %v", err)
	}
}

func TestErrors(t *testing.T) {
	ps := startPeers(t, 2)
	ps[0].Provide("x/fail", Func(func(_ context.Context, msg string) (any, error) { return nil, errors.New(msg) }))
	ps[0].Provide("x/panic", Func(func(_ context.Context, _ any) (any, error) { panic("kaboom") }))
	ps[0].Provide("x/int", Func(func(_ context.Context, n int) (int, error) { return n, nil }))
	waitFor(t, 5*time.Second, "catalog", hasProviders(ps[1], "x/int", 1))
	ctx := context.Background()

	start := time.Now()
	err := ps[1].Call(ctx, "x/none", nil, nil)
	if !errors.Is(err, ErrUnknownService) || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("unknown service: %v after %v", err, time.Since(start))
	}
	var re *RemoteError
	err = ps[1].Call(ctx, "x/fail", "no luck", nil)
	if !errors.As(err, &re) || re.Peer != "p0" || re.Message != "no luck" {
		t.Fatalf("remote error: %v", err)
	}
	err = ps[1].Call(ctx, "x/panic", nil, nil)
	if !errors.As(err, &re) || !strings.Contains(re.Message, "kaboom") {
		t.Fatalf("panic: %v", err)
	}
	err = ps[1].Call(ctx, "x/int", "not a number", nil)
	if !errors.As(err, &re) || re.Code.String() != "bad request" {
		t.Fatalf("bad request: %v", err)
	}
	var n int
	if err := ps[1].Call(ctx, "x/int", 7, &n); err != nil || n != 7 {
		t.Fatalf("provider must keep serving: %d %v", n, err)
	}
}

func TestLoadSpreadsAndFailsOverOnLeave(t *testing.T) {
	ps := startPeers(t, 4)
	for _, p := range ps[:3] {
		name := p.Name()
		p.Provide("who", Func(func(_ context.Context, _ any) (string, error) { return name, nil }))
	}
	waitFor(t, 5*time.Second, "catalog", hasProviders(ps[3], "who", 3))
	counts := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				var who string
				if err := ps[3].Call(context.Background(), "who", nil, &who); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				counts[who]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(counts) != 3 {
		t.Fatalf("calls should reach all 3 providers: %v", counts)
	}
	ps[1].Close()
	for range 50 {
		var who string
		if err := ps[3].Call(context.Background(), "who", nil, &who); err != nil || who == "p1" {
			t.Fatalf("after p1 left: %q %v", who, err)
		}
	}
	waitFor(t, 5*time.Second, "p1 gone from the catalog", hasProviders(ps[3], "who", 2))
}

func TestDeadlineReachesProvider(t *testing.T) {
	ps := startPeers(t, 2)
	done := make(chan error, 1)
	ps[0].Provide("slow", Func(func(ctx context.Context, _ any) (any, error) {
		<-ctx.Done()
		done <- ctx.Err()
		return nil, ctx.Err()
	}))
	waitFor(t, 5*time.Second, "catalog", hasProviders(ps[1], "slow", 1))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ps[1].Call(ctx, "slow", nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			t.Fatalf("provider saw %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the provider's handler never saw the deadline")
	}
}

func TestWatchAndClose(t *testing.T) {
	ps := startPeers(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ev := ps[0].Watch(ctx)
	ps[1].Provide("svc", Func(func(_ context.Context, _ any) (any, error) { return nil, nil }))
	ps[1].Close()
	ps[1].Close() // idempotent
	seen := map[EventType]bool{}
	timeout := time.After(10 * time.Second)
	for !seen[MemberLeft] {
		select {
		case e := <-ev:
			if e.Member.Name == "p1" {
				seen[e.Type] = true
			}
		case <-timeout:
			t.Fatalf("events seen: %v", seen)
		}
	}
	if err := ps[1].Call(context.Background(), "svc", nil, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("call on closed peer: %v", err)
	}
}
