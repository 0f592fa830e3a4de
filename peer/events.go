package peer

import (
	"context"
	"sync"

	"github.com/pyros-mesh/pyros/discovery"
)

// EventType says what happened to a member.
type EventType int

// Event types.
const (
	MemberJoined  EventType = iota + 1 // a peer joined the mesh
	MemberLeft                         // a peer left gracefully
	MemberFailed                       // a peer stopped answering and was declared dead
	MemberUpdated                      // a peer's catalog or metadata changed
)

func (t EventType) String() string {
	switch t {
	case MemberJoined:
		return "joined"
	case MemberLeft:
		return "left"
	case MemberFailed:
		return "failed"
	case MemberUpdated:
		return "updated"
	}
	return "unknown"
}

// Event is a change of the mesh's membership or catalog.
type Event struct {
	Type   EventType
	Member Member
}

// Watch returns a channel of membership and catalog events, closed when ctx
// ends or the peer closes. A watcher that falls 256 events behind misses
// events rather than slowing the peer.
func (p *Peer) Watch(ctx context.Context) <-chan Event {
	return p.ev.add(ctx)
}

// eventLoop applies discovery events: it keeps the catalog index current,
// closes links to departed peers and tells watchers.
func (p *Peer) eventLoop() {
	defer p.wg.Done()
	for e := range p.disc.Events() {
		var t EventType
		switch e.Type {
		case discovery.EventJoin:
			t = MemberJoined
			p.sel.forget(e.Member.Name)
		case discovery.EventLeave:
			t = MemberLeft
			p.node.Forget(e.Member.Name)
		case discovery.EventFail:
			t = MemberFailed
			p.node.Forget(e.Member.Name)
		case discovery.EventUpdate:
			t = MemberUpdated
			p.sel.forget(e.Member.Name)
		default:
			continue
		}
		p.cat.rebuild()
		p.routeStreams()
		p.meter.event(t)
		p.ev.send(Event{Type: t, Member: decodeMember(e.Member)})
	}
}

// fanout delivers events to watchers without blocking.
type fanout struct {
	mu     sync.Mutex
	subs   map[chan Event]func() bool
	closed bool
}

func newFanout() *fanout { return &fanout{subs: make(map[chan Event]func() bool)} }

func (f *fanout) add(ctx context.Context) <-chan Event {
	ch := make(chan Event, 256)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		close(ch)
		return ch
	}
	f.subs[ch] = context.AfterFunc(ctx, func() { f.remove(ch) })
	return ch
}

func (f *fanout) remove(ch chan Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.subs[ch]; ok {
		delete(f.subs, ch)
		close(ch)
	}
}

func (f *fanout) send(e Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

func (f *fanout) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for ch, stop := range f.subs {
		stop()
		close(ch)
		delete(f.subs, ch)
	}
}
