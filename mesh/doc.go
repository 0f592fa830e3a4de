// Package mesh is the pyros wire: direct ZeroMQ links between peers and the
// request/response protocol that runs over them.
//
// A Node listens on up to three endpoints (tcp between hosts, ipc unix sockets
// on one host, inproc within one process) and opens a link to another node on
// demand, the first time a message must go there. Links speak ZMTP 3.0 (the
// ZeroMQ wire protocol, through github.com/go-zeromq/zmq4's connection layer)
// so libzmq programs can talk to them, but every socket, goroutine and byte is
// owned here:
//
//   - a guard on every connection parses ZMTP frame headers as bytes arrive and
//     closes a connection that announces a frame larger than the configured
//     maximum, so no peer can be made to allocate gigabytes;
//   - handshakes run in their own goroutine with a deadline, so a silent client
//     never blocks other accepts;
//   - each link has one reader and one writer goroutine; the writer packs every
//     message queued since its last write into one ZMTP frame, so many small
//     messages share a frame (and a syscall) under load while a lone message is
//     sent at once;
//   - a lost connection is noticed by its reader (EOF) and every call waiting
//     on it fails at once; the next call dials again.
//
// What this design avoids in zmq4 v0.17.0's socket layer, which mesh does not
// use: PUSH and DEALER sockets that copy every message to every connection
// (one connection per link here, and the peer layer picks the provider);
// REQ sockets whose Recv has no timeout (every call here waits on its
// context); ROUTER sockets that drop replies to unknown identities silently
// (a reply goes back on the connection its request came from, and a caller
// whose link dies learns it at once); goroutines leaked by Close and a
// reconnect path that deadlocks (links and their two goroutines are owned
// here and redialled on demand).
//
// Mesh key: with Config.Keys (a *meshkey.Ring), tcp links run TLS 1.3
// before ZMTP, and both ends must show a certificate signed by the
// authority of a key of the ring: only holders of the mesh key open links,
// and every byte between hosts is encrypted and authenticated. The TLS
// handshake runs in the handshake goroutine under HandshakeTimeout, and the
// guard parses the decrypted stream as it does a plain one. A dial to a
// node of another mesh fails with ErrNotDelivered wrapping
// meshkey.ErrNotMember; to a node without a key, ErrPeerOpen; from a node
// without a key to one with, ErrKeyRequired; to a node that does not
// accept this node's primary key (a rotation step out of order),
// ErrKeyRefused. A connection that fails TLS is closed with a debug log.
// ipc and inproc links stay plain: a unix socket lives in the user's own
// 0700 directory and an inproc link never leaves the process, so only the
// user's own processes (which can read its key file anyway) reach them.
// Plain REQ/REP (ListenRep, NewReqClient) is never encrypted: it serves
// ZeroMQ programs of the local machine.
//
// Request/response: every request carries an id, its remaining deadline, the
// service name and the codec of its payload. The provider acknowledges a
// request before it runs the handler; the caller tracks whether its request
// was written to the connection. So when a link dies the caller knows
// whether the request was never sent (ErrNotDelivered: safe to send to
// another provider) or may have arrived and its outcome is unknown
// (ErrUnknownOutcome: it left, and an acknowledgement can be lost with the
// link). A handler's error or panic comes back as a *RemoteError.
//
//	ring, err := meshkey.NewRing(key) // or Keys: nil for an open mesh
//	n, err := mesh.Listen(mesh.Config{Name: "a", TCP: "127.0.0.1:0", Keys: ring})
//	n.Handle(func(ctx context.Context, r mesh.Request) (mesh.Reply, error) {
//		return mesh.Reply{Codec: r.Codec, Payload: r.Payload}, nil
//	})
//	rep, err := other.Call(ctx, mesh.Target{Name: "a", Endpoints: n.Endpoints()},
//		mesh.Request{Service: "echo", Codec: "msgpack", Payload: data})
//
// # Fault injection
//
// With Config.Faults (a *fault.Injector), a node applies its peer's fault
// rules to its links. Partition: a node never dials a peer a fault
// partition separates from it (the call fails at once with ErrNotDelivered
// wrapping fault.ErrPartitioned), refuses such a peer's links, and closes
// its links with peers that a new partition separates from it, failing
// their calls as on any lost link (ErrUnknownOutcome for a request that
// left). Drop: each request, reply and stream message this node sends is
// lost with the rule's probability, as if on the way: a caller whose
// request or reply is lost waits until its context ends, StreamOut.Send
// reports true; acknowledgements, cancellations and stream opens and
// closes are never lost. Delay: every message this node sends waits the
// rule's delay in its link's queue, in order, before it is written (the
// link's writer goroutine waits, nobody else; a batch gathers delayed
// messages for at most 1 ms, so a message waits at most 1 ms longer);
// under a delay a provider starts handlers before their acknowledgements
// are written. Close writes what is held back at once. With no Injector,
// or no rules, nothing is checked beyond a nil test or an atomic load.
package mesh
