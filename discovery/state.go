package discovery

import (
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Member is a live member as seen by the local one. Meta and State are shared
// with the Discovery and must not be modified.
type Member struct {
	Name string
	// Addr is the member's gossip address ("ip:port").
	Addr string
	// Meta is the member's Config.Meta.
	Meta []byte
	// State is the latest state document received from the member; nil
	// until the first one has arrived.
	State []byte
	// StateVersion counts the member's SetState calls since it started; 0
	// until its first document has arrived.
	StateVersion uint64
}

// memberRec is everything known about one live member.
type memberRec struct {
	node memberlist.Node // as last reported by memberlist; Meta and Addr are owned
	// known is set once a stamp of the member has been heard of; latest is
	// the newest such stamp.
	known  bool
	latest stamp
	// have is set once a state document has been received; cur is its
	// stamp. cur < latest means a newer document awaits fetching.
	have  bool
	cur   stamp
	state []byte
	// fetchAt is when the outstanding fetch was sent; zero when none.
	fetchAt time.Time
	// leaving is set by the member's leave intent: its coming departure
	// is a graceful leave, not a failure.
	leaving bool
}

func (r *memberRec) needsFetch() bool {
	return !r.known || !r.have || r.cur.less(r.latest)
}

func (r *memberRec) member() Member {
	m := Member{Name: r.node.Name, Addr: r.node.Address(), Meta: r.node.Meta}
	if r.have {
		m.State, m.StateVersion = r.state, r.cur.ver
	}
	return m
}

// replyRec rate-limits answers to one requester: at most one in flight, and
// the same version at most once per retry interval.
type replyRec struct {
	st      stamp
	at      time.Time
	pending bool
}

// stateTable is the replicated table of member -> (stamp, state document),
// together with the gossip queue that spreads it. Every mutation happens
// under mu, and the events describing it are queued under mu too, so event
// order matches table order.
type stateTable struct {
	self      string
	inlineMax int // largest message gossiped with its state inline
	bcast     *memberlist.TransmitLimitedQueue
	events    *eventQueue
	wake      func() // asks the fetcher to look for missing documents
	logger    *slog.Logger

	alive   atomic.Int32  // len(members), read by bcast without mu
	relayed atomic.Uint64 // broadcasts relayed on behalf of other members

	failed failures // members that failed, to reconnect to

	mu      sync.Mutex
	local   *memberRec
	members map[string]*memberRec // live members, the local one included once joined
	replies map[string]replyRec
}

func newStateTable(self string, inc uint64, state []byte, inlineMax, retransmitMult int,
	events *eventQueue, wake func(), logger *slog.Logger) *stateTable {
	st := stamp{inc: inc}
	if len(state) > 0 {
		st.ver = 1
	}
	t := &stateTable{
		self:      self,
		inlineMax: inlineMax,
		events:    events,
		wake:      wake,
		logger:    logger,
		local:     &memberRec{known: true, latest: st, have: true, cur: st, state: slices.Clone(state)},
		members:   make(map[string]*memberRec),
		replies:   make(map[string]replyRec),
	}
	t.bcast = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return int(t.alive.Load()) },
		RetransmitMult: retransmitMult,
	}
	return t
}

// join records a member memberlist reports alive.
func (t *stateTable) join(n *memberlist.Node) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.members[n.Name]
	if rec == nil {
		rec = &memberRec{}
		if n.Name == t.self {
			rec = t.local
		}
		t.members[n.Name] = rec
		t.alive.Add(1)
	}
	rec.node = copyNode(n)
	t.failed.remove(n.Name)
	t.events.push(Event{Type: EventJoin, Member: rec.member()})
	if rec != t.local {
		t.wake()
	}
}

// leave forgets a member that left (memberlist.StateLeft) or failed.
func (t *stateTable) leave(n *memberlist.Node) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.members[n.Name]
	if rec == nil || rec == t.local {
		return
	}
	delete(t.members, n.Name)
	delete(t.replies, n.Name)
	t.alive.Add(-1)
	// memberlist v0.6.0 never sets Node.State (its nodeState shadows the
	// field), so a graceful leave is recognised by the leave intent; the
	// State check covers memberlist versions that fix this.
	typ := EventFail
	if rec.leaving || n.State == memberlist.StateLeft {
		typ = EventLeave
	} else {
		t.failed.add(n.Name, n.Address(), time.Now())
	}
	rec.node = copyNode(n)
	t.events.push(Event{Type: typ, Member: rec.member()})
}

// update records new metadata or a new address of a live member.
func (t *stateTable) update(n *memberlist.Node) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.members[n.Name]
	if rec == nil {
		return
	}
	rec.node = copyNode(n)
	t.events.push(Event{Type: EventUpdate, Member: rec.member()})
	if rec.needsFetch() {
		t.wake()
	}
}

// setLocal replaces the local document under the next version and queues its
// broadcast.
func (t *stateTable) setLocal(state []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.local
	l.cur = l.cur.next()
	l.latest, l.state = l.cur, slices.Clone(state)
	t.queueLocalLocked()
	if t.members[t.self] == l {
		t.events.push(Event{Type: EventUpdate, Member: l.member()})
	}
}

// gossipForm encodes an announcement for gossip: inline when it fits in a
// gossip packet, a notice otherwise.
func (t *stateTable) gossipForm(m stateMsg) []byte {
	if m.hasState {
		if msg := encodeState(msgState, m.name, m.st, m.state); len(msg) <= t.inlineMax {
			return msg
		}
	}
	return encodeNotice(m.name, m.st)
}

// queueLocalLocked gossips the local document inline when it fits in a
// gossip packet, and a notice (prompting a fetch) otherwise.
func (t *stateTable) queueLocalLocked() {
	l := t.local
	msg := encodeState(msgState, t.self, l.cur, l.state)
	if len(msg) > t.inlineMax {
		msg = encodeNotice(t.self, l.cur)
	}
	t.bcast.QueueBroadcast(newStateBroadcast(t.self, msg))
}

// queueLeaveIntent gossips that the local member is about to leave. The
// returned channel is closed once the intent has been transmitted as often as
// any broadcast is.
func (t *stateTable) queueLeaveIntent() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := newLeaveBroadcast(t.self, encodeLeave(t.self, t.local.cur.inc))
	b.notify = make(chan struct{})
	t.bcast.QueueBroadcast(b)
	return b.notify
}

// leaveIntent marks a member as leaving, relaying the intent the first time it
// is heard. Intents of an older incarnation than the one known are stale.
func (t *stateTable) leaveIntent(name string, inc uint64, raw []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.members[name]
	if name == t.self || rec == nil || rec.leaving || (rec.known && inc < rec.latest.inc) {
		return
	}
	rec.leaving = true
	t.bcast.QueueBroadcast(newLeaveBroadcast(name, slices.Clone(raw)))
	t.relayed.Add(1)
}

// apply merges one announcement. raw, when not nil, is the gossiped message:
// it is relayed if the announced version is new here. It reports whether the
// message was relayed.
func (t *stateTable) apply(m stateMsg, raw []byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.applyLocked(m, raw)
}

func (t *stateTable) applyLocked(m stateMsg, raw []byte) bool {
	if !plausible(m.st) {
		return false
	}
	if m.name == t.self {
		t.refuteLocked(m.st)
		return false
	}
	rec := t.members[m.name]
	if rec == nil {
		// Not alive here (yet, or any more): a join triggers a fetch,
		// and stale announcements of a departed member are dropped.
		return false
	}
	relay := false
	if !rec.known || rec.latest.less(m.st) {
		rec.known, rec.latest = true, m.st
		if raw != nil {
			t.bcast.QueueBroadcast(newStateBroadcast(m.name, slices.Clone(raw)))
			t.relayed.Add(1)
			relay = true
		}
	}
	// Version 0 is the empty document of a fresh incarnation.
	if (m.hasState || m.st.ver == 0) && (!rec.have || rec.cur.less(m.st)) {
		rec.have, rec.cur, rec.state = true, m.st, slices.Clone(m.state)
		t.events.push(Event{Type: EventUpdate, Member: rec.member()})
	}
	if rec.needsFetch() {
		t.wake()
	} else {
		rec.fetchAt = time.Time{}
	}
	return relay
}

// refuteLocked handles a claim that the local member has a newer document
// than it has: a leftover of a previous run under this name, or a forgery.
// The local document is re-issued under a stamp above the claim so that it
// wins everywhere.
func (t *stateTable) refuteLocked(claim stamp) {
	l := t.local
	if !l.cur.less(claim) {
		return
	}
	next := claim.next()
	t.logger.Warn("newer state version claimed for the local member; re-issuing local state",
		"claimed_incarnation", claim.inc, "claimed_version", claim.ver)
	l.cur, l.latest = next, next
	t.queueLocalLocked()
}

// merge applies a push/pull table. Nothing is relayed: every member runs its
// own push/pull.
func (t *stateTable) merge(entries []stateMsg) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range entries {
		t.applyLocked(m, nil)
	}
}

// localState encodes the table for push/pull: each document while the total
// stays within budget bytes, a digest (stamp only) for the rest, and a digest
// for every newer version heard of but not yet fetched.
func (t *stateTable) localState(budget int) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	enc := newPushPullEncoder()
	size := len(enc.buf)
	add := func(name string, rec *memberRec) {
		if rec.have {
			with := size+entrySize(name, rec.state, true) <= budget
			enc.add(name, rec.cur, rec.state, with)
			size += entrySize(name, rec.state, with)
		}
		if rec.known && (!rec.have || rec.cur.less(rec.latest)) {
			enc.add(name, rec.latest, nil, false)
			size += entrySize(name, nil, false)
		}
	}
	add(t.self, t.local)
	for name, rec := range t.members {
		if rec != t.local && enc.count < MaxMembers-1 {
			add(name, rec)
		}
	}
	return enc.bytes()
}

// dueFetches returns the members whose document is missing or outdated and
// that have no fetch in flight younger than retry, and marks them fetched.
func (t *stateTable) dueFetches(now time.Time, retry time.Duration) []memberlist.Node {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []memberlist.Node
	for _, rec := range t.members {
		if rec == t.local {
			continue
		}
		if !rec.needsFetch() {
			rec.fetchAt = time.Time{}
			continue
		}
		if !rec.fetchAt.IsZero() && now.Sub(rec.fetchAt) < retry {
			continue
		}
		rec.fetchAt = now
		out = append(out, rec.node)
	}
	return out
}

// claimReply decides whether to answer a fetch from requester: it must be a
// live member with no answer in flight, and the current version must not
// have been sent to it within gap. On success the answer is marked in flight
// and the requester's node is returned.
func (t *stateTable) claimReply(requester string, now time.Time, gap time.Duration) (memberlist.Node, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.members[requester]
	if rec == nil || rec == t.local {
		return memberlist.Node{}, false
	}
	rr := t.replies[requester]
	if rr.pending || (rr.st == t.local.cur && now.Sub(rr.at) < gap) {
		return memberlist.Node{}, false
	}
	rr.pending = true
	t.replies[requester] = rr
	return rec.node, true
}

// replyDone records that an answer carrying st went to requester (a zero
// stamp when it was not sent).
func (t *stateTable) replyDone(requester string, st stamp, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.members[requester]; !ok {
		delete(t.replies, requester)
		return
	}
	t.replies[requester] = replyRec{st: st, at: now}
}

// localDoc returns the local stamp and document.
func (t *stateTable) localDoc() (stamp, []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.local.cur, t.local.state
}

func (t *stateTable) list() []Member {
	t.mu.Lock()
	out := make([]Member, 0, len(t.members))
	for _, rec := range t.members {
		out = append(out, rec.member())
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (t *stateTable) get(name string) (Member, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.members[name]
	if rec == nil {
		return Member{}, false
	}
	return rec.member(), true
}

// maxIncarnationSkew bounds how far ahead of the local clock an incarnation
// (a member's start time) may be. Stamps beyond it are forged or come from a
// badly wrong clock; accepting them would let a single message pin a
// member's document above anything the member can publish.
const maxIncarnationSkew = 24 * time.Hour

func plausible(st stamp) bool {
	return st.inc <= uint64(time.Now().Add(maxIncarnationSkew).UnixNano())
}

func copyNode(n *memberlist.Node) memberlist.Node {
	c := *n
	c.Addr = slices.Clone(n.Addr)
	c.Meta = slices.Clone(n.Meta)
	return c
}

// stateBroadcast is one message in the gossip queue. It is keyed by kind and
// member, so queueing a newer state of a member replaces an older one still
// waiting to be sent, while a leave intent is kept apart.
type stateBroadcast struct {
	key    string
	msg    []byte
	notify chan struct{} // closed by Finished when not nil
	once   sync.Once
}

var _ memberlist.NamedBroadcast = (*stateBroadcast)(nil)

func newStateBroadcast(member string, msg []byte) *stateBroadcast {
	return &stateBroadcast{key: "discovery/state/" + member, msg: msg}
}

func newLeaveBroadcast(member string, msg []byte) *stateBroadcast {
	return &stateBroadcast{key: "discovery/leave/" + member, msg: msg}
}

func (b *stateBroadcast) Name() string    { return b.key }
func (b *stateBroadcast) Message() []byte { return b.msg }

func (b *stateBroadcast) Finished() {
	if b.notify != nil {
		b.once.Do(func() { close(b.notify) })
	}
}

func (b *stateBroadcast) Invalidates(other memberlist.Broadcast) bool {
	o, ok := other.(*stateBroadcast)
	return ok && o.key == b.key
}
