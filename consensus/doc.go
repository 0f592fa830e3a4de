// Package consensus is pyros's shared state: a key/value store replicated by
// raft (github.com/hashicorp/raft) among the peers that hold a data
// directory, the state servers.
//
// What it replicates is a small, revisioned store in the style of etcd:
//   - every change gets the next store revision; an entry remembers the
//     revision that created it and the one that last changed it, so a
//     compare-and-swap names the revision it expects;
//   - keys may belong to a session (a peer's incarnation) and vanish when the
//     session ends, which is how locks and presence work;
//   - recent changes are kept as ordered events, so a watch can resume from a
//     revision on any server;
//   - each client session numbers its writes, and the store remembers the
//     results of those it has not yet seen acknowledged, so a write retried
//     after a leader change runs once.
//
// A Server runs raft with a durable store in its data directory and looks
// after its own membership, given what gossip knows (the Mesh interface):
// servers bootstrap the cluster once the expected number of them is present,
// by a single claimant that every other server has agreed to, so there is
// never a second cluster; the leader keeps 3 or 5 voters among the live
// servers, replacing dead ones after a grace period, and ends the sessions of
// peers that died.
//
// With Config.Keys (the mesh key ring), raft connections run TLS 1.3 and
// both ends must hold a key of the ring: a dialer handshakes within raft's
// dial timeout; an accepted connection handshakes on its first read, in
// the goroutine raft gives it, under a 5 s deadline, so a silent or
// hostile client never holds up the accept loop, and is closed with a
// debug log.
//
// With Config.Faults (a *fault.Injector), the raft transport applies the
// peer's fault rules. Partition: a server never dials a server that a fault
// partition separates from it (named by the raft configuration, else by
// Mesh.Servers, else as last seen at that address), and closes the
// connections it dialed to such servers when the partition starts;
// accepted connections come from ephemeral ports and are not filtered,
// the other side closes them under the same partition (set the same
// Partition on every peer). Delay: each write (about one per RPC and per
// response) waits the delay first, so writes on one connection are also
// spaced by it; Close cuts the wait short. Drop: each write is lost with
// the probability together with its connection, as raft sees a lost
// message over tcp: the RPC fails and raft retries on a new connection.
//
// Versions: raft v1.7.3 with raft-boltdb/v2 v2.3.1 (bbolt) and memberlist
// v0.6.0. These build together on one go-metrics (v0.6.0); raft v1.8.0 needs
// go-metrics v0.7.0, which removed the package raft-boltdb/v2 imports, and
// the older raft-boltdb v1 rests on the unmaintained boltdb/bolt.
package consensus
