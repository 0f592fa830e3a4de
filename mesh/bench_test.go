package mesh

import (
	"context"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/pyros-mesh/pyros/meshkey"
)

func BenchmarkRoundTrip(b *testing.B) {
	for _, mode := range []string{"tcp", "ipc"} {
		b.Run(mode, func(b *testing.B) {
			srv := newTestNode(b, "srv", mode, echo)
			cli := newTestNode(b, "cli", mode, nil)
			t := target(srv)
			req := Request{Service: "echo", Codec: "raw", Payload: make([]byte, 64)}
			ctx := context.Background()
			if _, err := cli.Call(ctx, t, req); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := cli.Call(ctx, t, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRoundTripTLS compares a small request's round trip over a tcp
// link in an open mesh and with a mesh key (TLS 1.3), in one run.
func BenchmarkRoundTripTLS(b *testing.B) {
	var plain float64 // µs per call without TLS, from the last plain run
	for _, keyed := range []bool{false, true} {
		name := "plain"
		if keyed {
			name = "tls"
		}
		b.Run(name, func(b *testing.B) {
			var ra, rb *meshkey.Ring
			if keyed {
				k := meshkey.Generate()
				ra, rb = newRing(b, k), newRing(b, k)
			}
			srv := newTCPNode(b, "srv", ra, echo)
			cli := newTCPNode(b, "cli", rb, nil)
			t := target(srv)
			req := Request{Service: "echo", Codec: "raw", Payload: make([]byte, 64)}
			ctx := context.Background()
			if _, err := cli.Call(ctx, t, req); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := cli.Call(ctx, t, req); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			us := float64(b.Elapsed().Nanoseconds()) / 1e3 / float64(b.N)
			b.ReportMetric(us, "µs/op")
			if !keyed {
				plain = us
			} else if plain > 0 {
				b.ReportMetric(us/plain, "x-plain")
			}
		})
	}
}

func BenchmarkRawZMQ4DealerRouter(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := zmq4.NewRouter(ctx, zmq4.WithID(zmq4.SocketIdentity("router")))
	defer r.Close()
	if err := r.Listen("tcp://127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	go func() {
		for {
			m, err := r.Recv()
			if err != nil {
				return
			}
			if r.Send(m) != nil {
				return
			}
		}
	}()
	d := zmq4.NewDealer(ctx, zmq4.WithID(zmq4.SocketIdentity("dealer")), zmq4.WithDialerRetry(10*time.Millisecond))
	defer d.Close()
	if err := d.Dial("tcp://" + r.Addr().String()); err != nil {
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
}
