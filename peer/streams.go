package peer

import (
	"cmp"
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pyros-mesh/pyros/mesh"
)

// streamTable holds this peer's publishers and subscriptions by stream.
type streamTable struct {
	mu   sync.Mutex
	pubs map[string]map[*Publisher]struct{}
	subs map[string][]*Subscription // copy on write: read on every delivery
	subv atomic.Pointer[map[string][]*Subscription]
}

func newStreamTable() *streamTable {
	t := &streamTable{pubs: make(map[string]map[*Publisher]struct{}), subs: make(map[string][]*Subscription)}
	t.subv.Store(&map[string][]*Subscription{})
	return t
}

func (t *streamTable) addPub(pub *Publisher) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pubs[pub.name] == nil {
		t.pubs[pub.name] = make(map[*Publisher]struct{})
	}
	t.pubs[pub.name][pub] = struct{}{}
	return nil
}

func (t *streamTable) removePub(pub *Publisher) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pubs[pub.name], pub)
	if len(t.pubs[pub.name]) == 0 {
		delete(t.pubs, pub.name)
	}
}

func (t *streamTable) addSub(s *Subscription) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.subs[s.name] = append(append([]*Subscription{}, t.subs[s.name]...), s)
	t.publishSubs()
}

func (t *streamTable) removeSub(s *Subscription) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var keep []*Subscription
	for _, x := range t.subs[s.name] {
		if x != s {
			keep = append(keep, x)
		}
	}
	if len(keep) == 0 {
		delete(t.subs, s.name)
	} else {
		t.subs[s.name] = keep
	}
	t.publishSubs()
}

// publishSubs makes a fresh read-only copy of subs for deliveries.
func (t *streamTable) publishSubs() {
	m := make(map[string][]*Subscription, len(t.subs))
	for k, v := range t.subs {
		m[k] = v
	}
	t.subv.Store(&m)
}

func (t *streamTable) subscribers(name string) []*Subscription { return (*t.subv.Load())[name] }

// deliverLocal hands a message of a local publisher to local subscribers.
func (t *streamTable) deliverLocal(name string, src *source, seq uint64, payload []byte) {
	subs := t.subscribers(name)
	if len(subs) == 0 {
		return
	}
	msg := []mesh.DataMsg{{Seq: seq, Payload: payload}}
	for _, s := range subs {
		s.push(src, msg)
	}
}

// publishers returns a snapshot of every local publisher.
func (t *streamTable) publishers() []*Publisher {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*Publisher
	for _, set := range t.pubs {
		for pub := range set {
			out = append(out, pub)
		}
	}
	return out
}

// catalog returns the streams this peer publishes and subscribes to.
func (t *streamTable) catalog() map[string]StreamUse {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := make(map[string]StreamUse)
	for name, set := range t.pubs {
		e := m[name]
		e.Pubs = len(set)
		for pub := range set {
			e.Type = cmp.Or(e.Type, pub.msgType)
		}
		m[name] = e
	}
	for name, subs := range t.subs {
		e := m[name]
		e.Subs = len(subs)
		m[name] = e
	}
	return m
}

// inSink receives one remote publisher's stream and fans it out to the
// local subscriptions of that stream.
type inSink struct {
	t    *streamTable
	src  *source
	last uint64
}

func (s *inSink) Deliver(msgs []mesh.DataMsg) {
	var lost uint64
	for _, m := range msgs {
		if s.last != 0 && m.Seq > s.last+1 {
			lost += m.Seq - s.last - 1
		}
		s.last = m.Seq
	}
	for _, sub := range s.t.subscribers(s.src.stream) {
		if lost > 0 {
			sub.lost.Add(lost)
		}
		sub.push(s.src, msgs)
	}
}

func (s *inSink) Closed() {}

// streamSink is the mesh's handler for streams opened toward this peer.
func (p *Peer) streamSink(o mesh.StreamOpen) mesh.StreamSink {
	c, err := p.cfg.Codecs.Lookup(o.Codec)
	if err != nil {
		p.log.Warn("refusing a stream in an unknown codec", "stream", o.Stream, "from", o.From, "codec", o.Codec)
		return nil
	}
	return &inSink{t: p.streams, src: &source{stream: o.Stream, from: o.From, codec: c}}
}

// routeStreams makes every local publisher send to exactly the peers that
// subscribe to its stream: it closes streams to peers that left or stopped
// subscribing, or whose link died, and opens streams to new subscribers.
func (p *Peer) routeStreams() {
	if p.isClosed() {
		return
	}
	for _, pub := range p.streams.publishers() {
		want := make(map[string]bool)
		for _, name := range p.cat.subscribersOf(pub.name) {
			if name != p.cfg.Name {
				want[name] = true
			}
		}
		have := pub.pruneOuts(want)
		for name := range want {
			if have[name] || !p.opening.begin(pub, name) {
				continue
			}
			m, ok := p.cat.member(name)
			if !ok {
				p.opening.end(pub, name)
				continue
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer p.opening.end(pub, name)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				pub.open(ctx, mesh.Target{Name: name, Endpoints: m.Endpoints})
			}()
		}
	}
}

// routeLoop re-routes streams periodically, repairing streams whose link
// died (a subscriber restarted under the same name, say).
func (p *Peer) routeLoop() {
	defer p.wg.Done()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.routeStreams()
		}
	}
}

// openings tracks streams being opened, so each is opened once.
type openings struct {
	mu sync.Mutex
	m  map[*Publisher]map[string]bool
}

func (o *openings) begin(pub *Publisher, name string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = make(map[*Publisher]map[string]bool)
	}
	if o.m[pub][name] {
		return false
	}
	if o.m[pub] == nil {
		o.m[pub] = make(map[string]bool)
	}
	o.m[pub][name] = true
	return true
}

func (o *openings) end(pub *Publisher, name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.m[pub], name)
	if len(o.m[pub]) == 0 {
		delete(o.m, pub)
	}
}

// StreamInfo is a stream of the mesh with its publishers and subscribers.
type StreamInfo struct {
	Name          string   `json:"name"`
	Type          string   `json:"type,omitempty"` // declared by a publisher (Typed)
	Publishers    []string `json:"publishers"`     // peers publishing it
	Subscribers   []string `json:"subscribers"`    // peers subscribing to it
	Subscriptions int      `json:"subscriptions"`  // subscriptions, all peers together
}

// Streams returns every stream of the mesh, by name.
func (p *Peer) Streams() []StreamInfo {
	byName := map[string]*StreamInfo{}
	for _, m := range p.Members() {
		for name, e := range m.Streams {
			si := byName[name]
			if si == nil {
				si = &StreamInfo{Name: name, Publishers: []string{}, Subscribers: []string{}}
				byName[name] = si
			}
			if e.Pubs > 0 {
				si.Publishers = append(si.Publishers, m.Name)
				si.Type = cmp.Or(si.Type, e.Type)
			}
			if e.Subs > 0 {
				si.Subscribers = append(si.Subscribers, m.Name)
				si.Subscriptions += e.Subs
			}
		}
	}
	out := make([]StreamInfo, 0, len(byName))
	for _, si := range byName {
		out = append(out, *si)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// totals sums the stats of the publishers and subscriptions of this peer,
// by stream.
func (t *streamTable) totals() (map[string]PublisherStats, map[string]SubscriptionStats) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pubs := make(map[string]PublisherStats)
	for name, ps := range t.pubs {
		var sum PublisherStats
		for pub := range ps {
			s := pub.Stats()
			sum.Sent += s.Sent
			sum.Bytes += s.Bytes
			sum.Dropped += s.Dropped
		}
		pubs[name] = sum
	}
	subs := make(map[string]SubscriptionStats)
	for name, ss := range t.subs {
		var sum SubscriptionStats
		for _, sub := range ss {
			s := sub.Stats()
			sum.Received += s.Received
			sum.Bytes += s.Bytes
			sum.Dropped += s.Dropped
			sum.Lost += s.Lost
		}
		subs[name] = sum
	}
	return pubs, subs
}
