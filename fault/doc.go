// Package fault injects network faults into a peer's own traffic, so that
// fault-tolerance experiments run on a live mesh without root, tc/netem or
// iptables: partitions, added delay and random loss, applied inside the
// peer's links (package mesh), gossip (package discovery) and raft traffic
// (package consensus).
//
// Each peer holds one Injector and hands it to its layers; Set changes the
// rules of the running peer. The rules act on what the peer itself sends
// (Delay, Drop) and on whom it talks to (Partition): a partition is whole
// only when every peer applies it, so set the same Partition on every peer
// of the experiment. A layer that cannot tell who is on the other end (an
// inbound gossip stream comes from an ephemeral port) relies on that
// symmetry: the other side refuses to open it.
//
//	f := fault.New("a", logger)
//	mesh.Listen(mesh.Config{Name: "a", Faults: f /* ... */})
//	discovery.New(discovery.Config{Name: "a", Faults: f /* ... */})
//
//	// on every peer: {a, b} and {c, d} no longer exchange anything
//	err := f.Set(fault.Rules{Partition: [][]string{{"a", "b"}, {"c", "d"}}})
//	// this peer's messages wait 50 ms and one in ten is lost
//	err = f.Set(fault.Rules{Delay: 50 * time.Millisecond, Drop: 0.1})
//	f.Heal() // no fault any more
//
// A nil *Injector injects nothing, so layers call it unconditionally; with
// no rules set, each check is an atomic load.
package fault
