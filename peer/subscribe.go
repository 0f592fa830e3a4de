package peer

import (
	"context"
	"runtime"

	"github.com/pyros-mesh/pyros/mesh"
	"sync"
	"sync/atomic"
)

// subQueueLimit is how many messages a subscription holds for its handler
// before it drops new ones.
const subQueueLimit = 1 << 16

// Subscription receives a stream's messages from every publisher and calls
// its handler, in order per publisher, from one goroutine of its own.
type Subscription struct {
	p       *Peer
	name    string
	handler func(Message)

	mu     sync.Mutex
	q      []Message
	spare  []Message
	arenas [][]byte // payload copies of the messages in q; the last one is filled
	free   [][]byte // arenas the handler is done with
	wake   chan struct{}

	received atomic.Uint64
	bytes    atomic.Uint64 // payload bytes received
	dropped  atomic.Uint64
	lost     atomic.Uint64

	stop context.CancelFunc
	done chan struct{}
}

// SubscriptionStats counts what a subscription saw.
type SubscriptionStats struct {
	Received uint64 // messages handed to the handler
	Bytes    uint64 // their payload bytes
	Dropped  uint64 // messages dropped because the handler fell behind
	Lost     uint64 // messages missing from publishers' sequences (dropped upstream)
}

// Subscribe calls handler for every message of the stream name, from every
// publisher, wherever and whenever they appear, until ctx ends or the
// subscription is closed. A slow handler loses messages (counted in Stats)
// rather than slowing publishers or other subscribers. A Message's payload
// is valid only while the handler runs.
func (p *Peer) Subscribe(ctx context.Context, name string, handler func(Message)) (*Subscription, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if p.isClosed() {
		return nil, ErrClosed
	}
	s := &Subscription{p: p, name: name, handler: handler, wake: make(chan struct{}, 1), done: make(chan struct{})}
	var sctx context.Context
	sctx, s.stop = context.WithCancel(ctx)
	p.streams.addSub(s)
	p.publishCatalog()
	p.wg.Add(1)
	go s.run(sctx)
	return s, nil
}

// Stats returns the subscription's counters.
func (s *Subscription) Stats() SubscriptionStats {
	return SubscriptionStats{Received: s.received.Load(), Bytes: s.bytes.Load(), Dropped: s.dropped.Load(), Lost: s.lost.Load()}
}

// Close ends the subscription and waits for its handler to return.
func (s *Subscription) Close() error {
	s.stop()
	<-s.done
	return nil
}

// arenaSize is the size of the buffers subscriptions copy payloads into.
const arenaSize = 256 << 10

// push queues messages for the handler without blocking. Payloads are
// copied (the link reuses its frame buffer), into arenas that are recycled
// once the handler has seen their messages.
func (s *Subscription) push(src *source, msgs []mesh.DataMsg) {
	s.mu.Lock()
	room := subQueueLimit - len(s.q)
	if room < len(msgs) {
		s.dropped.Add(uint64(len(msgs) - max(room, 0)))
		msgs = msgs[:max(room, 0)]
	}
	for _, m := range msgs {
		s.q = append(s.q, Message{Seq: m.Seq, payload: s.copyLocked(m.Payload), src: src})
	}
	busy := len(s.q) > subQueueLimit/4
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	if busy {
		// The handler falls behind: give it the processor before the
		// link reader (the caller) piles up more, which matters most
		// when both share one processor.
		runtime.Gosched()
	}
}

// copyLocked copies b into the current arena. Callers hold mu.
func (s *Subscription) copyLocked(b []byte) []byte {
	n := len(s.arenas)
	if n == 0 || cap(s.arenas[n-1])-len(s.arenas[n-1]) < len(b) {
		s.arenas = append(s.arenas, s.arenaLocked(len(b)))
		n++
	}
	a := s.arenas[n-1]
	off := len(a)
	a = append(a, b...)
	s.arenas[n-1] = a
	return a[off:len(a):len(a)]
}

// arenaLocked returns an empty arena for at least size bytes.
func (s *Subscription) arenaLocked(size int) []byte {
	if k := len(s.free); k > 0 && cap(s.free[k-1]) >= size {
		a := s.free[k-1]
		s.free = s.free[:k-1]
		return a
	}
	return make([]byte, 0, max(size, arenaSize))
}

// recycle keeps arenas the handler is done with, up to eight of them.
func (s *Subscription) recycle(arenas [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range arenas {
		if len(s.free) < 8 && cap(a) == arenaSize {
			s.free = append(s.free, a[:0])
		}
	}
}

func (s *Subscription) run(ctx context.Context) {
	defer s.p.wg.Done()
	defer close(s.done)
	defer func() {
		s.p.streams.removeSub(s)
		if !s.p.isClosed() {
			s.p.publishCatalog()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.p.done:
			return
		case <-s.wake:
		}
		s.mu.Lock()
		batch, arenas := s.q, s.arenas
		s.q, s.arenas = s.spare[:0], nil
		s.mu.Unlock()
		n := 0
		for _, m := range batch {
			if ctx.Err() != nil {
				return
			}
			n += len(m.payload)
			s.handler(m)
		}
		s.received.Add(uint64(len(batch)))
		s.bytes.Add(uint64(n))
		clear(batch)
		s.spare = batch
		s.recycle(arenas)
	}
}
