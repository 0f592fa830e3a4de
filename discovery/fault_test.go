package discovery

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/pyros-mesh/pyros/fault"
)

// newFaultyTransport binds a transport on loopback with an Injector named
// name, shut down when the test ends.
func newFaultyTransport(t *testing.T, name string) (*guardedTransport, *fault.Injector, string) {
	t.Helper()
	f := fault.New(name, testLogger(t, testLogLevel()))
	g, err := newGuardedTransport(transportConfig{
		bindAddr:  "127.0.0.1",
		timeout:   time.Second,
		logger:    testLogger(t, testLogLevel()),
		stdLogger: log.New(io.Discard, "", 0),
		faults:    f,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Shutdown() })
	return g, f, fmt.Sprintf("127.0.0.1:%d", g.port())
}

// packet is a datagram the screener passes: a one-byte command and an id.
func packet(id byte) []byte { return []byte{mlPing, id} }

// nextPacket returns the id of the next packet g delivers.
func nextPacket(t *testing.T, g *guardedTransport) byte {
	t.Helper()
	select {
	case p := <-g.PacketCh():
		return p.Buf[1]
	case <-time.After(5 * time.Second):
		t.Fatal("no packet within 5 s")
		return 0
	}
}

// sendPlain sends a packet from a socket no fault rule names.
func sendPlain(t *testing.T, to string, id byte) {
	t.Helper()
	c, err := net.Dial("udp", to)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(packet(id)); err != nil {
		t.Fatal(err)
	}
}

// Packets this member sends are lost with Drop, held back by Delay in
// order, and lost toward a member the partition separates it from.
func TestFaultTransportOutgoing(t *testing.T) {
	a, fa, _ := newFaultyTransport(t, "a")
	b, _, bAddr := newFaultyTransport(t, "b")
	toB := memberlist.Address{Addr: bAddr, Name: "b"}

	fa.Set(fault.Rules{Drop: 1})
	for range 20 {
		a.WriteToAddress(packet(1), toB)
	}
	fa.Set(fault.Rules{Partition: [][]string{{"a"}, {"b"}}})
	a.WriteToAddress(packet(2), toB)
	a.WriteTo(packet(3), bAddr) // by address only: the name was learnt
	fa.Heal()
	a.WriteTo(packet(4), bAddr)
	if id := nextPacket(t, b); id != 4 {
		t.Fatalf("packet %d got through", id)
	}

	const delay = 100 * time.Millisecond
	fa.Set(fault.Rules{Delay: delay})
	start := time.Now()
	for id := range byte(10) {
		a.WriteTo(packet(id), bAddr)
	}
	for want := range byte(10) {
		if id := nextPacket(t, b); id != want {
			t.Fatalf("delayed packets out of order: %d, want %d", id, want)
		}
	}
	if took := time.Since(start); took < delay {
		t.Fatalf("delayed packets arrived in %v, before the delay of %v", took, delay)
	}
}

// Packets from a member the partition separates from this one are lost,
// and streams to it are refused.
func TestFaultTransportPartition(t *testing.T) {
	a, _, aAddr := newFaultyTransport(t, "a")
	b, fb, bAddr := newFaultyTransport(t, "b")
	b.learn("a", aAddr) // as memberlist's join event would tell it
	fb.Set(fault.Rules{Partition: [][]string{{"a"}, {"b"}}})
	a.WriteTo(packet(1), bAddr)
	sendPlain(t, bAddr, 2) // from an address nobody named: unaffected
	if id := nextPacket(t, b); id != 2 {
		t.Fatalf("packet %d from a partitioned member got through", id)
	}
	_, err := b.DialAddressTimeout(memberlist.Address{Addr: aAddr}, time.Second)
	if !errors.Is(err, fault.ErrPartitioned) {
		t.Fatalf("dial across the partition: %v", err)
	}
	fb.Heal()
	c, err := b.DialAddressTimeout(memberlist.Address{Addr: aAddr}, time.Second)
	if err != nil {
		t.Fatalf("dial after the heal: %v", err)
	}
	c.Close()
	a.WriteTo(packet(3), bAddr)
	if id := nextPacket(t, b); id != 3 {
		t.Fatalf("got packet %d after the heal, want 3", id)
	}
}

func TestDelayLineBounded(t *testing.T) {
	d := newDelayLine(func([]byte, memberlist.Address) {})
	far := time.Now().Add(time.Hour)
	for i := range maxDelayed + 10 {
		d.put(packet(byte(i)), memberlist.Address{}, far)
	}
	if len(d.q) != maxDelayed {
		t.Fatalf("%d packets held back, limit %d", len(d.q), maxDelayed)
	}
	if _, wait, ok := d.next(time.Now()); ok || wait <= 0 {
		t.Fatal("a packet left before it was due")
	}
	p, _, ok := d.next(far)
	if !ok || p.b[1] != 0 {
		t.Fatal("the first packet did not leave first once due")
	}
}
