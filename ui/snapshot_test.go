package ui

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/fault"
	"github.com/pyros-mesh/pyros/peer"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestSnapshotRates checks rates and means against the previous round, and
// what a snapshot leaves out.
func TestSnapshotRates(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	started := t0.Add(-time.Hour)
	obs := func(requests, errs uint64, seconds float64, sent, received, dropped uint64) peer.Observation {
		return peer.Observation{Name: "a", Host: "h", Started: started, Sees: []string{"a", "b"}, Links: []string{"b"},
			Served:  map[string]peer.ServedStats{"svc/x": {Requests: requests, Errors: errs, Seconds: seconds}},
			Streams: map[string]peer.StreamStats{"s/t": {Sent: sent, Received: received, Dropped: dropped}}}
	}
	prev := map[string]sample{"a": {at: t0, obs: obs(10, 1, 1.0, 100, 0, 0)}}
	r := round{self: "a", at: t0.Add(2 * time.Second),
		members:  []peer.Member{{Name: "a", Services: []string{"svc/x", "pyros.observe"}}, {Name: "b", Services: []string{"pyros.observe"}}},
		obs:      map[string]sample{"a": {at: t0.Add(2 * time.Second), obs: obs(30, 5, 1.5, 140, 6, 4)}},
		errs:     map[string]error{"b": errors.New("timed out")},
		services: []peer.Service{{Name: "svc/x", Providers: []string{"a"}}, {Name: "pyros.observe", Providers: []string{"a", "b"}}},
		streams:  []peer.StreamInfo{{Name: "s/t", Publishers: []string{"a"}, Subscribers: []string{"a"}}},
		gone:     map[string]departed{"c": {reason: "failed", since: t0, last: peer.Observation{Host: "hc"}}},
	}
	s := r.snapshot(prev)
	if len(s.Services) != 1 || s.Services[0].Name != "svc/x" {
		t.Fatalf("services: %+v (pyros.* are the runtime's own)", s.Services)
	}
	pv := s.Services[0].Providers[0]
	if pv.Requests != 30 || pv.Errors != 5 || !near(pv.Rate, 10) || !near(pv.ErrorRate, 2) || !near(pv.MeanMs, 25) {
		t.Errorf("provider: %+v, want 10 req/s, 2 err/s, 25 ms (0.5 s over 20 requests)", pv)
	}
	st := s.Streams[0]
	if !near(st.Rate, 20) || !near(st.ReceivedRate, 3) || !near(st.DropRate, 2) || st.Dropped != 4 {
		t.Errorf("stream: %+v, want 20/s sent, 3/s received, 2/s dropped", st)
	}
	if len(s.Peers) != 3 {
		t.Fatalf("peers: %+v", s.Peers)
	}
	a, b, c := s.Peers[0], s.Peers[1], s.Peers[2]
	if a.State != StateAlive || !a.Self || a.Uptime != 3602 || a.Host != "h" || !slices.Equal(a.Services, []string{"svc/x"}) || a.Group != 0 {
		t.Errorf("a: %+v", a)
	}
	if b.State != StateUnreachable || b.Reason != "timed out" || b.Group != -1 {
		t.Errorf("b: %+v", b)
	}
	if c.Name != "c" || c.State != StateDead || c.Reason != "failed" || c.Host != "hc" {
		t.Errorf("c: %+v", c)
	}
	if !slices.Equal(s.Links, []Link{{A: "a", B: "b"}}) || s.Partitioned {
		t.Errorf("links %+v, partitioned %v", s.Links, s.Partitioned)
	}

	// a restarted provider (another Started) has no rate yet, only totals
	r.obs["a"] = sample{at: r.at, obs: peer.Observation{Started: t0, Served: map[string]peer.ServedStats{"svc/x": {Requests: 2, Seconds: 0.002}}}}
	pv = r.snapshot(prev).Services[0].Providers[0]
	if pv.Rate != 0 || pv.Requests != 2 || !near(pv.MeanMs, 1) {
		t.Errorf("restarted provider: %+v", pv)
	}
}

// TestSnapshotPartition checks that peers that see different members fall
// into different groups, the serving peer's first.
func TestSnapshotPartition(t *testing.T) {
	now := time.Now()
	o := func(name string, sees ...string) sample {
		return sample{at: now, obs: peer.Observation{Name: name, Sees: sees, Faults: fault.Rules{Partition: [][]string{{"a", "b"}, {"c"}}}}}
	}
	r := round{self: "c", at: now,
		members: []peer.Member{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}},
		obs:     map[string]sample{"a": o("a", "a", "b", "d"), "b": o("b", "a", "b", "d"), "c": o("c", "c", "d"), "d": o("d", "a", "b", "c", "d")}}
	s := r.snapshot(nil)
	if !s.Partitioned || len(s.Groups) != 3 {
		t.Fatalf("groups: %+v", s.Groups)
	}
	group := map[string]int{}
	for _, p := range s.Peers {
		group[p.Name] = p.Group
	}
	if group["c"] != 0 || group["a"] != group["b"] || group["a"] == group["d"] || group["d"] == 0 {
		t.Errorf("groups by peer: %v", group)
	}
	if s.Peers[0].Faults != "partition a,b | c" {
		t.Errorf("faults: %q", s.Peers[0].Faults)
	}
}

// TestSnapshotCutOff checks how members the serving peer lost are drawn:
// cut off by its fault partition, by what their port said, or dead.
func TestSnapshotCutOff(t *testing.T) {
	now := time.Now()
	rules := fault.Rules{Partition: [][]string{{"a", "b"}, {"c", "d"}}}
	sees := []string{"a", "b", "c"}
	r := round{self: "a", at: now,
		members: []peer.Member{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "x"}},
		obs: map[string]sample{"a": {at: now, obs: peer.Observation{Name: "a", Sees: sees, Faults: rules}},
			"b": {at: now, obs: peer.Observation{Name: "b", Sees: sees, Faults: rules}}},
		errs: map[string]error{"c": errors.New("partitioned"), "x": errors.New("timed out")},
		last: map[string]peer.Observation{"c": {Host: "hc"}},
		gone: map[string]departed{
			"d": {reason: "failed", since: now},
			"e": {reason: "failed", since: now, addr: "e:1", reach: reachOpen},
			"f": {reason: "gone", since: now, addr: "f:1", reach: reachSilent},
			"g": {reason: "failed", since: now, addr: "g:1", reach: reachRefused},
			"h": {reason: "left", since: now, addr: "h:1", reach: reachOpen},
		}}
	s := r.snapshot(nil)
	state := map[string]string{}
	group := map[string]int{}
	for _, p := range s.Peers {
		state[p.Name], group[p.Name] = p.State, p.Group
	}
	want := map[string]string{"a": StateAlive, "b": StateAlive, "c": StateCutOff, "x": StateUnreachable,
		"d": StateCutOff, "e": StateCutOff, "f": StateCutOff, "g": StateDead, "h": StateDead}
	for name, st := range want {
		if state[name] != st {
			t.Errorf("%s: %q, want %q", name, state[name], st)
		}
	}
	if !s.Partitioned || len(s.Groups) != 2 || !s.Groups[1].Cut || !slices.Equal(s.Groups[1].Peers, []string{"c", "d", "e", "f"}) {
		t.Fatalf("groups: %+v", s.Groups)
	}
	if group["a"] != 0 || group["b"] != 0 || group["c"] != 1 || group["x"] != -1 || group["g"] != -1 {
		t.Errorf("groups by peer: %v", group)
	}
	if s.Peers[2].Name != "c" || s.Peers[2].Host != "hc" {
		t.Errorf("c, cut off, without the host it last gave: %+v", s.Peers[2])
	}

	// without a fault rule, a member that only stopped answering is no
	// partition yet
	for _, name := range []string{"a", "b"} {
		smp := r.obs[name]
		smp.obs.Faults = fault.Rules{}
		r.obs[name] = smp
	}
	r.gone = nil
	if s = r.snapshot(nil); s.Partitioned || s.Peers[2].State != StateUnreachable {
		t.Errorf("no rules: partitioned %v, c %+v", s.Partitioned, s.Peers[2])
	}
}

func TestGateway(t *testing.T) {
	for _, c := range []struct {
		m    peer.Member
		want bool
	}{
		{peer.Member{Name: "robot", Services: []string{"ros/add_two_ints"}}, true},
		{peer.Member{Name: "robot", Streams: map[string]peer.StreamUse{"ros/chatter": {Pubs: 1}}}, true},
		{peer.Member{Name: "rosgw-1"}, false},
		{peer.Member{Name: "pyros-1", Services: []string{"demo/echo"}, Streams: map[string]peer.StreamUse{"ros/chatter": {Subs: 1}}}, false},
	} {
		if got := gateway(c.m); got != c.want {
			t.Errorf("gateway(%+v) = %v", c.m, got)
		}
	}
}

// TestTracker checks that members that leave, fail or vanish stay on the
// map for keep, and come back alive when they rejoin.
func TestTracker(t *testing.T) {
	tr := newTracker(time.Minute, 10*time.Second)
	now := time.Now()
	ms := func(names ...string) []peer.Member {
		var out []peer.Member
		for _, n := range names {
			out = append(out, peer.Member{Name: n})
		}
		return out
	}
	members := ms("a", "b", "c")
	members[2].Addr = "127.0.0.1:3"
	tr.round(members, map[string]sample{"b": {obs: peer.Observation{Host: "hb"}}}, now)
	tr.event(peer.Event{Type: peer.MemberFailed, Member: peer.Member{Name: "b", Addr: "127.0.0.1:2"}}, now)
	gone := tr.round(ms("a"), nil, now.Add(time.Second))
	if gone["b"].reason != "failed" || gone["b"].last.Host != "hb" || gone["b"].addr != "127.0.0.1:2" ||
		gone["c"].reason != "gone" || gone["c"].addr != "127.0.0.1:3" || len(gone) != 2 {
		t.Fatalf("gone: %+v", gone)
	}
	tr.event(peer.Event{Type: peer.MemberJoined, Member: peer.Member{Name: "b"}}, now)
	tr.event(peer.Event{Type: peer.MemberLeft, Member: peer.Member{Name: "a"}}, now)
	if gone = tr.round(ms("b"), nil, now.Add(2*time.Second)); len(gone) != 2 || gone["a"].reason != "left" {
		t.Fatalf("after b rejoined and a left: %+v", gone)
	}
	if gone = tr.round(ms("b"), nil, now.Add(20*time.Second)); len(gone) != 1 || gone["c"].reason != "gone" {
		t.Fatalf("after keepLeft: %+v", gone)
	}
	if gone = tr.round(ms("b"), nil, now.Add(2*time.Minute)); len(gone) != 0 {
		t.Fatalf("after keep: %+v", gone)
	}
}

// TestSnapshotGateway checks that a gateway's Observation marks it, with
// what it bridges.
func TestSnapshotGateway(t *testing.T) {
	now := time.Now()
	gw := &peer.GatewayInfo{Master: "http://h:11311", TopicsImported: []string{"ros/a", "ros/b"}, ServicesExported: []string{"ros/s"}}
	r := round{self: "a", at: now, members: []peer.Member{{Name: "a"}, {Name: "g"}},
		obs: map[string]sample{"a": {at: now, obs: peer.Observation{Name: "a"}}, "g": {at: now, obs: peer.Observation{Name: "g", Gateway: gw}}}}
	s := r.snapshot(nil)
	if s.Peers[0].Gateway || s.Peers[0].ROS != "" {
		t.Errorf("a: %+v", s.Peers[0])
	}
	if g := s.Peers[1]; !g.Gateway || g.ROS != "ROS master http://h:11311: topics 2 in, 0 out; services 0 in, 1 out" {
		t.Errorf("g: %+v", g)
	}
}

// TestSnapshotRulePartition: when every member still sees every other (a
// peer outside the partition relays gossip between its sides), the fault
// partition the members apply groups them.
func TestSnapshotRulePartition(t *testing.T) {
	now := time.Now()
	rules := fault.Rules{Partition: [][]string{{"a", "b"}, {"c"}}}
	all := []string{"a", "b", "c", "ui"}
	o := func(name string, r fault.Rules) sample {
		return sample{at: now, obs: peer.Observation{Name: name, Sees: all, Faults: r}}
	}
	r := round{self: "ui", at: now,
		members: []peer.Member{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "ui"}},
		obs:     map[string]sample{"a": o("a", rules), "b": o("b", rules), "c": o("c", rules), "ui": o("ui", fault.Rules{})}}
	s := r.snapshot(nil)
	var labels []string
	for _, g := range s.Groups {
		labels = append(labels, g.Label+" = "+strings.Join(g.Peers, ","))
	}
	want := []string{"outside the fault partition = ui", "fault partition: a, b = a,b", "fault partition: c = c"}
	if !s.Partitioned || !slices.Equal(labels, want) {
		t.Fatalf("groups %q, want %q", labels, want)
	}

	// healed: one group
	for name, smp := range r.obs {
		smp.obs.Faults = fault.Rules{}
		r.obs[name] = smp
	}
	if s = r.snapshot(nil); s.Partitioned || len(s.Groups) != 1 {
		t.Fatalf("after the heal: %+v", s.Groups)
	}
}
