package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"
)

func TestBindPortZeroAndLocalAddr(t *testing.T) {
	d := newNode(t, "solo")
	host, port, err := net.SplitHostPort(d.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := strconv.Atoi(port); host != "127.0.0.1" || p == 0 {
		t.Fatalf("LocalAddr = %s, want 127.0.0.1 and a real port", d.LocalAddr())
	}
	// Both UDP and TCP listen on the reported port.
	c, err := net.Dial("tcp", d.LocalAddr())
	if err != nil {
		t.Fatalf("tcp: %v", err)
	}
	c.Close()
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: mustPort(t, d)})
	if err == nil {
		u.Close()
		t.Fatal("UDP port not bound by the member")
	}
	ms := d.Members()
	if len(ms) != 1 || ms[0].Name != "solo" || ms[0].Addr != d.LocalAddr() || string(ms[0].Meta) != "meta-solo" {
		t.Fatalf("Members() = %+v", ms)
	}
}

func mustPort(t *testing.T, d *Discovery) int {
	_, p, _ := net.SplitHostPort(d.LocalAddr())
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestThreeMembers(t *testing.T) {
	nodes := []*Discovery{
		newNode(t, "a", withState([]byte("catalog-a"))),
		newNode(t, "b", withState([]byte("catalog-b"))),
		newNode(t, "c"),
	}
	nodes[2].SetState([]byte("catalog-c"))
	joinAll(t, nodes)
	waitFor(t, 10*time.Second, "membership", fullMembership(nodes))
	for _, n := range nodes {
		waitFor(t, 10*time.Second, "initial state of "+n.name, stateEverywhere(nodes, n.name, []byte("catalog-"+n.name)))
	}
	for _, n := range nodes {
		for _, m := range n.Members() {
			if want := "meta-" + m.Name; string(m.Meta) != want {
				t.Fatalf("%s sees meta %q for %s, want %q", n.name, m.Meta, m.Name, want)
			}
		}
	}
	nodes[0].SetState([]byte("catalog-a-v2"))
	took := waitFor(t, 10*time.Second, "update of a", stateEverywhere(nodes, "a", []byte("catalog-a-v2")))
	t.Logf("small update reached 3 members in %v", took)
	if m, _ := nodes[1].Member("a"); m.StateVersion != 2 {
		t.Fatalf("version of a = %d, want 2", m.StateVersion)
	}
	big := catalog(60<<10, "a")
	nodes[0].SetState(big)
	took = waitFor(t, 10*time.Second, "60 KiB update of a", stateEverywhere(nodes, "a", big))
	t.Logf("60 KiB update reached 3 members in %v", took)
}

func TestLateJoiner(t *testing.T) {
	var nodes []*Discovery
	for i := range 3 {
		name := fmt.Sprintf("early-%d", i)
		nodes = append(nodes, newNode(t, name, withState(catalog(2<<10+i*20<<10, name))))
	}
	joinAll(t, nodes)
	waitFor(t, 10*time.Second, "membership", fullMembership(nodes))

	late := newNode(t, "late", withState(catalog(30<<10, "late")))
	start := time.Now()
	if _, err := late.Join(t.Context(), []string{nodes[1].LocalAddr()}); err != nil {
		t.Fatal(err)
	}
	all := append(nodes, late)
	for _, n := range all {
		m, _ := n.Member(n.name)
		waitFor(t, 10*time.Second, "state of "+n.name, stateEverywhere(all, n.name, m.State))
	}
	t.Logf("late joiner and 3 members exchanged all documents in %v", time.Since(start))
}

func TestLeaveAndFail(t *testing.T) {
	nodes := []*Discovery{newNode(t, "a"), newNode(t, "b"), newNode(t, "c"), newNode(t, "d")}
	logs := make([]*eventLog, len(nodes))
	for i, n := range nodes {
		logs[i] = watch(n)
	}
	joinAll(t, nodes)
	waitFor(t, 10*time.Second, "membership", fullMembership(nodes))
	nodes[3].SetState([]byte("doc-d"))
	waitFor(t, 10*time.Second, "state of d", stateEverywhere(nodes, "d", []byte("doc-d")))

	closeStart := time.Now()
	if err := nodes[3].Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if took := time.Since(closeStart); took > 3*time.Second {
		t.Fatalf("Close took %v", took)
	} else {
		t.Logf("graceful Close took %v", took)
	}
	if err := nodes[3].Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	rest := nodes[:3]
	waitFor(t, 10*time.Second, "leave of d", func() error {
		for i, n := range rest {
			if err := logs[i].find(EventLeave, "d"); err != nil {
				return fmt.Errorf("%s: %w", n.name, err)
			}
			if _, ok := n.Member("d"); ok {
				return fmt.Errorf("%s still lists d", n.name)
			}
		}
		return nil
	})

	nodes[2].crash()
	survivors := nodes[:2]
	took := waitFor(t, 10*time.Second, "failure of c", func() error {
		for i, n := range survivors {
			if err := logs[i].find(EventFail, "c"); err != nil {
				return fmt.Errorf("%s: %w", n.name, err)
			}
			if _, ok := n.Member("c"); ok {
				return fmt.Errorf("%s still lists c", n.name)
			}
		}
		return nil
	})
	t.Logf("crash of c detected by all survivors in %v", took)
	for i := range survivors {
		if logs[i].count(EventLeave, "c") != 0 {
			t.Fatal("crash reported as a graceful leave")
		}
	}
	// The survivors still replicate.
	survivors[0].SetState([]byte("after"))
	waitFor(t, 10*time.Second, "state after failure", stateEverywhere(survivors, "a", []byte("after")))
}

func TestEventsOrderAndClose(t *testing.T) {
	a := newNode(t, "a")
	ev := <-a.Events()
	if ev.Type != EventJoin || ev.Member.Name != "a" {
		t.Fatalf("first event = %v %s, want join of a", ev.Type, ev.Member.Name)
	}
	a.SetState([]byte("x"))
	ev = <-a.Events()
	if ev.Type != EventUpdate || string(ev.Member.State) != "x" || ev.Member.StateVersion != 1 {
		t.Fatalf("event = %v %+v, want update to x", ev.Type, ev.Member)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(2 * time.Second)
	for {
		select {
		case _, ok := <-a.Events():
			if !ok {
				if err := a.UpdateState(nil); !errors.Is(err, ErrClosed) {
					t.Fatalf("UpdateState after Close: %v", err)
				}
				if _, err := a.Join(t.Context(), []string{"127.0.0.1:1"}); !errors.Is(err, ErrClosed) {
					t.Fatalf("Join after Close: %v", err)
				}
				return
			}
		case <-deadline:
			t.Fatal("Events not closed by Close")
		}
	}
}

func TestJoinErrorsAndSeedRetry(t *testing.T) {
	// A port with nothing listening: reserve one, then free it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()

	a := newNode(t, "a")
	if _, err := a.Join(t.Context(), []string{dead}); !errors.Is(err, ErrJoinFailed) {
		t.Fatalf("Join(dead) = %v, want ErrJoinFailed", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := a.Join(ctx, []string{dead}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Join(cancelled) = %v", err)
	}
	if err := a.UpdateState(make([]byte, MaxStateSize+1)); !errors.Is(err, ErrStateTooLarge) {
		t.Fatalf("UpdateState(oversized) = %v", err)
	}

	// A member whose seed is down starts anyway and joins once the seed
	// comes up: b seeds from an address where c starts later.
	seedPort := freePort(t)
	seed := net.JoinHostPort("127.0.0.1", strconv.Itoa(seedPort))
	b := newNode(t, "b", withJoin(dead, seed))
	waitFor(t, 5*time.Second, "b failing to reach its seeds", func() error {
		if b.seedRounds.Load() < 2 {
			return errors.New("fewer than two rounds over the seeds")
		}
		return nil
	})
	if n := len(b.Members()); n != 1 {
		t.Fatalf("b has %d members before its seed is up", n)
	}
	c := newNode(t, "c", func(c *Config) { c.BindPort = seedPort })
	took := waitFor(t, 15*time.Second, "b joins c", fullMembership([]*Discovery{b, c}))
	t.Logf("b reached its seed %v after the seed started", took)
}

// freePort returns a port the OS just handed out for both TCP and UDP on
// 127.0.0.1, released for the caller to bind.
func freePort(t *testing.T) int {
	t.Helper()
	for range 10 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}
