package discovery

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/fault"
)

// faultyNodes starts members named n0, n1, ... with an Injector each.
func faultyNodes(t *testing.T, n int, opts ...func(*Config)) ([]*Discovery, []*fault.Injector) {
	var nodes []*Discovery
	var faults []*fault.Injector
	for i := range n {
		name := fmt.Sprintf("n%d", i)
		f := fault.New(name, testLogger(t, slog.LevelWarn))
		withFaults := func(c *Config) { c.Faults = f }
		nodes = append(nodes, newNode(t, name, append(opts, withFaults)...))
		faults = append(faults, f)
	}
	return nodes, faults
}

// partition sets the same fault partition on every member, as the command
// line does on every peer.
func partition(t *testing.T, faults []*fault.Injector, groups ...[]*Discovery) {
	t.Helper()
	var r fault.Rules
	for _, g := range groups {
		var names []string
		for _, d := range g {
			names = append(names, d.name)
		}
		r.Partition = append(r.Partition, names)
	}
	for _, f := range faults {
		if err := f.Set(r); err != nil {
			t.Fatal(err)
		}
	}
}

// seesOnly holds when each member of each group sees exactly its group.
func seesOnly(groups ...[]*Discovery) func() error {
	return func() error {
		for _, g := range groups {
			var want []string
			for _, d := range g {
				want = append(want, d.name)
			}
			slices.Sort(want)
			for _, d := range g {
				var got []string
				for _, m := range d.Members() {
					got = append(got, m.Name)
				}
				if !slices.Equal(got, want) {
					return fmt.Errorf("%s sees %v, want %v", d.name, got, want)
				}
			}
		}
		return nil
	}
}

// TestPartitionHeals splits four members two against two with the same
// fault partition on all, until each side has declared the other dead and
// stopped gossiping to it, then heals the partition: the members must find
// each other again with no seed, which only the reconnection to failed
// members provides. Meanwhile the reconnection attempts must not cross
// the partition.
func TestPartitionHeals(t *testing.T) {
	deadSoon := func(c *Config) { c.Memberlist.GossipToTheDeadTime = 500 * time.Millisecond }
	nodes, faults := faultyNodes(t, 4, deadSoon)
	joinAll(t, nodes)
	waitFor(t, 10*time.Second, "membership", fullMembership(nodes))
	left, right := nodes[:2], nodes[2:]
	partition(t, faults, left, right)
	waitFor(t, 15*time.Second, "each side alone", seesOnly(left, right))
	time.Sleep(time.Second) // past GossipToTheDeadTime: gossip alone no longer reaches the other side
	if err := seesOnly(left, right)(); err != nil {
		t.Fatalf("the partition leaked: %v", err)
	}
	for _, f := range faults {
		f.Heal()
	}
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
