package mesh

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countSink checks order and counts what it receives.
type countSink struct {
	mu     sync.Mutex
	n      int
	last   uint64
	order  bool
	closed atomic.Bool
}

func (s *countSink) Deliver(msgs []DataMsg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		if m.Seq <= s.last {
			s.order = false
		}
		if len(m.Payload) == 8 && binary.LittleEndian.Uint64(m.Payload) != m.Seq {
			s.order = false
		}
		s.last = m.Seq
		s.n++
	}
}

func (s *countSink) Closed() { s.closed.Store(true) }

func (s *countSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func TestStreamDeliversInOrder(t *testing.T) {
	for _, mode := range []string{"tcp", "ipc", "inproc"} {
		t.Run(mode, func(t *testing.T) {
			sink := &countSink{order: true}
			var opened StreamOpen
			sub := newTestNode(t, "sub", mode, nil)
			sub.HandleStreams(func(o StreamOpen) StreamSink { opened = o; return sink })
			pub := newTestNode(t, "pub", mode, nil)
			out, err := pub.OpenStream(context.Background(), target(sub), StreamOpen{Stream: "s/x", Codec: "raw", Publisher: 42})
			if err != nil {
				t.Fatal(err)
			}
			sent := 0
			for i := uint64(1); i <= 100000; i++ {
				b := binary.LittleEndian.AppendUint64(nil, i)
				for !out.Send(i, b) { // this test wants every message: retry drops
					time.Sleep(time.Millisecond)
				}
				sent++
			}
			waitFor(t, 10*time.Second, func() bool { return sink.count() == sent })
			if !sink.order || opened.Stream != "s/x" || opened.Publisher != 42 || opened.From != "pub" || opened.Codec != "raw" {
				t.Fatalf("order %v, open %+v", sink.order, opened)
			}
			out.Close()
			waitFor(t, 5*time.Second, sink.closed.Load)
		})
	}
}

func TestStreamDropsInsteadOfWaiting(t *testing.T) {
	sub := newTestNode(t, "sub", "tcp", nil)
	block := make(chan struct{})
	sink := &blockingSink{block: block}
	sub.HandleStreams(func(StreamOpen) StreamSink { return sink })
	pub, err := Listen(Config{Name: "pub", TCP: "127.0.0.1:0", MaxQueuedData: 64 << 10, DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	out, err := pub.OpenStream(context.Background(), target(sub), StreamOpen{Stream: "s"})
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 1024)
	dropped := 0
	start := time.Now()
	for i := range 20000 {
		if !out.Send(uint64(i), payload) {
			dropped++
		}
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("sending took %v: a publisher must not wait", time.Since(start))
	}
	close(block)
	if dropped == 0 {
		t.Fatal("a stalled receiver must cause drops")
	}
	t.Logf("%d of 20000 dropped", dropped)
}

// blockingSink stalls the link reader until block is closed, as a receiver
// that cannot keep up would.
type blockingSink struct {
	block chan struct{}
}

func (s *blockingSink) Deliver([]DataMsg) { <-s.block }
func (s *blockingSink) Closed()           {}

func TestStreamSinkClosedWhenLinkDies(t *testing.T) {
	sink := &countSink{order: true}
	sub := newTestNode(t, "sub", "tcp", nil)
	sub.HandleStreams(func(StreamOpen) StreamSink { return sink })
	pub, err := Listen(Config{Name: "pub", TCP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := pub.OpenStream(context.Background(), target(sub), StreamOpen{Stream: "s"})
	if err != nil {
		t.Fatal(err)
	}
	out.Send(1, []byte("x"))
	waitFor(t, 5*time.Second, func() bool { return sink.count() == 1 })
	pub.Close()
	waitFor(t, 5*time.Second, sink.closed.Load)
	if out.Alive() || out.Send(2, nil) {
		t.Fatal("a stream on a closed node must report dead")
	}
}

func BenchmarkStream64(b *testing.B) {
	for _, mode := range []string{"tcp", "ipc"} {
		b.Run(mode, func(b *testing.B) {
			sink := &countSink{order: true}
			sub := newTestNode(b, "sub", mode, nil)
			sub.HandleStreams(func(StreamOpen) StreamSink { return sink })
			pub := newTestNode(b, "pub", mode, nil)
			out, err := pub.OpenStream(context.Background(), target(sub), StreamOpen{Stream: "s"})
			if err != nil {
				b.Fatal(err)
			}
			payload := make([]byte, 64)
			b.SetBytes(64)
			b.ResetTimer()
			sent := 0
			for i := range b.N {
				if out.Send(uint64(i+1), payload) {
					sent++
				}
			}
			waitFor(b, 30*time.Second, func() bool { return sink.count() >= sent })
			b.ReportMetric(float64(b.N-sent)/float64(b.N), "dropped/op")
		})
	}
}
