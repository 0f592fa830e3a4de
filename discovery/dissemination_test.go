package discovery

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// TestDisseminationReachesAll checks that a state change of one member
// reaches every member of a 10-member mesh through gossip relays and fetches
// alone: push/pull anti-entropy is pushed out of the test's time frame, and
// memberlist by itself delivers a user broadcast only to the owner's direct
// gossip targets.
func TestDisseminationReachesAll(t *testing.T) {
	const n = 10
	noAntiEntropy := func(c *Config) {
		c.Memberlist.PushPullInterval = time.Hour
	}
	nodes := make([]*Discovery, n)
	for i := range nodes {
		name := fmt.Sprintf("n%d", i)
		nodes[i] = newNode(t, name, noAntiEntropy, withState([]byte("init-"+name)))
	}
	closeAll(t, nodes)
	// A chain: each member joins the previous one.
	for i := 1; i < n; i++ {
		if _, err := nodes[i].Join(t.Context(), []string{nodes[i-1].LocalAddr()}); err != nil {
			t.Fatal(err)
		}
	}
	took := waitFor(t, 30*time.Second, "membership", fullMembership(nodes)) // generous: a loaded 2-core machine flaps with these timers
	t.Logf("10 members in a chain see each other after %v", took)
	start := time.Now()
	for _, d := range nodes {
		waitFor(t, 10*time.Second, "initial state of "+d.name, stateEverywhere(nodes, d.name, []byte("init-"+d.name)))
	}
	t.Logf("initial documents known everywhere %v later", time.Since(start))

	relayedBefore := relayedTotal(nodes)
	for round, owner := range []*Discovery{nodes[0], nodes[5], nodes[9]} {
		doc := []byte(fmt.Sprintf("small-%s-%d", owner.name, round))
		owner.SetState(doc)
		took := waitFor(t, 10*time.Second, "small update", stateEverywhere(nodes, owner.name, doc))
		t.Logf("small (%d B) update of %s reached all %d members in %v", len(doc), owner.name, n, took)
	}
	if relayedTotal(nodes) == relayedBefore {
		t.Fatal("no member relayed a state broadcast")
	}

	for _, owner := range []*Discovery{nodes[3], nodes[9]} {
		doc := catalog(60<<10, owner.name)
		owner.SetState(doc)
		took := waitFor(t, 10*time.Second, "60 KiB update", stateEverywhere(nodes, owner.name, doc))
		t.Logf("60 KiB update (%d services) of %s reached all %d members in %v",
			bytes.Count(doc, []byte("\n")), owner.name, n, took)
	}

	// Two owners changing at once, repeatedly: everyone ends with the
	// last version of each.
	var last [2][]byte
	for i := range 5 {
		last[0] = catalog(2<<10+i, "burst-a")
		last[1] = catalog(80<<10+i, "burst-b")
		nodes[1].SetState(last[0])
		nodes[8].SetState(last[1])
	}
	took = waitFor(t, 10*time.Second, "burst", func() error {
		if err := stateEverywhere(nodes, "n1", last[0])(); err != nil {
			return err
		}
		return stateEverywhere(nodes, "n8", last[1])()
	})
	t.Logf("bursts of 5 updates by two members settled everywhere in %v", took)
}

func relayedTotal(nodes []*Discovery) uint64 {
	var sum uint64
	for _, d := range nodes {
		sum += d.table.relayed.Load()
	}
	return sum
}
