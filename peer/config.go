package peer

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/consensus"
	"github.com/pyros-mesh/pyros/discovery"
	"github.com/pyros-mesh/pyros/meshkey"
)

// Config configures a Peer. The zero value (plus Join or a RegistryDir)
// gives a working peer on loopback.
type Config struct {
	// Name is this peer's unique name in the mesh. Default: host-xxxxxx.
	Name string
	// Bind is the gossip address, host:port; the tcp link listener uses the
	// same host with an OS-assigned port. Default "127.0.0.1:0": a peer
	// reachable from other hosts needs e.g. "0.0.0.0:7946".
	Bind string
	// Advertise is the host (or host:port) others use to reach this peer
	// when Bind is a wildcard or behind NAT. Default: derived by memberlist.
	Advertise string
	// Mesh names the mesh: peers of meshes with other names ignore each
	// other's LAN announcements and gossip. Default "pyros".
	Mesh string
	// LAN makes the peer find the other peers of its mesh on its LAN by
	// multicast, with no seed (see discovery.LANDiscovery). It takes effect
	// only when the peer is reachable from other hosts (Bind not loopback).
	LAN bool
	// Keys is the mesh key ring: with it, every byte between peers is
	// encrypted and authenticated, and peers without a key of the ring can
	// neither join nor call, subscribe or touch the state. nil leaves the
	// mesh open to anyone who can reach it.
	Keys *meshkey.Ring
	// Join lists seed gossip addresses (host:port). Seeds may be down: the
	// peer keeps trying.
	Join []string
	// RegistryDir, when set, lets peers of one host find each other with no
	// seed: each peer registers there and joins those it finds. See
	// DefaultRegistryDir.
	RegistryDir string
	// RegistryReadOnly makes the peer join the peers it finds in
	// RegistryDir without registering itself: for short-lived peers such as
	// CLI queries, which others need not find.
	RegistryReadOnly bool
	// IPCDir is where same-host links listen (unix sockets). Default: a
	// per-user directory under the system temp directory.
	IPCDir string
	// DisableIPC turns same-host unix socket links off (tcp is used).
	DisableIPC bool
	// Gossip holds memberlist's timers; nil = discovery.LANConfig().
	// Use discovery.LocalConfig() for fast local tests.
	Gossip *memberlist.Config
	// Codec names the codec this peer encodes its calls with. Default msgpack.
	Codec string
	// Codecs is the codecs this peer understands. Default codec.Default().
	Codecs *codec.Registry
	// MaxMessageSize bounds one payload, in bytes. Default 16 MiB.
	MaxMessageSize int
	// DataDir makes this peer a state server: it keeps a replica of the
	// shared state there and takes part in raft. Peers without one are
	// clients of the state. The directory remembers the peer's name, which
	// becomes the default Name.
	DataDir string
	// BootstrapExpect is how many state servers must be present before the
	// state is first formed. Default 3; 1 for a single-server mesh.
	BootstrapExpect int
	// StateGrace is how long a state server may be gone before the leader
	// gives its vote to another server. Default 10 s.
	StateGrace time.Duration
	// SessionGrace is how long a peer may be gone before its Ephemeral keys
	// are removed. Default 2 s.
	SessionGrace time.Duration
	// DownFor is how long a provider that could not be reached is skipped
	// by calls, unless discovery reports it again. Default 2 s.
	DownFor time.Duration
	// Metrics, if set, receives the peer's Prometheus metrics: calls and
	// requests served per service, stream totals, links, members, state
	// leadership and commit latency.
	Metrics prometheus.Registerer
	// Logger receives the peer's logs; nil discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.Name == "" && c.DataDir != "" {
		name, err := consensus.StoredName(c.DataDir)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		c.Name = name
	}
	if c.Name == "" {
		c.Name = DefaultName()
	}
	if c.Mesh == "" {
		c.Mesh = discovery.DefaultMesh
	}
	if len(c.Mesh) > 255 {
		return fmt.Errorf("%w: mesh name longer than 255 bytes", ErrConfig)
	}
	if c.BootstrapExpect == 0 {
		c.BootstrapExpect = 3
	}
	if c.Bind == "" {
		c.Bind = "127.0.0.1:0"
	}
	if _, _, err := net.SplitHostPort(c.Bind); err != nil {
		return fmt.Errorf("%w: bind %q: %v", ErrConfig, c.Bind, err)
	}
	if c.IPCDir == "" {
		c.IPCDir = filepath.Join(os.TempDir(), "pyros-"+strconv.Itoa(os.Getuid()), "ipc")
	}
	if c.Gossip == nil {
		c.Gossip = discovery.LANConfig()
	}
	if c.Codecs == nil {
		c.Codecs = codec.Default()
	}
	if c.Codec == "" {
		c.Codec = codec.Msgpack
	}
	if _, err := c.Codecs.Lookup(c.Codec); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.DownFor <= 0 {
		c.DownFor = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// DefaultName returns a fresh peer name: the host name and a random suffix.
func DefaultName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "peer"
	}
	b := make([]byte, 3)
	rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// DefaultRegistryDir is the per-user directory where peers of one host
// register so they find each other without seeds or multicast:
// $PYROS_REGISTRY if set, else $XDG_RUNTIME_DIR/pyros, else
// <tmp>/pyros-<uid>/registry.
func DefaultRegistryDir() string {
	if d := os.Getenv("PYROS_REGISTRY"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "pyros")
	}
	return filepath.Join(os.TempDir(), "pyros-"+strconv.Itoa(os.Getuid()), "registry")
}
