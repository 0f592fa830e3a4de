package ui

import (
	"sync"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

// tracker remembers the members that left or failed recently, and the last
// Observation of every member, to draw the dead where they were.
type tracker struct {
	keep     time.Duration // a member that failed or vanished
	keepLeft time.Duration // a member that left

	mu   sync.Mutex
	gone map[string]departed
	last map[string]peer.Observation
	seen map[string]string // the members of the previous round, and their gossip addresses
}

func newTracker(keep, keepLeft time.Duration) *tracker {
	return &tracker{keep: keep, keepLeft: keepLeft, gone: map[string]departed{}, last: map[string]peer.Observation{}, seen: map[string]string{}}
}

// event applies a membership event.
func (t *tracker) event(e peer.Event, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e.Type {
	case peer.MemberJoined:
		delete(t.gone, e.Member.Name)
	case peer.MemberLeft, peer.MemberFailed:
		t.gone[e.Member.Name] = departed{reason: e.Type.String(), since: now, last: t.last[e.Member.Name], addr: e.Member.Addr}
	}
}

// round records the members of a round and what they answered, and
// returns the members gone recently: those an event reported, and those of
// the previous round that vanished without one.
func (t *tracker) round(members []peer.Member, obs map[string]sample, now time.Time) map[string]departed {
	t.mu.Lock()
	defer t.mu.Unlock()
	here := make(map[string]string, len(members))
	for _, m := range members {
		here[m.Name] = m.Addr
		delete(t.gone, m.Name)
	}
	for name, addr := range t.seen {
		_, gone := t.gone[name]
		if _, ok := here[name]; !ok && !gone {
			t.gone[name] = departed{reason: "gone", since: now, last: t.last[name], addr: addr}
		}
	}
	t.seen = here
	for name, smp := range obs {
		t.last[name] = smp.obs
	}
	out := make(map[string]departed, len(t.gone))
	for name, d := range t.gone {
		keep := t.keep
		if d.reason == peer.MemberLeft.String() {
			keep = t.keepLeft
		}
		if now.Sub(d.since) > keep {
			delete(t.gone, name)
			delete(t.last, name)
			continue
		}
		out[name] = d
	}
	return out
}

// lastOf returns the last Observation of each named member that gave one.
func (t *tracker) lastOf(names []string) map[string]peer.Observation {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]peer.Observation)
	for _, n := range names {
		if o, ok := t.last[n]; ok {
			out[n] = o
		}
	}
	return out
}
