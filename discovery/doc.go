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
// payloads without bound.
//
// # Mesh keys
//
// With Config.Keys (a *meshkey.Ring), all gossip is encrypted and
// authenticated with AES-256-GCM under keys derived from the mesh keys
// (purpose "gossip"): the key derived from the primary encrypts, and every
// key of the ring is accepted. Members without a key of the ring can neither join a keyed
// member nor be joined by it. The screener authenticates every packet and
// stream with the keyring before memberlist sees it, so unencrypted traffic
// and traffic under other keys is dropped there, and then screens the
// decrypted message like unencrypted traffic. Ring.Set applies to running
// members; to change a mesh's key with no member lost, install the new key
// as a secondary everywhere, then make it the primary everywhere, then
// remove the old key, each step on every member before the next.
//
// # LAN discovery
//
// With Config.LAN, a member needs no seed: it finds the members of its mesh
// on the local network by UDP multicast, in the manner of Zenoh's scouting.
// Every member binds the group port (DefaultLANGroup, 239.255.77.77:7947,
// with SO_REUSEPORT so that several members of a host all hear the group),
// joins the group on its interfaces, and multicasts on each of them, with
// TTL 1 and the interface's address as source, a small datagram:
//
//	"PYRO" | version 1 | mode (0 plain, 1 sealed)
//	kind (1 announce, 2 scout) | gossip port (uint16) | len | mesh | len | member name
//
// at most 550 bytes. In a keyed mesh (Config.Keys) the part after the
// header is sealed with AES-256-GCM under a key derived from the primary
// mesh key (purpose "beacon") with a random nonce; any key of the ring
// opens it, and plain datagrams are ignored (an open mesh ignores sealed
// ones). A member announces when it starts (a scout, which the members
// hearing it answer with an announce), then after 250 ms, doubling the wait
// up to LANDiscovery.Interval (5 s), and then every Interval for as long as
// it runs, so that the two sides of a healed partition merge again. On
// hearing a member of its mesh that is not alive in its member list, a
// member joins it at the datagram's source address and the announced port
// (the bound gossip port, not Config.AdvertisePort: the LAN reaches it
// directly), at most once per 2 s per member name. Datagrams from itself, from other
// meshes, under other keys, from interfaces not in use, or malformed are
// ignored. Interfaces are all up, multicast-capable, non-loopback IPv4
// interfaces unless LANDiscovery.Interfaces names some, and are scanned again
// every 10 s. Without Config.LAN no socket is opened and nothing is sent.
//
//	d, err := discovery.New(discovery.Config{
//		Name: "node-1", // BindAddr "" listens on every interface
//		Keys: ring,     // from meshkey.ReadFile and meshkey.NewRing; nil: open mesh
//		LAN:  &discovery.LANDiscovery{Mesh: "lab"},
//	})
//
// When the gossip port is bound to one address (Config.BindAddr), only
// interfaces holding that address are used, with it as the source, so that
// the address others join is one the member listens on. Members of one host
// can find each other without touching any other interface with BindAddr
// "127.0.0.1" and LANDiscovery.Interfaces []string{"lo"}, as this package's
// tests do (with a group port of their own).
//
// # Fault injection
//
// With Config.Faults (a *fault.Injector), a member applies its peer's fault
// rules to its gossip, for fault-tolerance experiments on a live mesh.
// Partition: packets to and from members a fault partition separates from
// this one are lost, and streams to them are refused, joins and the
// reconnection to failed members included; memberlist then declares the
// other side dead as it would across a real partition, and once the rules
// are healed the reconnection to failed members merges the two sides
// again. Members are named by the addresses memberlist reports for them,
// remembered after they fail. Inbound streams come from ephemeral ports
// and cannot be named: they are not filtered, and a partition is whole
// only when every member applies it (set the same Partition on every
// peer). Drop: each packet this member sends is lost with the rule's
// probability; streams (push/pull, state fetches) run over TCP and are
// not dropped. Delay: each packet this member sends is held back by the
// rule's delay, in order, by one goroutine (at most 1024 packets wait;
// more are lost), and each stream it opens waits the delay before it is
// dialed. LAN beacons are not affected.
//
// # Usage
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
