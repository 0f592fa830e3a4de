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
//     link could not be opened, broke before the provider acknowledged the
//     request, or the provider refused it unexecuted); when a provider
//     vanishes after acknowledging a request the call fails with
//     ErrUnknownOutcome rather than risk running it twice;
//   - return a handler's error or panic as a *RemoteError naming the provider.
package peer
