package discovery

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/pyros-mesh/pyros/fault"
)

// Fault injection (Config.Faults) in the transport: packets to and from
// members a fault partition separates from this one are lost, and so are
// stream dials to them; packets this member sends are lost with the drop
// probability and held back by the delay. Inbound streams come from
// ephemeral ports and are not filtered: the other side, applying the same
// partition, does not open them.

// maxDelayed bounds the packets held back by a fault delay; beyond it
// packets are lost, as in a full router queue.
const maxDelayed = 1024

// addrNames maps gossip addresses to member names. Unlike memberlist's
// node list it remembers members after they failed, so that the two sides
// of a fault partition keep refusing each other's reconnections.
type addrNames struct {
	mu sync.Mutex
	m  map[string]string // "ip:port" -> member name
}

func (n *addrNames) learn(name, addr string) {
	if name == "" || addr == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m[addr] == name {
		return
	}
	if n.m == nil || len(n.m) >= 4*MaxMembers {
		n.m = make(map[string]string)
	}
	n.m[addr] = name
}

func (n *addrNames) name(addr string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.m[addr]
}

// learn records the member at a, when memberlist names it; no-op without
// fault injection.
func (g *guardedTransport) learn(name, addr string) {
	if g.faults != nil {
		g.names.learn(name, addr)
	}
}

// blocked reports whether a fault partition separates this member from
// the one at a.
func (g *guardedTransport) blocked(a memberlist.Address) bool {
	if a.Name == "" {
		return g.faults.Blocked(g.names.name(a.Addr))
	}
	g.names.learn(a.Name, a.Addr)
	return g.faults.Blocked(a.Name)
}

// fromBlocked reports whether a packet from addr comes from a member a
// fault partition separates from this one.
func (g *guardedTransport) fromBlocked(from net.Addr) bool {
	return g.faults != nil && from != nil && g.faults.Blocked(g.names.name(from.String()))
}

// faultyWrite sends a packet under the fault rules.
func (g *guardedTransport) faultyWrite(b []byte, a memberlist.Address) (time.Time, error) {
	now := time.Now()
	if g.blocked(a) || g.faults.Drop() {
		return now, nil // lost on the way
	}
	if d := g.faults.Delay(); d > 0 {
		g.delayed.put(b, a, now.Add(d))
		return now, nil
	}
	return g.inner.WriteToAddress(b, a)
}

// faultyDial applies the fault rules to a stream dial: refused across a
// partition, else held back by the delay (within timeout). It returns the
// time left to dial.
func (g *guardedTransport) faultyDial(a memberlist.Address, timeout time.Duration) (time.Duration, error) {
	if g.blocked(a) {
		return 0, fmt.Errorf("discovery: dial %s %s: %w", a.Name, a.Addr, fault.ErrPartitioned)
	}
	d := min(g.faults.Delay(), timeout)
	if d <= 0 {
		return timeout, nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return timeout - d, nil
	case <-g.ctx.Done():
		return 0, errTransportDown
	}
}

// delayLine holds packets back until they are due and sends them, in the
// order they were written, from one goroutine.
type delayLine struct {
	mu   sync.Mutex
	q    []delayedPacket // in due order (FIFO)
	wake chan struct{}
	send func([]byte, memberlist.Address)
}

type delayedPacket struct {
	b   []byte
	to  memberlist.Address
	due time.Time
}

func newDelayLine(send func([]byte, memberlist.Address)) *delayLine {
	return &delayLine{wake: make(chan struct{}, 1), send: send}
}

// put queues a copy of b for due; when maxDelayed packets wait, b is lost.
func (d *delayLine) put(b []byte, to memberlist.Address, due time.Time) {
	d.mu.Lock()
	if len(d.q) >= maxDelayed {
		d.mu.Unlock()
		return
	}
	d.q = append(d.q, delayedPacket{b: append([]byte(nil), b...), to: to, due: due})
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// next pops the first packet if it is due, else returns how long until it
// is (0 when nothing waits).
func (d *delayLine) next(now time.Time) (delayedPacket, time.Duration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.q) == 0 {
		return delayedPacket{}, 0, false
	}
	if wait := d.q[0].due.Sub(now); wait > 0 {
		return delayedPacket{}, wait, false
	}
	p := d.q[0]
	d.q[0] = delayedPacket{}
	d.q = d.q[1:]
	return p, 0, true
}

// run sends packets as they fall due until stop is closed; those still
// waiting then are lost.
func (d *delayLine) run(stop <-chan struct{}) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		p, wait, ok := d.next(time.Now())
		if ok {
			d.send(p.b, p.to)
			continue
		}
		var due <-chan time.Time
		if wait > 0 {
			t.Reset(wait)
			due = t.C
		}
		select {
		case <-stop:
			return
		case <-d.wake:
		case <-due:
		}
	}
}
