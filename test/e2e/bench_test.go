package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// BenchmarkServiceRoundTrip measures a call through the public API to a
// provider in another process (pyros-peer run --demo, service demo/echo,
// 64-byte payload), over tcp and over ipc. Compare with
// BenchmarkRawZMQ4RoundTrip from the same run.
func BenchmarkServiceRoundTrip(b *testing.B) {
	for _, transport := range []string{"tcp", "ipc"} {
		b.Run(transport, func(b *testing.B) {
			m := newMesh(b)
			args := []string{"--demo"}
			if transport == "tcp" {
				args = append(args, "--no-ipc")
			}
			m.startPeer("provider", args...)
			c := m.peer("caller")
			waitFor(b, 20*time.Second, "provider in the catalog", func() bool { return len(providers(c, "demo/echo")) == 1 })
			payload := make([]byte, 64)
			var out []byte
			ctx := context.Background()
			if err := c.Call(ctx, "demo/echo", payload, &out); err != nil || len(out) != 64 {
				b.Fatalf("warm-up call: %v", err)
			}
			b.ResetTimer()
			for range b.N {
				if err := c.Call(ctx, "demo/echo", payload, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRawZMQ4RoundTrip is the baseline: a zmq4 DEALER in this process
// and a zmq4 ROUTER echo in another, one 64-byte message per round trip.
func BenchmarkRawZMQ4RoundTrip(b *testing.B) {
	for _, transport := range []string{"tcp", "ipc"} {
		b.Run(transport, func(b *testing.B) {
			m := newMesh(b)
			ep := "tcp://127.0.0.1:0"
			if transport == "ipc" {
				ep = "ipc://" + filepath.Join(m.registry, "echo.sock")
			}
			echo := m.startRole("zmq4-echo", "zmq4-echo", "PYROS_E2E_ENDPOINT="+ep)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			d := zmq4.NewDealer(ctx, zmq4.WithID(zmq4.SocketIdentity("bench")), zmq4.WithDialerRetry(10*time.Millisecond))
			defer d.Close()
			if err := d.Dial(strings.TrimSpace(echo.ready)); err != nil {
				b.Fatal(err)
			}
			msg := zmq4.NewMsg(make([]byte, 64))
			b.ResetTimer()
			for range b.N {
				if err := d.Send(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := d.Recv(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			os.Remove(strings.TrimPrefix(ep, "ipc://"))
		})
	}
}
