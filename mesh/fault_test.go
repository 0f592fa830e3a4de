package mesh

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/fault"
)

// newFaultyNode starts a tcp node with an Injector of its own, serving
// echo, closed at the end of the test.
func newFaultyNode(t *testing.T, name string) (*Node, *fault.Injector) {
	t.Helper()
	f := fault.New(name, testLogger(t))
	n, err := Listen(Config{Name: name, TCP: "127.0.0.1:0", Faults: f, Logger: testLogger(t), DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	n.Handle(echo)
	t.Cleanup(func() { n.Close() })
	return n, f
}

func callEcho(n, to *Node, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := n.Call(ctx, target(to), Request{Service: "echo", Payload: []byte("x")})
	return err
}

// A partition set on both nodes closes their links and refuses calls
// both ways at once; healing it lets calls through again.
func TestFaultPartitionBlocksAndHeals(t *testing.T) {
	a, fa := newFaultyNode(t, "a")
	b, fb := newFaultyNode(t, "b")
	for _, c := range [][2]*Node{{a, b}, {b, a}} {
		if err := callEcho(c[0], c[1], 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	rules := fault.Rules{Partition: [][]string{{"a"}, {"b"}}}
	for _, f := range []*fault.Injector{fa, fb} {
		if err := f.Set(rules); err != nil {
			t.Fatal(err)
		}
	}
	noLinks := func(n *Node) func() bool {
		return func() bool {
			n.mu.Lock()
			defer n.mu.Unlock()
			return len(n.links) == 0 && len(n.out) == 0
		}
	}
	waitFor(t, 5*time.Second, noLinks(a))
	waitFor(t, 5*time.Second, noLinks(b))
	for _, c := range [][2]*Node{{a, b}, {b, a}} {
		start := time.Now()
		err := callEcho(c[0], c[1], 5*time.Second)
		if !errors.Is(err, ErrNotDelivered) || !errors.Is(err, fault.ErrPartitioned) {
			t.Fatalf("%s to %s across the partition: %v", c[0].Name(), c[1].Name(), err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("refused after %v: a partitioned call must fail at once", d)
		}
	}
	fa.Heal()
	fb.Heal()
	for _, c := range [][2]*Node{{a, b}, {b, a}} {
		if err := callEcho(c[0], c[1], 5*time.Second); err != nil {
			t.Fatalf("after the heal: %v", err)
		}
	}
}

// A node partitioned on its side only refuses the other's links too, and
// a call in flight when the partition starts fails.
func TestFaultPartitionOneSided(t *testing.T) {
	a, fa := newFaultyNode(t, "a")
	b, _ := newFaultyNode(t, "b")
	started := make(chan struct{}, 1)
	a.Handle(func(ctx context.Context, r Request) (Reply, error) {
		started <- struct{}{}
		<-ctx.Done()
		return Reply{}, ctx.Err()
	})
	errc := make(chan error, 1)
	go func() { errc <- callEcho(b, a, 10*time.Second) }()
	<-started
	fa.Set(fault.Rules{Partition: [][]string{{"a"}, {"b"}}})
	if err := <-errc; !errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("call in flight: want ErrUnknownOutcome, got %v", err)
	}
	// b dials, a refuses the link: nothing is delivered
	if err := callEcho(b, a, 2*time.Second); err == nil {
		t.Fatal("a call reached a node partitioned from its caller")
	}
}

// Drop 1 loses every request (on the caller) or every reply (on the
// provider): the call times out.
func TestFaultDropMakesCallsTimeOut(t *testing.T) {
	a, fa := newFaultyNode(t, "a")
	b, fb := newFaultyNode(t, "b")
	for _, f := range []*fault.Injector{fa, fb} {
		f.Set(fault.Rules{Drop: 1})
		if err := callEcho(a, b, 200*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("want a timeout, got %v", err)
		}
		f.Heal()
	}
	if err := callEcho(a, b, 5*time.Second); err != nil {
		t.Fatalf("after the heal: %v", err)
	}
}

// Drop 0.5 on the publisher loses about half of a stream, keeping the
// order of the rest.
func TestFaultDropLosesStreamMessages(t *testing.T) {
	sub, _ := newFaultyNode(t, "sub")
	pub, fpub := newFaultyNode(t, "pub")
	sink := &countSink{order: true}
	sub.HandleStreams(func(StreamOpen) StreamSink { return sink })
	out, err := pub.OpenStream(context.Background(), target(sub), StreamOpen{Stream: "s"})
	if err != nil {
		t.Fatal(err)
	}
	fpub.Set(fault.Rules{Drop: 0.5})
	const sent = 2000
	for i := uint64(1); i <= sent; i++ {
		for !out.Send(i, binary.LittleEndian.AppendUint64(nil, i)) {
			time.Sleep(time.Millisecond) // a full queue is not what this test counts
		}
	}
	out.Close() // never lost: once the sink is closed, all that arrives is in
	waitFor(t, 10*time.Second, sink.closed.Load)
	got := sink.count()
	t.Logf("%d of %d arrived", got, sent)
	if got < sent*3/10 || got > sent*7/10 || !sink.order {
		t.Fatalf("%d of %d arrived (order kept: %v), want about half", got, sent, sink.order)
	}
}

// Delay holds every message back by at least the delay, and keeps the
// order of a stream.
func TestFaultDelay(t *testing.T) {
	const delay = 100 * time.Millisecond
	a, fa := newFaultyNode(t, "a")
	b, _ := newFaultyNode(t, "b")
	if err := callEcho(a, b, 5*time.Second); err != nil { // the link is up
		t.Fatal(err)
	}
	fa.Set(fault.Rules{Delay: delay})
	start := time.Now()
	if err := callEcho(a, b, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	rtt := time.Since(start)
	t.Logf("round trip with a delay of %v: %v", delay, rtt)
	if rtt < delay {
		t.Fatalf("round trip %v shorter than the delay %v", rtt, delay)
	}

	sink := &countSink{order: true}
	b.HandleStreams(func(StreamOpen) StreamSink { return sink })
	out, err := a.OpenStream(context.Background(), target(b), StreamOpen{Stream: "s"})
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	const sent = 20000
	for i := uint64(1); i <= sent; i++ {
		for !out.Send(i, binary.LittleEndian.AppendUint64(nil, i)) {
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(t, 10*time.Second, func() bool { return sink.count() == sent })
	if took := time.Since(start); took < delay || !sink.order {
		t.Fatalf("stream arrived in %v (order kept: %v), want at least %v", took, sink.order, delay)
	}
}
