package discovery

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
)

// LAN discovery defaults.
const (
	// DefaultMesh is the mesh name of LANDiscovery.Mesh "".
	DefaultMesh = "pyros"
	// DefaultLANGroup is the multicast group and port of LANDiscovery.Group
	// "": an address of the IPv4 organisation-local scope 239.255.0.0/16
	// (RFC 2365), and the port after memberlist's usual 7946.
	DefaultLANGroup = "239.255.77.77:7947"
	// DefaultLANInterval is the announce period of LANDiscovery.Interval 0.
	DefaultLANInterval = 5 * time.Second
)

// LANDiscovery configures the discovery of the other members of the same mesh
// on the local network by UDP multicast (Config.LAN), so that a member needs
// no seed address. See the package documentation for what is sent.
type LANDiscovery struct {
	// Mesh names the mesh, at most 255 bytes; "" means DefaultMesh. A
	// member joins only members announcing the same name, so meshes with
	// other names on the same network ignore each other.
	Mesh string

	// Group is the IPv4 multicast group and UDP port ("ip:port") that
	// announcements are sent to and received on; "" means DefaultLANGroup.
	// Every member of the host binds the port (SO_REUSEPORT).
	Group string

	// Interval is the announce period once started; 0 means
	// DefaultLANInterval (5 s), and it must lie between 10 ms and 10 min.
	// A starting member announces at once, then after 250 ms, and doubles
	// the wait up to Interval, so members starting together find each
	// other within a second while a steady mesh sends one small datagram
	// per member and interface every Interval. It is also the time a healed
	// network partition takes to merge at most, plus a join.
	Interval time.Duration

	// Interfaces names the network interfaces to announce on and to listen
	// on. nil means every interface that is up, running, multicast-capable,
	// not a loopback, and has an IPv4 address. Named interfaces need only be
	// up with an IPv4 address, so "lo" keeps everything on the host (tests).
	// The interfaces are scanned again every 10 s, so that interfaces which
	// appear or come up later are used.
	Interfaces []string
}

// Timing and bounds of LAN discovery.
const (
	lanFirstInterval = 250 * time.Millisecond // first announce period, doubling up to Interval
	lanRescanEvery   = 10 * time.Second       // how often interfaces are scanned
	lanAnswerGap     = 500 * time.Millisecond // a scout is answered unless this member announced this recently
	lanJoinGap       = 2 * time.Second        // join attempts per member name at most this often
	lanMaxTracked    = 1024                   // member names whose last join attempt is remembered
	lanJoinQueue     = 16                     // joins waiting for the joiner; further ones are dropped
	lanTTL           = 1                      // multicast hops: the local network only
	minLANInterval   = 10 * time.Millisecond
	maxLANInterval   = 10 * time.Minute
)

// lanSettings is a validated LANDiscovery with its defaults applied.
type lanSettings struct {
	mesh     string
	group    *net.UDPAddr
	interval time.Duration
	names    []string
}

func (c *LANDiscovery) settings() (lanSettings, error) {
	bad := func(format string, args ...any) (lanSettings, error) {
		return lanSettings{}, fmt.Errorf("%w: LAN."+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	s := lanSettings{
		mesh:     cmp.Or(c.Mesh, DefaultMesh),
		interval: cmp.Or(c.Interval, DefaultLANInterval),
		names:    slices.Clone(c.Interfaces),
	}
	if len(s.mesh) > maxMeshNameLen {
		return bad("Mesh is %d bytes, limit %d", len(s.mesh), maxMeshNameLen)
	}
	if s.interval < minLANInterval || s.interval > maxLANInterval {
		return bad("Interval %v not within [%v, %v]", s.interval, minLANInterval, maxLANInterval)
	}
	if slices.Contains(s.names, "") {
		return bad("Interfaces names an empty interface")
	}
	group := cmp.Or(c.Group, DefaultLANGroup)
	host, port, err := net.SplitHostPort(group)
	if err != nil {
		return bad("Group %q: %v", group, err)
	}
	ip := net.ParseIP(host).To4()
	p, err := strconv.Atoi(port)
	if ip == nil || !ip.IsMulticast() || err != nil || p <= 0 || p > 65535 {
		return bad("Group %q is not an IPv4 multicast address and port", group)
	}
	s.group = &net.UDPAddr{IP: ip, Port: p}
	return s, nil
}

// lanParams is what LAN discovery needs from its member.
type lanParams struct {
	settings lanSettings
	self     string
	port     uint16      // the gossip port announced
	bindIP   net.IP      // the gossip bind address; nil when unspecified
	keys     *beaconKeys // nil: an open mesh
	alive    func(name string) bool
	join     func(addr string)
	logger   *slog.Logger
}

// lan announces the member on the group and joins the members it hears of.
// Its three goroutines (receive, announce, join) are started by its member,
// which waits for them; shutdown makes them return.
type lan struct {
	lanParams
	conn     *ipv4.PacketConn
	ifaces   atomic.Pointer[lanIfaces] // written by the announce loop
	limiter  joinLimiter               // used by the receive loop only
	answer   chan struct{}             // a scout asks for an announce
	joins    chan string               // addresses to join
	stop     chan struct{}
	stopOnce sync.Once
	lastSent time.Time // announce loop only
}

// newLAN binds the group port. Nothing is sent before the loops start.
func newLAN(p lanParams) (*lan, error) {
	lc := net.ListenConfig{Control: reuseGroupPort}
	addr := net.JoinHostPort("0.0.0.0", strconv.Itoa(p.settings.group.Port))
	c, err := lc.ListenPacket(context.Background(), "udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("discovery: LAN discovery: %w", err)
	}
	l := &lan{
		lanParams: p,
		conn:      ipv4.NewPacketConn(c),
		limiter:   joinLimiter{gap: lanJoinGap, max: lanMaxTracked},
		answer:    make(chan struct{}, 1),
		joins:     make(chan string, lanJoinQueue),
		stop:      make(chan struct{}),
	}
	l.ifaces.Store(&lanIfaces{})
	// Control messages tell on which interface and to which address a
	// datagram came; without them (unsupported platform) nothing is
	// filtered by interface.
	_ = l.conn.SetControlMessage(ipv4.FlagInterface|ipv4.FlagDst, true)
	for _, err := range []error{l.conn.SetMulticastTTL(lanTTL), l.conn.SetMulticastLoopback(true)} {
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("discovery: LAN discovery: %w", err)
		}
	}
	return l, nil
}

// start runs the loops with goFunc, which their member waits for.
func (l *lan) start(goFunc func(func()) bool) {
	goFunc(l.receiveLoop)
	goFunc(l.announceLoop)
	goFunc(l.joinLoop)
}

// shutdown stops the loops and closes the socket (which leaves the group).
// A join in progress ends when memberlist's transport shuts down.
func (l *lan) shutdown() {
	l.stopOnce.Do(func() {
		close(l.stop)
		_ = l.conn.Close()
	})
}

func (l *lan) receiveLoop() {
	buf := make([]byte, maxBeaconSize+1) // one more: oversized datagrams fail to decode
	for {
		n, cm, src, err := l.conn.ReadFrom(buf)
		if err != nil {
			select {
			case <-l.stop:
				return
			case <-time.After(100 * time.Millisecond): // no busy loop on a persistent error
			}
			l.logger.Debug("read failed", "err", err)
			continue
		}
		l.receive(buf[:n], cm, src, time.Now())
	}
}

// receive handles one datagram.
func (l *lan) receive(pkt []byte, cm *ipv4.ControlMessage, src net.Addr, now time.Time) {
	if cm != nil {
		if _, ok := (*l.ifaces.Load())[cm.IfIndex]; !ok {
			return // on an interface not in use
		}
		if cm.Dst != nil && !cm.Dst.Equal(l.settings.group.IP) {
			return // unicast to the port
		}
	}
	from, ok := src.(*net.UDPAddr)
	if !ok {
		return
	}
	b, err := decodeBeacon(pkt, l.keys.current())
	if err != nil {
		l.logger.Debug("ignored datagram", "from", src, "err", err)
		return
	}
	if b.mesh != l.settings.mesh || b.name == l.self {
		return
	}
	if b.scout {
		select {
		case l.answer <- struct{}{}:
		default:
		}
	}
	addr, ok := l.decide(b, from.IP, now)
	if !ok {
		return
	}
	select {
	case l.joins <- addr:
		l.logger.Debug("heard of a member", "name", b.name, "addr", addr)
	default:
		l.logger.Debug("join queue full", "name", b.name, "addr", addr)
	}
}

// decide returns the address to join for a beacon of this mesh from another
// member: none while that member is alive here, nor when its last join
// attempt was less than lanJoinGap ago.
func (l *lan) decide(b beacon, ip net.IP, now time.Time) (string, bool) {
	ip = ip.To4()
	if ip == nil || ip.IsUnspecified() || ip.IsMulticast() || l.alive(b.name) {
		return "", false
	}
	if !l.limiter.allow(b.name, now) {
		return "", false
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(int(b.port))), true
}

func (l *lan) announceLoop() {
	l.rescan()
	l.announce(true)
	sched := announceSchedule{next: min(lanFirstInterval, l.settings.interval), max: l.settings.interval}
	timer := time.NewTimer(sched.advance())
	defer timer.Stop()
	rescan := time.NewTicker(lanRescanEvery)
	defer rescan.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-rescan.C:
			l.rescan()
		case <-timer.C:
			l.announce(false)
			timer.Reset(sched.advance())
		case <-l.answer:
			if time.Since(l.lastSent) >= lanAnswerGap {
				l.announce(false)
			}
		}
	}
}

// announce multicasts the member's beacon on every interface in use, each
// time with the interface chosen explicitly, so that nothing is ever routed
// elsewhere.
func (l *lan) announce(scout bool) {
	pkt, err := encodeBeacon(beacon{scout: scout, port: l.port, mesh: l.settings.mesh, name: l.self}, l.keys.primary())
	if err != nil {
		l.logger.Error("cannot build beacon", "err", err)
		return
	}
	for _, i := range l.ifaces.Load().sorted() {
		if err := l.conn.SetMulticastInterface(&i.ifi); err != nil {
			l.logger.Debug("cannot select interface", "interface", i.ifi.Name, "err", err)
			continue
		}
		cm := &ipv4.ControlMessage{IfIndex: i.ifi.Index, Src: i.src}
		if _, err := l.conn.WriteTo(pkt, cm, l.settings.group); err != nil {
			l.logger.Debug("announce failed", "interface", i.ifi.Name, "err", err)
		}
	}
	l.lastSent = time.Now()
}

func (l *lan) joinLoop() {
	for {
		select {
		case <-l.stop:
			return
		case addr := <-l.joins:
			l.join(addr)
		}
	}
}

// announceSchedule yields announce periods: from next, doubling up to max,
// each with up to 10% of random jitter so that members started together do
// not stay in step.
type announceSchedule struct {
	next, max time.Duration
}

func (s *announceSchedule) advance() time.Duration {
	d := s.next
	s.next = min(2*s.next, s.max)
	return jitter(d, 10)
}

// joinLimiter allows one join attempt per member name per gap. It
// remembers at most max names; when full it forgets those tried more than
// gap ago and refuses new names until some are.
type joinLimiter struct {
	gap  time.Duration
	max  int
	last map[string]time.Time
}

func (l *joinLimiter) allow(name string, now time.Time) bool {
	if l.last == nil {
		l.last = make(map[string]time.Time)
	}
	t, seen := l.last[name]
	if seen && now.Sub(t) < l.gap {
		return false
	}
	if !seen && len(l.last) >= l.max {
		for n, t := range l.last {
			if now.Sub(t) >= l.gap {
				delete(l.last, n)
			}
		}
		if len(l.last) >= l.max {
			return false
		}
	}
	l.last[name] = now
	return true
}

// jitter returns d moved randomly by up to pct percent either way.
func jitter(d time.Duration, pct int64) time.Duration {
	span := int64(d) * pct / 100
	if span <= 0 {
		return d
	}
	return d + time.Duration(rand.Int64N(2*span+1)-span)
}
