package discovery

import (
	"bytes"
	"crypto/cipher"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/meshkey"
	"golang.org/x/net/ipv4"
)

func TestLANSettings(t *testing.T) {
	s, err := (&LANDiscovery{}).settings()
	if err != nil || s.mesh != DefaultMesh || s.group.String() != DefaultLANGroup || s.interval != DefaultLANInterval || s.names != nil {
		t.Fatalf("defaults: %+v, %v", s, err)
	}
	for name, c := range map[string]LANDiscovery{
		"long mesh":         {Mesh: string(make([]byte, 256))},
		"unicast group":     {Group: "10.0.0.1:7947"},
		"IPv6 group":        {Group: "[ff02::1]:7947"},
		"no port":           {Group: "239.255.77.77"},
		"port 0":            {Group: "239.255.77.77:0"},
		"host name":         {Group: "example.com:7947"},
		"short interval":    {Interval: time.Millisecond},
		"long interval":     {Interval: time.Hour},
		"negative":          {Interval: -time.Second},
		"unnamed interface": {Interfaces: []string{""}},
	} {
		if _, err := New(Config{Name: "a", LAN: &c}); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestSelectInterfaces(t *testing.T) {
	const up, mc, lb, run = net.FlagUp, net.FlagMulticast, net.FlagLoopback, net.FlagRunning
	ip := net.ParseIP
	found := []ifaceInfo{
		{net.Interface{Index: 1, Name: "lo", Flags: up | lb | run}, []net.IP{ip("127.0.0.1")}},
		{net.Interface{Index: 2, Name: "eth0", Flags: up | mc | run}, []net.IP{ip("169.254.1.1"), ip("192.168.1.5")}},
		{net.Interface{Index: 3, Name: "eth1", Flags: mc | run}, []net.IP{ip("10.0.0.1")}},        // down
		{net.Interface{Index: 4, Name: "wg0", Flags: up | run}, []net.IP{ip("10.9.0.1")}},         // no multicast
		{net.Interface{Index: 5, Name: "eth2", Flags: up | mc | run}, nil},                        // no IPv4
		{net.Interface{Index: 6, Name: "eth3", Flags: up | mc}, []net.IP{ip("10.1.0.1")}},         // no carrier
		{net.Interface{Index: 7, Name: "br0", Flags: up | mc | run}, []net.IP{ip("169.254.7.7")}}, // link-local only
	}
	names := func(ifs []lanIface) []string {
		var out []string
		for _, i := range ifs {
			out = append(out, i.ifi.Name+"="+i.src.String())
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		names []string
		bind  net.IP
		want  []string
	}{
		{"default", nil, nil, []string{"eth0=192.168.1.5", "br0=169.254.7.7"}},
		{"named loopback", []string{"lo"}, nil, []string{"lo=127.0.0.1"}},
		{"named, down or missing", []string{"eth1", "nope"}, nil, nil},
		{"named without multicast", []string{"wg0"}, nil, []string{"wg0=10.9.0.1"}},
		{"bound to one address", nil, ip("169.254.1.1"), []string{"eth0=169.254.1.1"}},
		{"bound to 0.0.0.0", nil, ip("0.0.0.0"), []string{"eth0=192.168.1.5", "br0=169.254.7.7"}},
		{"bound to loopback", []string{"lo", "eth0"}, ip("127.0.0.1"), []string{"lo=127.0.0.1"}},
	} {
		if got := names(selectInterfaces(found, tc.names, tc.bind)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAnnounceSchedule(t *testing.T) {
	s := announceSchedule{next: lanFirstInterval, max: 5 * time.Second}
	for _, want := range []time.Duration{250, 500, 1000, 2000, 4000, 5000, 5000, 5000} {
		want *= time.Millisecond
		if got := s.advance(); got < want*9/10 || got > want*11/10 {
			t.Fatalf("period %v, want %v ± 10%%", got, want)
		}
	}
}

func TestJoinLimiter(t *testing.T) {
	l := joinLimiter{gap: 2 * time.Second, max: 3}
	t0 := time.Now()
	if !l.allow("a", t0) || l.allow("a", t0.Add(1999*time.Millisecond)) || !l.allow("a", t0.Add(2*time.Second)) {
		t.Fatal("one attempt per name per gap")
	}
	if !l.allow("b", t0) || !l.allow("c", t0) {
		t.Fatal("other names are independent")
	}
	if l.allow("d", t0.Add(time.Second)) {
		t.Fatal("a full limiter took a new name")
	}
	if !l.allow("d", t0.Add(2500*time.Millisecond)) || len(l.last) > 3 {
		t.Fatalf("stale names not forgotten: %d remembered", len(l.last))
	}
}

// testLAN is a lan without a socket, for its receive path.
func testLAN(t *testing.T, alive map[string]bool, keys *beaconKeys) *lan {
	s, err := (&LANDiscovery{Mesh: "m"}).settings()
	if err != nil {
		t.Fatal(err)
	}
	l := &lan{
		lanParams: lanParams{
			settings: s, self: "me", port: 7000, keys: keys,
			alive:  func(name string) bool { return alive[name] },
			logger: slog.New(slog.DiscardHandler),
		},
		limiter: joinLimiter{gap: lanJoinGap, max: lanMaxTracked},
		answer:  make(chan struct{}, 1),
		joins:   make(chan string, lanJoinQueue),
	}
	l.ifaces.Store(&lanIfaces{2: {ifi: net.Interface{Index: 2, Name: "eth0"}}})
	return l
}

func drain[T any](ch chan T) []T {
	var out []T
	for {
		select {
		case v := <-ch:
			out = append(out, v)
		default:
			return out
		}
	}
}

func TestLANJoinDecision(t *testing.T) {
	l := testLAN(t, map[string]bool{"up": true}, nil)
	group := l.settings.group.IP
	cm := &ipv4.ControlMessage{IfIndex: 2, Dst: group}
	from := &net.UDPAddr{IP: net.ParseIP("192.168.1.9"), Port: 7947}
	pkt := func(b beacon) []byte {
		p, err := encodeBeacon(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	t0 := time.Now()
	for _, tc := range []struct {
		name  string
		pkt   []byte
		cm    *ipv4.ControlMessage
		at    time.Duration
		joins []string
	}{
		{"new member", pkt(beacon{port: 8000, mesh: "m", name: "b"}), cm, 0, []string{"192.168.1.9:8000"}},
		{"again within the gap", pkt(beacon{port: 8000, mesh: "m", name: "b"}), cm, time.Second, nil},
		{"again after the gap", pkt(beacon{port: 8000, mesh: "m", name: "b"}), cm, 2 * time.Second, []string{"192.168.1.9:8000"}},
		{"alive member", pkt(beacon{port: 8000, mesh: "m", name: "up"}), cm, 0, nil},
		{"itself", pkt(beacon{port: 7000, mesh: "m", name: "me"}), cm, 0, nil},
		{"other mesh", pkt(beacon{port: 8000, mesh: "other", name: "c"}), cm, 0, nil},
		{"interface not in use", pkt(beacon{port: 8000, mesh: "m", name: "d"}), &ipv4.ControlMessage{IfIndex: 9, Dst: group}, 0, nil},
		{"unicast", pkt(beacon{port: 8000, mesh: "m", name: "e"}), &ipv4.ControlMessage{IfIndex: 2, Dst: from.IP}, 0, nil},
		{"garbage", []byte("hello"), cm, 0, nil},
		{"sealed", func() []byte {
			p, _ := encodeBeacon(beacon{port: 8000, mesh: "m", name: "f"}, aeads(t, meshkey.Generate())[0])
			return p
		}(), cm, 0, nil},
		{"no control message", pkt(beacon{port: 8001, mesh: "m", name: "g"}), nil, 0, []string{"192.168.1.9:8001"}},
	} {
		l.receive(tc.pkt, tc.cm, from, t0.Add(tc.at))
		if got := drain(l.joins); !slices.Equal(got, tc.joins) {
			t.Errorf("%s: joins %v, want %v", tc.name, got, tc.joins)
		}
	}
	if len(drain(l.answer)) != 0 {
		t.Fatal("an announce answered no scout")
	}
	l.receive(pkt(beacon{scout: true, port: 8000, mesh: "m", name: "up"}), cm, from, t0)
	if len(drain(l.answer)) != 1 {
		t.Fatal("a scout was not answered")
	}
	l.receive(pkt(beacon{scout: true, port: 8000, mesh: "other", name: "x"}), cm, from, t0)
	if len(drain(l.answer)) != 0 {
		t.Fatal("a scout of another mesh was answered")
	}
	// A flood of names fills the queue but never blocks the receiver.
	for i := range 100 {
		l.receive(pkt(beacon{port: 8000, mesh: "m", name: fmt.Sprint("n", i)}), cm, from, t0)
	}
	if n := len(drain(l.joins)); n != lanJoinQueue {
		t.Fatalf("%d joins queued, want %d", n, lanJoinQueue)
	}
}

func TestLANJoinDecisionKeyed(t *testing.T) {
	k := meshkey.Generate()
	keys, err := newBeaconKeys(ring(t, k))
	if err != nil {
		t.Fatal(err)
	}
	l := testLAN(t, nil, keys)
	cm := &ipv4.ControlMessage{IfIndex: 2, Dst: l.settings.group.IP}
	from := &net.UDPAddr{IP: net.ParseIP("192.168.1.9"), Port: 7947}
	b := beacon{port: 8000, mesh: "m", name: "b"}
	for _, tc := range []struct {
		name string
		seal cipher.AEAD
		join bool
	}{
		{"plain", nil, false},
		{"another key", aeads(t, meshkey.Generate())[0], false},
		{"the mesh key", aeads(t, k)[0], true},
	} {
		p, err := encodeBeacon(b, tc.seal)
		if err != nil {
			t.Fatal(err)
		}
		l.receive(p, cm, from, time.Now())
		if got := len(drain(l.joins)) == 1; got != tc.join {
			t.Errorf("%s: joined %v, want %v", tc.name, got, tc.join)
		}
	}
}

// loopbackLAN is LAN discovery confined to the loopback interface, on a group
// port free on this host and with a mesh name of its own, so that concurrent
// tests never hear each other and nothing leaves the host.
func loopbackLAN(t testing.TB) *LANDiscovery {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	return &LANDiscovery{
		Mesh:       fmt.Sprintf("test-%d-%d", port, time.Now().UnixNano()),
		Group:      fmt.Sprintf("239.255.77.77:%d", port),
		Interval:   200 * time.Millisecond,
		Interfaces: []string{"lo"},
	}
}

func withLAN(l *LANDiscovery) func(*Config) {
	return func(c *Config) { c.LAN = l }
}

// onlyLoopback fails the test unless d's LAN discovery uses the loopback
// interface alone.
func onlyLoopback(t *testing.T, d *Discovery) {
	t.Helper()
	for _, i := range d.lan.ifaces.Load().sorted() {
		if i.ifi.Flags&net.FlagLoopback == 0 || !i.src.IsLoopback() {
			t.Fatalf("%s uses interface %s (%s)", d.name, i.ifi.Name, i.src)
		}
	}
}

// TestLANFindsMembers starts three members with no seed: they find each
// other by multicast on the loopback interface.
func TestLANFindsMembers(t *testing.T) {
	lan := loopbackLAN(t)
	var nodes []*Discovery
	for i := range 3 {
		nodes = append(nodes, newNode(t, fmt.Sprintf("l%d", i), withLAN(lan)))
	}
	closeAll(t, nodes)
	took := waitFor(t, 10*time.Second, "membership", fullMembership(nodes))
	t.Logf("found each other in %v", took.Round(time.Millisecond))
	for _, d := range nodes {
		onlyLoopback(t, d)
	}
	// A member started later is found too.
	late := newNode(t, "late", withLAN(lan))
	closeAll(t, []*Discovery{late})
	waitFor(t, 10*time.Second, "membership with a late member", fullMembership(append(nodes, late)))
}

// TestLANKeepsMeshesApart puts members of two meshes, and of one mesh name
// under two keys and none, on one group: only members of the same mesh with
// a common key find each other.
func TestLANKeepsMeshesApart(t *testing.T) {
	base := loopbackLAN(t)
	other := *base
	other.Mesh += "-other"
	k := meshkey.Generate()
	k1 := newNode(t, "k1", withLAN(base), withKeys(ring(t, k)))
	k2 := newNode(t, "k2", withLAN(base), withKeys(ring(t, k)))
	o := newNode(t, "o", withLAN(base), withKeys(ring(t, meshkey.Generate())))
	p1 := newNode(t, "p1", withLAN(base))
	p2 := newNode(t, "p2", withLAN(base))
	x := newNode(t, "x", withLAN(&other))
	groups := [][]*Discovery{{k1, k2}, {o}, {p1, p2}, {x}}
	closeAll(t, []*Discovery{k1, k2, o, p1, p2, x})
	check := func() error {
		for _, g := range groups {
			if err := fullMembership(g)(); err != nil {
				return err
			}
		}
		return nil
	}
	waitFor(t, 10*time.Second, "each group formed", check)
	deadline := time.Now().Add(600 * time.Millisecond) // three announce periods
	for time.Now().Before(deadline) {
		if err := check(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// multicastOnLoopback returns a function sending datagrams to lan's group on
// the loopback interface only.
func multicastOnLoopback(t *testing.T, lan *LANDiscovery) func([]byte) {
	t.Helper()
	s, err := lan.settings()
	if err != nil {
		t.Fatal(err)
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := ipv4.NewPacketConn(c)
	if err := p.SetMulticastInterface(lo); err != nil {
		t.Fatal(err)
	}
	return func(b []byte) {
		_, _ = p.WriteTo(b, &ipv4.ControlMessage{IfIndex: lo.Index, Src: net.IPv4(127, 0, 0, 1)}, s.group)
	}
}

// TestLANHostileDatagrams floods the group of a keyed member with garbage,
// mangled and forged beacons: it keeps running and still finds a member
// of its mesh.
func TestLANHostileDatagrams(t *testing.T) {
	lan := loopbackLAN(t)
	k := meshkey.Generate()
	a := newNode(t, "a", quiet, withLAN(lan), withKeys(ring(t, k)))
	send := multicastOnLoopback(t, lan)
	rng := rand.New(rand.NewPCG(5, 6))
	valid, _ := encodeBeacon(beacon{port: 1, mesh: lan.Mesh, name: "ghost"}, aeads(t, k)[0])
	forged := [][]byte{valid} // a replay: its join fails, rate-limited
	for _, b := range []beacon{{port: 1, mesh: lan.Mesh, name: "plain"}, {scout: true, port: 1, mesh: lan.Mesh, name: "scout"}} {
		plain, _ := encodeBeacon(b, nil)
		other, _ := encodeBeacon(b, aeads(t, meshkey.Generate())[0])
		forged = append(forged, plain, other)
	}
	for i := range 3000 {
		switch i % 4 {
		case 0:
			send(randomBytes(rng, 1500))
		case 1:
			m := bytes.Clone(valid)
			m[rng.IntN(len(m))] ^= byte(1 + rng.IntN(255))
			send(m)
		case 2:
			send(valid[:rng.IntN(len(valid))])
		default:
			send(forged[rng.IntN(len(forged))])
		}
		if i%200 == 199 {
			time.Sleep(5 * time.Millisecond) // stay within socket buffers
		}
	}
	send(make([]byte, 65000))
	b := newNode(t, "b", withLAN(lan), withKeys(ring(t, k)))
	closeAll(t, []*Discovery{a, b})
	waitFor(t, 10*time.Second, "membership after the flood", fullMembership([]*Discovery{a, b}))
	for _, m := range a.Members() {
		if m.Name != "a" && m.Name != "b" {
			t.Fatalf("a lists %s", m.Name)
		}
	}
}
