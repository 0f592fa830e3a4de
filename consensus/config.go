package consensus

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/pyros-mesh/pyros/fault"
	"github.com/pyros-mesh/pyros/meshkey"
)

// Config configures a Server.
type Config struct {
	// Name is the server's raft ID: its peer name, stable across restarts.
	Name string
	// Dir is the data directory: raft log, snapshots and the identity.
	Dir string
	// Bind is the host the raft transport listens on; its port is kept in
	// Dir so a restarted server comes back at the same address if it can.
	Bind string
	// Advertise is the host others reach the transport at; default Bind.
	Advertise string
	// BootstrapExpect is how many servers must be present before the
	// cluster is first formed. Default 3.
	BootstrapExpect int
	// Grace is how long a server may be gone before the leader replaces it
	// as a voter. Default 10 s.
	Grace time.Duration
	// SessionGrace is how long a session's peer may be gone before its keys
	// are removed. Default 2 s.
	SessionGrace time.Duration
	// Keys is the mesh key ring: with it, raft connections run TLS 1.3 and
	// both ends must hold a key of the ring (see meshkey). nil: plain tcp,
	// open to anyone who can reach the transport.
	Keys *meshkey.Ring
	// MaxEvents is about how many recent events are kept for watches.
	// Default 10000.
	MaxEvents int
	// Mesh tells the server who is there. Required.
	Mesh Mesh
	// Faults, when set, injects the faults of its rules into raft's
	// traffic (see "Fault injection" in the package doc): no connection to
	// a server a fault partition separates from this one, and the rules'
	// delay and loss on what this server writes. Servers are named by the
	// raft configuration, else by Mesh.Servers. nil: none, at no cost.
	Faults *fault.Injector
	// OnChange is called (from the server's own goroutine) when Status
	// changes.
	OnChange func()
	// Logger receives the server's and raft's logs; nil discards them.
	Logger *slog.Logger
}

// Mesh is what a Server needs from the mesh around it.
type Mesh interface {
	// Servers returns the live state servers, this one included.
	Servers() []ServerInfo
	// Sessions returns the sessions of the live peers.
	Sessions() map[string]bool
	// Claim asks server to agree to claimant's bootstrap.
	Claim(ctx context.Context, server, claimant string) error
}

// ServerInfo is a state server as gossip knows it.
type ServerInfo struct {
	Name   string `msgpack:"n"`
	Addr   string `msgpack:"a"` // raft transport address
	Expect int    `msgpack:"x"` // its bootstrap-expect
	Joined bool   `msgpack:"j"` // it is part of a cluster
}

// Raft timing: fast enough that a leader's crash costs about a second on a
// LAN or loopback.
const (
	heartbeatTimeout = 500 * time.Millisecond
	electionTimeout  = 500 * time.Millisecond
	leaderLease      = 250 * time.Millisecond
	applyTimeout     = 5 * time.Second
)

func (c *Config) setDefaults() error {
	if c.Name == "" || c.Dir == "" || c.Mesh == nil {
		return fmt.Errorf("%w: name, data directory and mesh are required", ErrConfig)
	}
	if c.BootstrapExpect == 0 {
		c.BootstrapExpect = 3
	}
	if c.BootstrapExpect < 1 {
		return fmt.Errorf("%w: bootstrap-expect %d", ErrConfig, c.BootstrapExpect)
	}
	if c.Bind == "" {
		c.Bind = "127.0.0.1"
	}
	if c.Advertise == "" {
		c.Advertise = c.Bind
	}
	if c.Grace <= 0 {
		c.Grace = 10 * time.Second
	}
	if c.SessionGrace <= 0 {
		c.SessionGrace = 2 * time.Second
	}
	if c.OnChange == nil {
		c.OnChange = func() {}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
