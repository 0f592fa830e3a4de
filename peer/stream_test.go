package peer

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// collector records the values a subscription receives.
type collector struct {
	mu   sync.Mutex
	vals []int
	from map[string]int
}

func (c *collector) handle(m Message) {
	var v int
	if err := m.Decode(&v); err != nil {
		panic(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vals = append(c.vals, v)
	if c.from == nil {
		c.from = map[string]int{}
	}
	c.from[m.From()]++
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.vals)
}

func TestStreamAcrossPeersAnyOrder(t *testing.T) {
	ps := startPeers(t, 3)
	// publisher first, subscriber later (late joiner)
	pub, err := ps[0].Publish("t/nums")
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	sub, err := ps[1].Subscribe(context.Background(), "t/nums", c.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	waitFor(t, 5*time.Second, "publisher routed to the subscriber", func() bool { return pub.Stats().Subscribers == 1 })
	for i := 1; i <= 1000; i++ {
		pub.Send(i)
	}
	waitFor(t, 5*time.Second, "all messages", func() bool { return c.count() == 1000 })
	for i, v := range c.vals {
		if v != i+1 {
			t.Fatalf("out of order at %d: %d", i, v)
		}
	}
	// a second publisher on another peer is picked up with no action
	pub2, _ := ps[2].Publish("t/nums")
	waitFor(t, 5*time.Second, "second publisher routed", func() bool { return pub2.Stats().Subscribers == 1 })
	pub2.Send(-1)
	waitFor(t, 5*time.Second, "message from the second publisher", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.from["p2"] == 1
	})
	waitFor(t, 5*time.Second, "catalog lists both publishers and the subscriber", func() bool {
		streams := ps[1].Streams()
		return len(streams) == 1 && len(streams[0].Publishers) == 2 && len(streams[0].Subscribers) == 1 && streams[0].Subscriptions == 1
	})
}

func TestLatchedAndLocal(t *testing.T) {
	ps := startPeers(t, 2)
	pub, _ := ps[0].Publish("t/config", Latched())
	pub.Send(42)
	var got atomic.Int64
	sub, _ := ps[1].Subscribe(context.Background(), "t/config", func(m Message) {
		var v int
		m.Decode(&v)
		got.Store(int64(v))
	})
	defer sub.Close()
	waitFor(t, 5*time.Second, "latched value reaches a late subscriber", func() bool { return got.Load() == 42 })
	// a subscriber on the publishing peer itself
	var local atomic.Int64
	lsub, _ := ps[0].Subscribe(context.Background(), "t/config", func(m Message) {
		var v int
		m.Decode(&v)
		local.Store(int64(v))
	})
	defer lsub.Close()
	pub.Send(7)
	waitFor(t, 5*time.Second, "local delivery", func() bool { return local.Load() == 7 && got.Load() == 7 })
}

func TestSlowSubscriberDoesNotStallOthers(t *testing.T) {
	ps := startPeers(t, 3)
	pub, _ := ps[0].Publish("t/fast")
	block := make(chan struct{})
	slow, _ := ps[1].Subscribe(context.Background(), "t/fast", func(Message) { <-block })
	var fast collector
	fsub, _ := ps[2].Subscribe(context.Background(), "t/fast", fast.handle)
	defer fsub.Close()
	waitFor(t, 5*time.Second, "routed", func() bool { return pub.Stats().Subscribers == 2 })
	const n = 100000 // more than the slow subscriber's queue holds
	for i := 1; i <= n; i++ {
		pub.Send(i)
		if i%1000 == 0 {
			time.Sleep(time.Millisecond) // a steady rate the fast subscriber can follow
		}
	}
	waitFor(t, 20*time.Second, "the fast subscriber gets everything", func() bool { return fast.count() == n })
	for i, v := range fast.vals { // payloads copied across many arenas stay intact
		if v != i+1 {
			t.Fatalf("value %d is %d", i, v)
		}
	}
	close(block)
	waitFor(t, 10*time.Second, "the slow one dropped", func() bool {
		st := slow.Stats()
		return st.Dropped+st.Lost > 0
	})
	slow.Close()
}

func TestStreamAfterClose(t *testing.T) {
	ps := startPeers(t, 1)
	pub, err := ps[0].Publish("t/late")
	if err != nil {
		t.Fatal(err)
	}
	ps[0].Close()
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ps[0].Publish("t/x"); err != ErrClosed {
		t.Fatalf("publish after close: %v", err)
	}
	if _, err := ps[0].Subscribe(context.Background(), "t/x", func(Message) {}); err != ErrClosed {
		t.Fatalf("subscribe after close: %v", err)
	}
}
