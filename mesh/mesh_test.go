package mesh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// newTestNode starts a node with the given transports and closes it at the end.
func newTestNode(t testing.TB, name string, mode string, h Handler) *Node {
	t.Helper()
	cfg := Config{Name: name, Logger: testLogger(t), DrainTimeout: time.Second}
	switch mode {
	case "tcp":
		cfg.TCP = "127.0.0.1:0"
	case "ipc":
		cfg.IPCDir = t.TempDir()
	case "inproc":
		cfg.Inproc = true
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

func target(n *Node) Target { return Target{Name: n.Name(), Endpoints: n.Endpoints()} }

func echo(ctx context.Context, r Request) (Reply, error) {
	switch r.Service {
	case "echo":
		return Reply{Codec: r.Codec, Payload: r.Payload}, nil
	case "fail":
		return Reply{}, errors.New("it failed")
	case "panic":
		panic("boom")
	case "sleep":
		<-ctx.Done()
		return Reply{}, ctx.Err()
	}
	return Reply{}, fmt.Errorf("%w: %s", ErrNoService, r.Service)
}

func TestCallTransports(t *testing.T) {
	for _, mode := range []string{"tcp", "ipc", "inproc"} {
		t.Run(mode, func(t *testing.T) {
			srv := newTestNode(t, "srv", mode, echo)
			cli := newTestNode(t, "cli", mode, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			rep, err := cli.Call(ctx, target(srv), Request{Service: "echo", Codec: "raw", Payload: []byte("hi")})
			if err != nil {
				t.Fatal(err)
			}
			if string(rep.Payload) != "hi" || rep.Codec != "raw" {
				t.Fatalf("got %q %q", rep.Codec, rep.Payload)
			}
		})
	}
}

func TestPrefersCheapestEndpoint(t *testing.T) {
	ours := Endpoints{Host: "h", Proc: "p"}
	all := Endpoints{Host: "h", Proc: "p", TCP: "tcp://x", IPC: "ipc://y", Inproc: "inproc://z"}
	if got := all.choose(ours); got[0] != "inproc://z" || len(got) != 3 {
		t.Fatal(got)
	}
	other := Endpoints{Host: "h", Proc: "q", TCP: "tcp://x", IPC: "ipc://y", Inproc: "inproc://z"}
	if got := other.choose(ours); got[0] != "ipc://y" || len(got) != 2 {
		t.Fatal(got)
	}
	remote := Endpoints{Host: "g", Proc: "q", TCP: "tcp://x", IPC: "ipc://y"}
	if got := remote.choose(ours); len(got) != 1 || got[0] != "tcp://x" {
		t.Fatal(got)
	}
}

func TestRemoteErrors(t *testing.T) {
	srv := newTestNode(t, "srv", "tcp", echo)
	cli := newTestNode(t, "cli", "tcp", nil)
	ctx := context.Background()
	_, err := cli.Call(ctx, target(srv), Request{Service: "fail"})
	var re *RemoteError
	if !errors.As(err, &re) || re.Code != CodeHandler || re.Peer != "srv" || re.Message != "it failed" {
		t.Fatalf("handler error: %v", err)
	}
	if errors.Is(err, ErrNotDelivered) {
		t.Fatal("an executed call must not look undelivered")
	}
	_, err = cli.Call(ctx, target(srv), Request{Service: "panic"})
	if !errors.As(err, &re) || re.Code != CodePanic || !strings.Contains(re.Message, "boom") {
		t.Fatalf("panic: %v", err)
	}
	_, err = cli.Call(ctx, target(srv), Request{Service: "nope"})
	if !errors.Is(err, ErrNoService) || !errors.Is(err, ErrNotDelivered) {
		t.Fatalf("no service: %v", err)
	}
	// the provider keeps serving
	if _, err := cli.Call(ctx, target(srv), Request{Service: "echo"}); err != nil {
		t.Fatal(err)
	}
}

func TestDeadlineAndCancel(t *testing.T) {
	srv := newTestNode(t, "srv", "tcp", echo)
	cli := newTestNode(t, "cli", "tcp", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := cli.Call(ctx, target(srv), Request{Service: "sleep"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline, got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("call returned after %v", d)
	}
	// the handler saw the deadline too: the provider drains to zero
	waitFor(t, 5*time.Second, func() bool { return srv.inflight.Load() == 0 })
}

func TestConcurrentCallsAndLargePayloads(t *testing.T) {
	srv := newTestNode(t, "srv", "tcp", echo)
	cli := newTestNode(t, "cli", "tcp", nil)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			size := 10 + i*i*300 // up to ~300 KiB, spanning batch boundaries
			p := bytes.Repeat([]byte{byte(i)}, size)
			for range 20 {
				rep, err := cli.Call(context.Background(), target(srv), Request{Service: "echo", Payload: p})
				if err != nil || !bytes.Equal(rep.Payload, p) {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d calls failed", failed.Load())
	}
}

func TestTooLarge(t *testing.T) {
	srv := newTestNode(t, "srv", "tcp", echo)
	cli, err := Listen(Config{Name: "cli", TCP: "127.0.0.1:0", MaxMessageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	_, err = cli.Call(context.Background(), target(srv), Request{Service: "echo", Payload: make([]byte, 1001)})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
}

func TestLinkLossNotDeliveredVsUnknown(t *testing.T) {
	started := make(chan struct{}, 1)
	srv := newTestNode(t, "srv", "tcp", func(ctx context.Context, r Request) (Reply, error) {
		started <- struct{}{}
		<-ctx.Done()
		return Reply{}, ctx.Err()
	})
	cli := newTestNode(t, "cli", "tcp", nil)
	errc := make(chan error, 1)
	go func() {
		_, err := cli.Call(context.Background(), target(srv), Request{Service: "x"})
		errc <- err
	}()
	<-started
	cli.Forget("srv") // as when discovery declares the provider dead
	if err := <-errc; !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("acknowledged call: want ErrUnknownOutcome, got %v", err)
	}
	// a dead endpoint: nothing was delivered
	dead := target(srv)
	srv.Close()
	_, err := cli.Call(context.Background(), dead, Request{Service: "x"})
	if !errors.Is(err, ErrNotDelivered) {
		t.Fatalf("closed provider: want ErrNotDelivered, got %v", err)
	}
}

func TestProviderCloseRefusesNewAndFinishesRunning(t *testing.T) {
	release := make(chan struct{})
	srv := newTestNode(t, "srv", "tcp", func(ctx context.Context, r Request) (Reply, error) {
		<-release
		return Reply{Payload: []byte("done")}, nil
	})
	cli := newTestNode(t, "cli", "tcp", nil)
	errc := make(chan error, 1)
	go func() {
		rep, err := cli.Call(context.Background(), target(srv), Request{Service: "x"})
		if err == nil && string(rep.Payload) != "done" {
			err = fmt.Errorf("got %q", rep.Payload)
		}
		errc <- err
	}()
	waitFor(t, 5*time.Second, func() bool { return srv.inflight.Load() == 1 })
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	waitFor(t, 5*time.Second, srv.isClosed)
	close(release)
	if err := <-errc; err != nil {
		t.Fatalf("running call must complete during close: %v", err)
	}
	<-closed
}

func TestWrongNameAtEndpoint(t *testing.T) {
	srv := newTestNode(t, "srv", "tcp", echo)
	cli := newTestNode(t, "cli", "tcp", nil)
	_, err := cli.Call(context.Background(), Target{Name: "other", Endpoints: srv.Endpoints()}, Request{Service: "echo"})
	if !errors.Is(err, ErrNotDelivered) || !errors.Is(err, ErrNoEndpoint) {
		t.Fatalf("got %v", err)
	}
}

func TestCloseIdempotent(t *testing.T) {
	n := newTestNode(t, "a", "tcp", echo)
	n.Close()
	n.Close()
	if _, err := n.Call(context.Background(), target(n), Request{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v", err)
	}
}

func waitFor(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var _ = net.Dial
