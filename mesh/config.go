package mesh

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/pyros-mesh/pyros/fault"
	"github.com/pyros-mesh/pyros/meshkey"
)

// Config configures a Node. Zero durations and sizes take the defaults
// given with each field.
type Config struct {
	// Name identifies this node to others (the ZMTP identity). Required.
	Name string
	// TCP is the host:port to listen on for tcp links, port 0 for an
	// OS-assigned port; "" disables tcp.
	TCP string
	// AdvertiseHost replaces the host part of the tcp endpoint others are
	// told to dial (needed when TCP listens on 0.0.0.0).
	AdvertiseHost string
	// IPCDir is the directory for this node's unix socket; "" disables ipc.
	IPCDir string
	// Inproc enables an in-process endpoint for nodes of the same process.
	Inproc bool
	// Keys is the mesh key ring. With it, tcp links run TLS 1.3 and both
	// ends must hold a key of the ring (see meshkey); ipc and inproc links
	// stay plain. nil: an open mesh, no encryption or authentication.
	Keys *meshkey.Ring

	// MaxMessageSize bounds one payload, in bytes. Default 16 MiB.
	MaxMessageSize int
	// MaxQueuedBytes bounds requests queued on one link before callers wait.
	// Default 32 MiB.
	MaxQueuedBytes int
	// MaxQueuedData bounds stream data queued on one link; beyond it
	// stream messages are dropped (publishers never wait). Default 8 MiB:
	// about 30 ms of 64-byte messages at full speed.
	MaxQueuedData int
	// MaxConcurrent bounds handlers running at once; requests beyond it are
	// refused unexecuted (CodeUnavailable). Default 4096.
	MaxConcurrent int
	// HandshakeTimeout bounds the handshakes of a new connection (TLS
	// then ZMTP, together). Default 5 s: generous for a WAN, short enough
	// that silent clients do not pile up.
	HandshakeTimeout time.Duration
	// DialTimeout bounds opening a link. Default 5 s.
	DialTimeout time.Duration
	// WriteTimeout fails a link whose peer stops reading for this long.
	// Default 10 s.
	WriteTimeout time.Duration
	// DrainTimeout is how long Close waits for running handlers before
	// cancelling their contexts. Default 5 s.
	DrainTimeout time.Duration

	// Faults, when set, injects the faults of its rules into this node's
	// links (see package fault and "Fault injection" in the package doc):
	// no link with a peer a fault partition separates from this node, and
	// the rules' loss and delay on the requests, replies and stream
	// messages it sends. nil: none, at no cost.
	Faults *fault.Injector

	// Logger receives the node's logs; nil discards them.
	Logger *slog.Logger
}

// ErrConfig is returned by Listen for an invalid configuration.
var ErrConfig = errors.New("mesh: invalid config")

func (c *Config) setDefaults() error {
	if c.Name == "" || len(c.Name) > 255 {
		return fmt.Errorf("%w: name must be 1-255 bytes", ErrConfig)
	}
	if c.TCP == "" && c.IPCDir == "" && !c.Inproc {
		return fmt.Errorf("%w: no endpoint enabled", ErrConfig)
	}
	if c.IPCDir != "" && !filepath.IsAbs(c.IPCDir) {
		return fmt.Errorf("%w: IPCDir %q must be absolute", ErrConfig, c.IPCDir)
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt(&c.MaxMessageSize, 16<<20)
	defInt(&c.MaxQueuedBytes, 32<<20)
	defInt(&c.MaxConcurrent, 4096)
	defInt(&c.MaxQueuedData, 8<<20)
	def(&c.HandshakeTimeout, 5*time.Second)
	def(&c.DialTimeout, 5*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.DrainTimeout, 5*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// maxFrame is the largest ZMTP frame a node accepts: a full batch plus one
// maximal message.
func (c *Config) maxFrame() uint64 {
	return uint64(batchLimit + c.MaxMessageSize + 1024)
}
