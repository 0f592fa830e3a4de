package discovery

import (
	"bytes"
	"log/slog"
	"math"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// tableFixture is a state table without memberlist: members are added by
// hand and the gossip queue is inspected directly.
type tableFixture struct {
	t      *testing.T
	table  *stateTable
	events *eventQueue
	wakes  int
}

func newTableFixture(t *testing.T, self string) *tableFixture {
	f := &tableFixture{t: t, events: newEventQueue()}
	f.table = newStateTable(self, 100, nil, 1000, 4, f.events, func() { f.wakes++ }, slog.New(slog.DiscardHandler))
	f.table.join(node(self))
	return f
}

func node(name string) *memberlist.Node {
	return &memberlist.Node{Name: name, Addr: net.IPv4(127, 0, 0, 1), Port: 7946}
}

func (f *tableFixture) drain() []Event {
	var out []Event
	stop := make(chan struct{})
	close(stop)
	for {
		ev, ok := f.events.pop(stop)
		if !ok {
			return out
		}
		out = append(out, ev)
	}
}

func (f *tableFixture) queued() [][]byte {
	return f.table.bcast.GetBroadcasts(0, 1<<20)
}

func (f *tableFixture) member(name string) Member {
	f.t.Helper()
	m, ok := f.table.get(name)
	if !ok {
		f.t.Fatalf("%s unknown", name)
	}
	return m
}

func full(name string, inc, ver uint64, doc string) stateMsg {
	return stateMsg{name: name, st: stamp{inc, ver}, state: []byte(doc), hasState: true}
}

func notice(name string, inc, ver uint64) stateMsg {
	return stateMsg{name: name, st: stamp{inc, ver}}
}

func raw(m stateMsg) []byte {
	if m.hasState {
		return encodeState(msgState, m.name, m.st, m.state)
	}
	return encodeNotice(m.name, m.st)
}

func TestStateTableVersionsAndRelay(t *testing.T) {
	f := newTableFixture(t, "me")
	tab := f.table
	tab.join(node("b"))
	if got := tab.dueFetches(time.Now(), time.Second); len(got) != 1 || got[0].Name != "b" {
		t.Fatalf("a new member must be fetched: %v", got)
	}

	m := full("b", 1, 2, "v2")
	if !tab.apply(m, raw(m)) {
		t.Fatal("new version not relayed")
	}
	if tab.apply(m, raw(m)) {
		t.Fatal("known version relayed again")
	}
	old := full("b", 1, 1, "v1")
	if tab.apply(old, raw(old)) || string(f.member("b").State) != "v2" {
		t.Fatal("older version applied or relayed")
	}
	if got := f.queued(); len(got) != 1 || !bytes.Equal(got[0], raw(m)) {
		t.Fatalf("queue holds %d messages, want the relay of v2", len(got))
	}

	// A newer version replaces the queued relay of an older one.
	v3, v4 := full("b", 1, 3, "v3"), full("b", 1, 4, "v4")
	tab.apply(v3, raw(v3))
	tab.apply(v4, raw(v4))
	if got := f.queued(); len(got) != 1 || !bytes.Equal(got[0], raw(v4)) {
		t.Fatalf("queue = %d messages, want only v4", len(got))
	}
	for range 20 {
		f.queued() // exhaust retransmissions
	}

	// A restarted member: new incarnation, lower version, wins.
	restarted := full("b", 2, 1, "new life")
	if !tab.apply(restarted, raw(restarted)) || string(f.member("b").State) != "new life" {
		t.Fatal("new incarnation lost")
	}
	stale := full("b", 1, 99, "old life")
	if tab.apply(stale, raw(stale)) || string(f.member("b").State) != "new life" {
		t.Fatal("previous incarnation won")
	}
	if v := f.member("b").StateVersion; v != 1 {
		t.Fatalf("StateVersion = %d", v)
	}

	// Announcements about members not alive here are dropped.
	ghost := full("ghost", 1, 1, "x")
	if tab.apply(ghost, raw(ghost)) {
		t.Fatal("relayed an unknown member")
	}
	if _, ok := tab.get("ghost"); ok {
		t.Fatal("unknown member added by an announcement")
	}
}

func TestStateTableNoticeAndFetch(t *testing.T) {
	f := newTableFixture(t, "me")
	tab := f.table
	tab.join(node("b"))
	tab.apply(full("b", 1, 1, "v1"), nil)
	now := time.Now()
	if got := tab.dueFetches(now, time.Second); len(got) != 0 {
		t.Fatalf("up-to-date member fetched: %v", got)
	}

	n := notice("b", 1, 2)
	wakes := f.wakes
	if !tab.apply(n, raw(n)) {
		t.Fatal("notice of a new version not relayed")
	}
	if f.wakes == wakes {
		t.Fatal("fetcher not woken")
	}
	if m := f.member("b"); string(m.State) != "v1" || m.StateVersion != 1 {
		t.Fatalf("a notice must keep the old document until fetched: %+v", m)
	}
	if got := tab.dueFetches(now, time.Second); len(got) != 1 {
		t.Fatalf("due = %v, want b", got)
	}
	if got := tab.dueFetches(now.Add(500*time.Millisecond), time.Second); len(got) != 0 {
		t.Fatal("fetch repeated before the retry interval")
	}
	if got := tab.dueFetches(now.Add(time.Second), time.Second); len(got) != 1 {
		t.Fatal("unanswered fetch not repeated")
	}
	// The answer (not relayed) completes the fetch.
	if tab.apply(full("b", 1, 2, "v2"), nil) {
		t.Fatal("reply relayed")
	}
	if got := tab.dueFetches(now.Add(5*time.Second), time.Second); len(got) != 0 {
		t.Fatalf("fetch still due after the answer: %v", got)
	}
	if string(f.member("b").State) != "v2" {
		t.Fatal("answer not applied")
	}
}

func TestStateTableRefutesClaimsAboutSelf(t *testing.T) {
	f := newTableFixture(t, "me")
	tab := f.table
	tab.setLocal([]byte("mine"))
	f.queued()
	// A leftover of a previous run with a higher stamp.
	tab.apply(full("me", 100, 7, "ghost"), nil)
	st, doc := tab.localDoc()
	if !(stamp{100, 7}).less(st) || string(doc) != "mine" {
		t.Fatalf("local stamp %v not above the claim, doc %q", st, doc)
	}
	got := f.queued()
	if len(got) != 1 {
		t.Fatal("re-issued state not broadcast")
	}
	_, m, err := decodeState(got[0])
	if err != nil || m.st != st || string(m.state) != "mine" {
		t.Fatalf("broadcast %+v, %v", m, err)
	}
	// Lower claims change nothing.
	tab.apply(full("me", 1, 1000, "old"), nil)
	if st2, _ := tab.localDoc(); st2 != st {
		t.Fatal("lower claim changed the local stamp")
	}
	// A claim of the last version is surpassed by the next incarnation,
	// and publishing goes on from there.
	tab.apply(full("me", 100, math.MaxUint64, "max"), nil)
	if st, _ := tab.localDoc(); st != (stamp{101, 1}) {
		t.Fatalf("local stamp = %v", st)
	}
	tab.setLocal([]byte("later"))
	if st, _ := tab.localDoc(); st != (stamp{101, 2}) {
		t.Fatalf("local stamp after update = %v", st)
	}
}

func TestStateTableRejectsFutureIncarnations(t *testing.T) {
	f := newTableFixture(t, "me")
	tab := f.table
	tab.join(node("b"))
	future := uint64(time.Now().Add(48 * time.Hour).UnixNano())
	for _, m := range []stateMsg{
		full("b", math.MaxUint64, math.MaxUint64, "pinned"),
		full("b", future, 1, "pinned"),
		full("me", math.MaxUint64, 1, "pinned"),
	} {
		if tab.apply(m, raw(m)) {
			t.Fatalf("relayed %v", m.st)
		}
	}
	if m := f.member("b"); m.State != nil {
		t.Fatalf("implausible stamp applied: %+v", m)
	}
	if st, _ := tab.localDoc(); st.inc != 100 {
		t.Fatalf("local incarnation moved to %d", st.inc)
	}
	now := full("b", uint64(time.Now().UnixNano()), 1, "fine")
	if !tab.apply(now, raw(now)) {
		t.Fatal("current incarnation refused")
	}
}

func TestStateTableLargeStateGossipsNotice(t *testing.T) {
	f := newTableFixture(t, "me")
	f.table.setLocal(make([]byte, 2000))
	got := f.queued()
	if len(got) != 1 || msgType(got[0][0]) != msgNotice {
		t.Fatal("large document not announced by a notice")
	}
	f.table.setLocal([]byte("small"))
	got = f.queued()
	if len(got) != 1 || msgType(got[0][0]) != msgState {
		t.Fatal("small document not gossiped whole")
	}
}

func TestStateTableLeaveAndFail(t *testing.T) {
	f := newTableFixture(t, "me")
	tab := f.table
	for _, n := range []string{"b", "c", "d"} {
		tab.join(node(n))
		tab.apply(full(n, 5, 1, "doc-"+n), nil)
	}
	f.drain()
	tab.leaveIntent("b", 5, encodeLeave("b", 5))
	tab.leaveIntent("c", 4, encodeLeave("c", 4)) // an older incarnation's
	if got := f.queued(); len(got) != 1 {
		t.Fatalf("leave intent relays = %d, want 1", len(got))
	}
	tab.leave(node("b"))
	tab.leave(node("c"))
	evs := f.drain()
	if len(evs) != 2 || evs[0].Type != EventLeave || evs[1].Type != EventFail {
		t.Fatalf("events = %+v", evs)
	}
	if evs[0].Member.Name != "b" || string(evs[0].Member.State) != "doc-b" {
		t.Fatalf("leave event carries %+v", evs[0].Member)
	}
	if _, ok := tab.get("b"); ok {
		t.Fatal("departed member still listed")
	}
	// A late announcement of the departed member is dropped, and its
	// return starts from scratch.
	tab.apply(full("b", 5, 2, "late"), nil)
	tab.join(node("b"))
	if m := f.member("b"); m.State != nil {
		t.Fatalf("returning member kept state %q", m.State)
	}
	if names := memberNames(tab.list()); names != "b,d,me" {
		t.Fatalf("members = %s", names)
	}
}

func memberNames(ms []Member) string {
	var b bytes.Buffer
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.Name)
	}
	return b.String()
}

func TestStateTablePushPull(t *testing.T) {
	a := newTableFixture(t, "a")
	b := newTableFixture(t, "b")
	for _, f := range []*tableFixture{a, b} {
		for _, n := range []string{"a", "b", "c"} {
			f.table.join(node(n))
		}
	}
	a.table.setLocal([]byte("doc-a"))
	a.table.apply(full("c", 3, 4, "doc-c"), nil)
	a.table.apply(notice("c", 3, 5), nil) // heard of, not fetched

	b.table.merge(mustDecodePushPull(t, a.table.localState(pushPullBudget)))
	if string(b.member("a").State) != "doc-a" || string(b.member("c").State) != "doc-c" {
		t.Fatal("push/pull did not carry the documents")
	}
	if got := b.table.dueFetches(time.Now(), time.Second); len(got) != 1 || got[0].Name != "c" {
		t.Fatalf("digest of c's newer version must trigger a fetch: %v", got)
	}
	if len(b.queued()) != 0 {
		t.Fatal("push/pull merge relayed")
	}

	// Over budget: documents become digests.
	c := newTableFixture(t, "b")
	for _, n := range []string{"a", "c"} {
		c.table.join(node(n))
	}
	entries := mustDecodePushPull(t, a.table.localState(40))
	for _, e := range entries {
		if e.hasState && e.name != "a" {
			t.Fatalf("entry %s carries its document beyond the budget", e.name)
		}
	}
	c.table.merge(entries)
	if got := c.table.dueFetches(time.Now(), time.Second); len(got) != 1 || got[0].Name != "c" {
		t.Fatalf("digests must trigger fetches: %v", got)
	}
}

func mustDecodePushPull(t *testing.T, b []byte) []stateMsg {
	t.Helper()
	ms, err := decodePushPull(b)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestStateTableReplyRateLimit(t *testing.T) {
	f := newTableFixture(t, "me")
	tab := f.table
	tab.join(node("b"))
	now := time.Now()
	if _, ok := tab.claimReply("stranger", now, time.Second); ok {
		t.Fatal("answered a non-member")
	}
	n, ok := tab.claimReply("b", now, time.Second)
	if !ok || n.Name != "b" {
		t.Fatal("first request refused")
	}
	if _, ok := tab.claimReply("b", now, time.Second); ok {
		t.Fatal("second answer while one is in flight")
	}
	st, _ := tab.localDoc()
	tab.replyDone("b", st, now)
	if _, ok := tab.claimReply("b", now.Add(100*time.Millisecond), time.Second); ok {
		t.Fatal("same version re-sent within the gap")
	}
	tab.setLocal([]byte("new"))
	if _, ok := tab.claimReply("b", now.Add(100*time.Millisecond), time.Second); !ok {
		t.Fatal("new version not sent")
	}
}

// A version first heard in an answer to our fetch is relayed as gossip:
// members that learnt an older version at join time (and so never fetch)
// would otherwise miss it until the next push/pull.
func TestFetchedVersionIsRelayed(t *testing.T) {
	f := newTableFixture(t, "a")
	discard := slog.New(slog.DiscardHandler)
	d := &delegate{table: f.table, fetcher: newFetcher(f.table, time.Second, discard), logger: discard}
	f.table.join(node("b"))
	f.queued()
	d.NotifyMsg(encodeState(msgReply, "b", stamp{7, 2}, []byte("v2")))
	q := f.queued()
	if len(q) != 1 || !bytes.Equal(q[0], encodeState(msgState, "b", stamp{7, 2}, []byte("v2"))) {
		t.Fatalf("want the fetched version relayed as gossip, got %q", q)
	}
	// the same version again is not relayed twice
	relayed := f.table.relayed.Load()
	d.NotifyMsg(encodeState(msgReply, "b", stamp{7, 2}, []byte("v2")))
	if f.table.relayed.Load() != relayed {
		t.Fatal("relayed twice")
	}
	// a document too big to gossip is relayed as a notice
	big := bytes.Repeat([]byte("x"), 2000)
	d.NotifyMsg(encodeState(msgReply, "b", stamp{7, 3}, big))
	if q := f.queued(); len(q) != 1 || !bytes.Equal(q[0], encodeNotice("b", stamp{7, 3})) {
		t.Fatalf("want the notice to replace the older relay, got %d messages", len(q))
	}
}
