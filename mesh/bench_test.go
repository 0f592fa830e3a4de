package mesh

import (
	"context"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
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
