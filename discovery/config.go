package discovery

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/pyros-mesh/pyros/fault"
	"github.com/pyros-mesh/pyros/meshkey"
)

// Limits enforced on local configuration and on everything read from the
// network.
const (
	// MaxNameLen is the longest member name, in bytes. Names travel with a
	// one-byte length prefix.
	MaxNameLen = 255

	// MaxMetaSize is the largest Config.Meta, in bytes. memberlist carries
	// node metadata in every alive message and caps it at 512 bytes; the
	// rest of that budget is left to memberlist's own framing.
	MaxMetaSize = 400

	// MaxStateSize is the largest state document of one member, in bytes.
	// Larger documents are rejected by UpdateState and dropped when they
	// arrive from the network.
	MaxStateSize = 4 << 20

	// MaxMembers caps the number of members accepted from one push/pull
	// exchange, both in memberlist's node list and in the state table.
	MaxMembers = 4096
)

// Config configures a Discovery instance. The zero value is not usable: Name
// is required.
type Config struct {
	// Name uniquely identifies this member in the mesh (required, at most
	// MaxNameLen bytes). A member restarted under the same name is treated
	// as a new incarnation of it.
	Name string

	// BindAddr is the IP address the gossip listeners (UDP and TCP, same
	// port) bind to. "" means "0.0.0.0", all IPv4 interfaces.
	BindAddr string

	// BindPort is the gossip port. 0 lets the OS pick a free port; the
	// port actually bound is reported by LocalAddr.
	BindPort int

	// AdvertiseAddr and AdvertisePort are the address other members use to
	// reach this one, when it differs from the bind address (NAT, 0.0.0.0
	// binds). "" picks the bind address, or a private interface address
	// when bound to 0.0.0.0; port 0 picks the bound port.
	AdvertiseAddr string
	AdvertisePort int

	// Meta is small static metadata published with membership (for example
	// link endpoints), at most MaxMetaSize bytes. It is carried by
	// memberlist itself and is known to a peer as soon as it learns of the
	// member.
	Meta []byte

	// State is the initial state document, at most MaxStateSize bytes. It
	// is published as version 1 (version 0 when empty) before any join, so
	// the first push/pull already carries it. Replace it with SetState.
	State []byte

	// Join lists seed addresses ("host:port") to join. New never fails
	// because seeds are unreachable: it retries them in the background
	// with exponential backoff (250 ms doubling up to 30 s) for as long as
	// this member knows no other live member, so a mesh can be started in
	// any order and an isolated member finds its way back.
	Join []string

	// RegistryDir enables same-host discovery without multicast. New
	// writes <dir>/<name>.json describing this member and joins every
	// live member listed there; entries left behind by dead processes are
	// removed. Close removes this member's file. The directory should be
	// private to the user (it is created with mode 0700). "" disables it.
	RegistryDir string

	// RegistryReadOnly makes New join the members listed in RegistryDir
	// without listing this member there: for short-lived members (command
	// line queries) that nobody needs to find.
	RegistryReadOnly bool

	// Keys, when set, encrypts and authenticates all gossip with keys
	// derived from the mesh key ring: memberlist's AES-256-GCM keyring
	// holds Keys.Derive("gossip", 32), the primary key's first (it
	// encrypts), and accepts every key of the ring. Members without a key
	// of the ring can neither join this member nor be joined by it, and
	// unencrypted or unauthenticated packets and streams are dropped
	// before memberlist sees them. Changes of the ring (Ring.Set) apply to
	// the running member, so a mesh changes keys without losing a member:
	// install the new key as a secondary everywhere, then make it the
	// primary everywhere, then remove the old key. LAN discovery seals its
	// datagrams with keys derived from the same ring. nil is an open mesh.
	// Keys excludes Memberlist.SecretKey and Memberlist.Keyring.
	Keys *meshkey.Ring

	// LAN enables the discovery of the other members of the same mesh on
	// the local network by UDP multicast, with no seed (see LANDiscovery).
	// nil disables it: no socket is opened and nothing is sent.
	LAN *LANDiscovery

	// Memberlist holds memberlist's tuning (timers, fan-out, encryption,
	// labels). nil selects LANConfig(). New works on a copy and overwrites
	// Name, BindAddr, BindPort, AdvertiseAddr, AdvertisePort, Delegate,
	// Events, Transport, Logger and LogOutput; with Keys, also Keyring,
	// SecretKey, GossipVerifyIncoming and GossipVerifyOutgoing.
	Memberlist *memberlist.Config

	// Faults, when set, injects the faults of its rules into this
	// member's gossip (see "Fault injection" in the package doc): no
	// packet or stream with members a fault partition separates from this
	// one, and the rules' loss and delay on the packets it sends. nil:
	// none, at no cost.
	Faults *fault.Injector

	// Logger receives this package's logs and memberlist's, the latter
	// with the attribute sub=memberlist and the level taken from
	// memberlist's "[DEBUG]", "[INFO]", "[WARN]" and "[ERR]" prefixes.
	// nil discards all logs.
	Logger *slog.Logger
}

// LANConfig returns memberlist settings for a data-centre LAN of a few to a
// few hundred members. With 10 members a crashed member is noticed within a
// probe interval or two and declared dead 1.5 s later once another member
// confirms the suspicion: about 2-3 s in all, at most about 7 s.
func LANConfig() *memberlist.Config {
	c := memberlist.DefaultLANConfig()
	// Each member probes one peer per interval. 500 ms (memberlist: 1 s)
	// halves the time until someone notices a crash.
	c.ProbeInterval = 500 * time.Millisecond
	// LAN round trips are well below a millisecond; 250 ms leaves ample
	// room for GC pauses before an indirect probe is tried.
	c.ProbeTimeout = 250 * time.Millisecond
	// A suspect is declared dead after SuspicionMult*log10(n)*ProbeInterval
	// once other members confirm it: 3*1*500 ms = 1.5 s for n = 10.
	c.SuspicionMult = 3
	// Without confirmations the timeout starts at this multiple of the
	// minimum: 4*1.5 s = 6 s, instead of memberlist's 6x.
	c.SuspicionMaxTimeoutMult = 4
	// State notices and small documents ride on gossip; 100 ms (memberlist:
	// 200 ms) makes one hop cost about 100 ms.
	c.GossipInterval = 100 * time.Millisecond
	// Each broadcast is sent RetransmitMult*ceil(log10(n+1)) times in all,
	// to GossipNodes members per round. memberlist's 4 gives only 4 sends
	// up to 9 members, and a joining member's alive message then missed
	// one member of 9 for a push/pull interval in about one join of three
	// (measured on loopback); 8 made every join reach all within 200 ms.
	c.RetransmitMult = 8
	// Push/pull is the anti-entropy pass that repairs anything gossip
	// missed; it carries every state document, so it stays infrequent.
	c.PushPullInterval = 15 * time.Second
	// A member restarted on a new port (BindPort 0) may reuse the name of
	// a dead member after 5 s instead of waiting for it to be reaped.
	c.DeadNodeReclaimTime = 5 * time.Second
	return c
}

// LocalConfig returns memberlist settings for members on one host, chiefly
// tests on loopback: a crashed member is declared dead within about 1-2 s.
// The timeouts leave room for scheduling stalls of a loaded machine, which
// loopback round trips otherwise never need.
func LocalConfig() *memberlist.Config {
	c := memberlist.DefaultLocalConfig()
	// Loopback has no loss, so probe often...
	c.ProbeInterval = 200 * time.Millisecond
	// ...and give up on the direct probe after 150 ms.
	c.ProbeTimeout = 150 * time.Millisecond
	// One hop of gossip every 50 ms.
	c.GossipInterval = 50 * time.Millisecond
	// Each broadcast is sent 8*ceil(log10(n+1)) times (memberlist's local
	// preset: 2), as in LANConfig, so that joins, leaves and state changes
	// reach every member without waiting for push/pull.
	c.RetransmitMult = 8
	// Dead 3*log10(n)*200 ms = 600 ms after suspicion once another member
	// confirms it...
	c.SuspicionMult = 3
	// ...and at most 3*600 ms = 1.8 s without confirmation.
	c.SuspicionMaxTimeoutMult = 3
	// Frequent anti-entropy so that any missed update heals within 2 s.
	c.PushPullInterval = 2 * time.Second
	// Streams (push/pull, state fetches) on loopback finish in
	// milliseconds; a short timeout keeps Close and failure paths fast.
	c.TCPTimeout = time.Second
	// Quick reuse of a dead member's name by a restarted process.
	c.DeadNodeReclaimTime = time.Second
	return c
}

// validate checks the configuration and returns an error wrapping
// ErrInvalidConfig that names the offending field.
func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.Name == "":
		return bad("Name is required")
	case len(c.Name) > MaxNameLen:
		return bad("Name is %d bytes, limit %d", len(c.Name), MaxNameLen)
	case len(c.Meta) > MaxMetaSize:
		return bad("Meta is %d bytes, limit %d", len(c.Meta), MaxMetaSize)
	case len(c.State) > MaxStateSize:
		return bad("State is %d bytes, limit %d", len(c.State), MaxStateSize)
	case c.BindPort < 0 || c.BindPort > 65535:
		return bad("BindPort %d out of range", c.BindPort)
	case c.AdvertisePort < 0 || c.AdvertisePort > 65535:
		return bad("AdvertisePort %d out of range", c.AdvertisePort)
	case c.BindAddr != "" && net.ParseIP(c.BindAddr) == nil:
		return bad("BindAddr %q is not an IP address", c.BindAddr)
	case c.AdvertiseAddr != "" && net.ParseIP(c.AdvertiseAddr) == nil:
		return bad("AdvertiseAddr %q is not an IP address", c.AdvertiseAddr)
	}
	if c.LAN != nil {
		if _, err := c.LAN.settings(); err != nil {
			return err
		}
	}
	if m := c.Memberlist; m != nil {
		switch {
		case c.Keys != nil && (len(m.SecretKey) > 0 || m.Keyring != nil):
			return bad("Keys excludes Memberlist.SecretKey and Memberlist.Keyring")
		case len(m.SecretKey) > 0 && memberlist.ValidateKey(m.SecretKey) != nil:
			return bad("Memberlist.SecretKey must be 16, 24 or 32 bytes")
		case m.UDPBufferSize < minUDPBufferSize:
			return bad("Memberlist.UDPBufferSize %d below %d", m.UDPBufferSize, minUDPBufferSize)
		case m.TCPTimeout <= 0:
			return bad("Memberlist.TCPTimeout must be positive")
		case m.ProbeInterval <= 0:
			return bad("Memberlist.ProbeInterval must be positive")
		}
	}
	return nil
}

// minUDPBufferSize keeps room for a gossiped state notice next to
// memberlist's own messages.
const minUDPBufferSize = 576
