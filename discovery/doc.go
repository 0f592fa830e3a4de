// Package discovery provides membership and a replicated per-member "state
// document" for a brokerless mesh, on top of hashicorp/memberlist.
//
// Every member publishes two things. Meta is small static metadata (link
// endpoints, at most MaxMetaSize bytes) carried by memberlist itself. State is
// an opaque document of any size up to MaxStateSize (a service catalog, for
// instance) replicated to every other member:
//
//   - SetState bumps the member's version. A document that fits a gossip
//     packet is gossiped whole; a larger one is announced by a small notice,
//     and each member that hears it fetches the document from its owner over
//     TCP. Members relay each version they hear of for the first time, so
//     it reaches everyone and not only the owner's direct gossip targets.
//   - A member that joins fetches the documents it lacks, and everyone
//     fetches the newcomer's.
//   - memberlist's periodic push/pull carries the whole table and repairs
//     anything missed.
//
// Versions are ordered by (incarnation, version), where the incarnation is
// chosen when the member starts, so a restarted member's documents supersede
// those of its previous run. A member that leaves or fails is dropped along
// with its document. Close gossips a leave intent before leaving, so that
// peers report EventLeave rather than EventFail: memberlist v0.6.0 does not
// tell its event delegate whether a node left or failed.
//
// Traffic reaching the gossip port is screened before memberlist parses it:
// memberlist v0.6.0 trusts length fields of its stream messages (a few bytes
// claiming a huge user message crash the process) and inflates compressed
// payloads without bound. With memberlist encryption configured, encrypted
// traffic is opaque and passes unscreened; only key holders can send it.
//
// Usage:
//
//	d, err := discovery.New(discovery.Config{
//		Name:     "node-1",
//		BindAddr: "10.0.0.1",
//		BindPort: 7946,
//		Meta:     []byte(`{"links":["quic://10.0.0.1:9000"]}`),
//		State:    catalog, // initial document
//		Join:     []string{"10.0.0.2:7946", "10.0.0.3:7946"},
//		Logger:   slog.Default(),
//	})
//	if err != nil {
//		return err
//	}
//	defer d.Close()
//
//	go func() {
//		for ev := range d.Events() {
//			switch ev.Type {
//			case discovery.EventJoin, discovery.EventUpdate:
//				peers.Upsert(ev.Member.Name, ev.Member.Meta, ev.Member.State)
//			case discovery.EventLeave, discovery.EventFail:
//				peers.Remove(ev.Member.Name)
//			}
//		}
//	}()
//
//	d.SetState(newCatalog) // reaches every member
//	for _, m := range d.Members() {
//		fmt.Println(m.Name, m.Addr, m.StateVersion)
//	}
package discovery
