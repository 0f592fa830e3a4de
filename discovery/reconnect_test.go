package discovery

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// cutOff makes the members of each side drop everything they would send
// to the other side.
func cutOff(left, right []*Discovery) {
	addrs := func(ds []*Discovery) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.LocalAddr())
		}
		return out
	}
	for _, side := range [][2][]*Discovery{{left, right}, {right, left}} {
		far := addrs(side[1])
		cut := func(addr string) bool { return slices.Contains(far, addr) }
		for _, d := range side[0] {
			d.transport.cut.Store(&cut)
		}
	}
}

func heal(nodes []*Discovery) {
	for _, d := range nodes {
		d.transport.cut.Store(nil)
	}
}

// TestPartitionHeals splits four members two against two until each side
// has declared the other dead and stopped gossiping to it, then heals the
// network: the members must find each other again with no seed, which
// only the reconnection to failed members provides.
func TestPartitionHeals(t *testing.T) {
	deadSoon := func(c *Config) { c.Memberlist.GossipToTheDeadTime = 500 * time.Millisecond }
	var nodes []*Discovery
	for i := range 4 {
		nodes = append(nodes, newNode(t, fmt.Sprintf("n%d", i), deadSoon))
	}
	joinAll(t, nodes)
	waitFor(t, 10*time.Second, "membership", fullMembership(nodes))
	left, right := nodes[:2], nodes[2:]
	cutOff(left, right)
	waitFor(t, 15*time.Second, "each side alone", func() error {
		for _, d := range nodes {
			if n := len(d.Members()); n != 2 {
				return fmt.Errorf("%s sees %d members", d.name, n)
			}
		}
		return nil
	})
	time.Sleep(time.Second) // past GossipToTheDeadTime: gossip alone no longer reaches the other side
	heal(nodes)
	took := waitFor(t, 20*time.Second, "membership after the heal", fullMembership(nodes))
	t.Logf("the partition healed %v after the network did", took.Round(time.Millisecond))
}

func TestFailuresPickAndExpire(t *testing.T) {
	var f failures
	now := time.Now()
	f.add("a", "1.2.3.4:5", now.Add(-2*reconnectFor))
	if _, ok := f.pick(now); ok {
		t.Fatal("an expired failure was picked")
	}
	f.add("b", "1.2.3.4:6", now)
	if addr, ok := f.pick(now); !ok || addr != "1.2.3.4:6" {
		t.Fatalf("pick: %q %v", addr, ok)
	}
	f.remove("b")
	if _, ok := f.pick(now); ok {
		t.Fatal("a member that rejoined was picked")
	}
}
