// Package peer is the public API of pyros: a Peer is one process's member of
// the mesh. It composes discovery (who is there, what they provide), mesh
// (direct links and the wire) and codec (how values travel).
//
// There is no broker. Peers find each other by gossip (seed addresses, or a
// per-user registry directory for peers of one host), announce what they
// provide in a replicated catalog, and call each other's services by name: a
// caller never names an endpoint.
//
//	p, err := peer.New(ctx, peer.Config{Name: "calc", Join: []string{"10.0.0.5:7946"}})
//	if err != nil { ... }
//	defer p.Close()
//
//	p.Provide("calc/add", peer.Func(func(ctx context.Context, in struct{ A, B int }) (int, error) {
//		return in.A + in.B, nil
//	}))
//
//	var sum int
//	err = p.Call(ctx, "calc/add", map[string]int{"a": 2, "b": 3}, &sum)
//
// Calls:
//   - go to any provider of the name, spreading load (the less busy of two
//     random providers);
//   - fail at once with ErrUnknownService when no member provides the name;
//   - honour ctx's deadline and cancellation, on the provider too;
//   - move to another provider when the request certainly did not run (the
//     link could not be opened, broke before the request was written to it,
//     or the provider refused it unexecuted); when a provider vanishes after
//     the request left, the call fails with ErrUnknownOutcome rather than
//     risk running it twice;
//   - return a handler's error or panic as a *RemoteError naming the provider.
//
// Streams are named broadcasts, the complement of services: fast, and lossy
// rather than slow.
//
//	pub, _ := p.Publish("robot/pose")
//	pub.Send(pose) // never blocks
//
//	sub, _ := p.Subscribe(ctx, "robot/pose", func(m peer.Message) {
//		var pose Pose
//		m.Decode(&pose)
//	})
//
// Their semantics:
//   - no endpoint bookkeeping: a subscriber names a stream and receives from
//     every publisher of it, on any peer, started before or after it; the
//     catalog says who publishes and who subscribes, and each publishing
//     peer sends to each subscribing peer over their direct link;
//   - late joiners receive from the moment the subscription is in the
//     catalog; a publisher that appears on a new peer, or restarts, is picked
//     up within the discovery time, with no action by the subscriber;
//   - a publisher never blocks: every subscribing peer has its own bounded
//     queue on its link, so one slow or dead subscriber never stalls the
//     publisher or the other subscribers; what does not fit is dropped and
//     counted (PublisherStats.Dropped, SubscriptionStats.Dropped and Lost,
//     the latter from gaps in the publisher's sequence numbers);
//   - per publisher, messages that arrive arrive in order;
//   - Latched() keeps the publisher's last value and sends it to every
//     subscriber that appears later, like a latched ROS topic;
//   - small messages share frames: the link writer sends everything queued
//     since its last write in one frame, so a message waits only for the
//     write before it, and under load thousands share one syscall.
//
// Shared state is a key/value store replicated by raft among the peers
// started with a DataDir (state servers); every peer uses it through State:
//
//	st := p.State()
//	rev, _ := st.Put(ctx, "config/speed", 3)
//	e, _ := st.Get(ctx, "config/speed") // linearizable; Stale() reads the nearest replica
//	_, err := st.CompareAndSwap(ctx, "locks/arm", 0, p.Name(), Ephemeral())
//	w, _ := st.Watch(ctx, "config/", FromRev(rev))
//
// Its semantics:
//   - servers form the cluster once BootstrapExpect of them see each other,
//     by one claimant all of them agreed to; the leader keeps 3 or 5 voters
//     among the live servers;
//   - writes go to the leader over the mesh, numbered per session so that a
//     write retried across a leader change is applied once; reads are
//     linearizable unless Stale;
//   - every change gets the next revision; watches deliver changes in
//     revision order with no gap, across server failures;
//   - Ephemeral keys vanish when their peer closes or is declared dead.
package peer
