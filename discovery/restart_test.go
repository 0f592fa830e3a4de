package discovery

import (
	"fmt"
	"testing"
	"time"
)

// TestRestartedMemberSupersedesOldState checks incarnations end to end: a
// member that crashed after reaching version 5 comes back under the same
// name on a new port, starting again at version 1; its new document must
// win everywhere, and the old one must never reappear.
func TestRestartedMemberSupersedesOldState(t *testing.T) {
	a, c := newNode(t, "a"), newNode(t, "c")
	b := newNode(t, "b")
	logA := watch(a)
	nodes := []*Discovery{a, b, c}
	joinAll(t, nodes)
	waitFor(t, 10*time.Second, "membership", fullMembership(nodes))
	for i := 1; i <= 5; i++ {
		b.SetState([]byte(fmt.Sprintf("old-%d", i)))
	}
	waitFor(t, 10*time.Second, "old state", stateEverywhere(nodes, "b", []byte("old-5")))

	b.crash()
	waitFor(t, 10*time.Second, "failure of b", func() error { return logA.find(EventFail, "b") })

	reborn := newNode(t, "b", withState([]byte("reborn")))
	if _, err := reborn.Join(t.Context(), []string{c.LocalAddr()}); err != nil {
		t.Fatal(err)
	}
	nodes = []*Discovery{a, reborn, c}
	took := waitFor(t, 15*time.Second, "restarted member's state", stateEverywhere(nodes, "b", []byte("reborn")))
	t.Logf("restarted member's version-1 document replaced version 5 everywhere in %v", took)
	if m, _ := a.Member("b"); m.StateVersion != 1 || m.Addr != reborn.LocalAddr() {
		t.Fatalf("a sees b as %+v", m)
	}
	// Anti-entropy rounds do not resurrect the old document.
	deadline := time.Now().Add(2500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if err := stateEverywhere(nodes, "b", []byte("reborn"))(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStreamVariants runs replication over memberlist streams that are not
// compressed, and over labelled ones.
func TestStreamVariants(t *testing.T) {
	for name, opt := range map[string]func(*Config){
		"uncompressed": func(c *Config) { c.Memberlist.EnableCompression = false },
		"labelled":     func(c *Config) { c.Memberlist.Label = "pyros-test" },
	} {
		t.Run(name, func(t *testing.T) {
			a := newNode(t, "a", opt, withState(catalog(30<<10, "a")))
			b := newNode(t, "b", opt, withState(catalog(30<<10, "b")))
			nodes := []*Discovery{a, b}
			joinAll(t, nodes)
			waitFor(t, 10*time.Second, "membership", fullMembership(nodes))
			waitFor(t, 10*time.Second, "state of a", stateEverywhere(nodes, "a", catalog(30<<10, "a")))
			waitFor(t, 10*time.Second, "state of b", stateEverywhere(nodes, "b", catalog(30<<10, "b")))
			if n := a.transport.droppedStreams.Load() + b.transport.droppedStreams.Load(); n != 0 {
				t.Fatalf("%d legitimate streams rejected", n)
			}
		})
	}
}
