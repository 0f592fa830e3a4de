// Package meshkey holds a mesh's shared secret: the key ring that keeps
// outsiders out of a pyros mesh.
//
// A mesh key is 32 random bytes (pyros-peer keygen). Every peer of a mesh
// holds the same ring of keys: the first key is the primary, used to send,
// and every key of the ring is accepted on receipt, which lets a mesh change
// keys with no downtime (install the new key everywhere, then make it the
// primary everywhere, then remove the old one).
//
// Each subsystem uses its own key derived from each mesh key with HKDF
// (SHA-256), never the mesh key itself:
//
//   - gossip: memberlist's AES-GCM keyring;
//   - beacon: the LAN discovery datagrams (AES-GCM);
//   - tls: an Ed25519 certificate authority. Each peer makes an ephemeral
//     Ed25519 key and a certificate for it signed by the primary key's
//     authority; links and raft connections run TLS 1.3 and both ends must
//     show a certificate signed by the authority of a key in the ring. So
//     only holders of a mesh key can connect, and every byte is encrypted
//     and authenticated.
//
// A nil *Ring means an open mesh: no encryption, no authentication.
package meshkey
