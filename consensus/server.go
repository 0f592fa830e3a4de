package consensus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/pyros-mesh/pyros/fault"
)

// Server is one state server: a raft member with a durable log, serving
// the replicated Store.
type Server struct {
	cfg   Config
	log   *slog.Logger
	store *Store
	raft  *raft.Raft
	trans *raft.NetworkTransport
	layer *tcpLayer
	bolt  *raftboltdb.BoltStore

	joined    atomic.Bool
	readyTerm atomic.Uint64 // the term whose leader has applied its whole log
	claims    claims

	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Open starts a server on its data directory. A directory that belongs to
// another name is refused.
func Open(cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("consensus: %w", err)
	}
	id, err := readIdentity(cfg.Dir)
	if err != nil {
		return nil, err
	}
	if id.Name != "" && id.Name != cfg.Name {
		return nil, fmt.Errorf("%w: %s belongs to server %q, not %q", ErrConfig, cfg.Dir, id.Name, cfg.Name)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, store: NewStore(cfg.MaxEvents), done: make(chan struct{})}
	if err := s.openRaft(id); err != nil {
		return nil, err
	}
	cfg.Faults.OnChange(s.layer.cutPartitioned)
	s.wg.Add(2)
	go s.statusLoop()
	go s.manageLoop()
	return s, nil
}

func (s *Server) openRaft(id identity) (err error) {
	if s.trans, s.layer, id.Port, err = listen(s.cfg, id.Port, s.log, s.done); err != nil {
		return err
	}
	id.Name = s.cfg.Name
	if err = writeIdentity(s.cfg.Dir, id); err != nil {
		s.trans.Close()
		return err
	}
	defer func() {
		if err != nil {
			s.trans.Close()
			if s.bolt != nil {
				s.bolt.Close()
			}
		}
	}()
	if s.bolt, err = raftboltdb.NewBoltStore(filepath.Join(s.cfg.Dir, "raft.db")); err != nil {
		return fmt.Errorf("consensus: open log: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(s.cfg.Dir, 2, newHCLog(s.log))
	if err != nil {
		return fmt.Errorf("consensus: open snapshots: %w", err)
	}
	has, err := raft.HasExistingState(s.bolt, s.bolt, snaps)
	if err != nil {
		return fmt.Errorf("consensus: %w", err)
	}
	s.joined.Store(has)
	if s.raft, err = raft.NewRaft(s.raftConfig(), &fsm{s.store}, s.bolt, s.bolt, snaps, s.trans); err != nil {
		return fmt.Errorf("consensus: start raft: %w", err)
	}
	s.layer.raft.Store(s.raft)
	return nil
}

func (s *Server) raftConfig() *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(s.cfg.Name)
	rc.HeartbeatTimeout = heartbeatTimeout
	rc.ElectionTimeout = electionTimeout
	rc.LeaderLeaseTimeout = leaderLease
	rc.Logger = newHCLog(s.log)
	return rc
}

// listen opens the raft transport, on the remembered port if it is free.
// stop is closed when the server starts closing.
func listen(cfg Config, port int, log *slog.Logger, stop <-chan struct{}) (*raft.NetworkTransport, *tcpLayer, int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Bind, strconv.Itoa(port)))
	if err != nil && port != 0 {
		ln, err = net.Listen("tcp", net.JoinHostPort(cfg.Bind, "0"))
	}
	if err != nil {
		return nil, nil, 0, fmt.Errorf("consensus: raft transport on %s: %w", cfg.Bind, err)
	}
	got := ln.Addr().(*net.TCPAddr).Port
	adv := &net.TCPAddr{IP: net.ParseIP(cfg.Advertise), Port: got}
	if adv.IP == nil || adv.IP.IsUnspecified() {
		ln.Close()
		return nil, nil, 0, fmt.Errorf("%w: advertise %q is not a reachable IP address", ErrConfig, cfg.Advertise)
	}
	layer := &tcpLayer{Listener: ln, adv: adv, log: log, faults: cfg.Faults, mesh: cfg.Mesh, stop: stop}
	if cfg.Keys != nil {
		layer.srvTLS, layer.cliTLS = tlsConfigs(cfg.Keys)
	}
	t := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  layer,
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  newHCLog(log),
	})
	return t, layer, got, nil
}

// tcpLayer carries raft's transport over tcp, or TLS over tcp with a mesh
// key. It keeps track of its connections and closes them all when it is
// closed: raft's transport leaves pooled and accepted connections open,
// with a goroutine reading each. It applies the fault rules (see fault.go).
type tcpLayer struct {
	net.Listener
	adv            net.Addr
	srvTLS, cliTLS *tls.Config // nil: plain tcp
	log            *slog.Logger

	faults *fault.Injector           // nil: no fault injection
	stop   <-chan struct{}           // closed when the server closes: no more fault delay
	raft   atomic.Pointer[raft.Raft] // names raft addresses, once running
	mesh   Mesh                      // names them otherwise; may be nil

	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	names  map[raft.ServerAddress]string // the last server seen at each address
	closed bool
}

func (l *tcpLayer) Addr() net.Addr { return l.adv }

// maxInbound bounds the raft connections a server accepts at once. raft
// gives each a 256 KiB read buffer and a goroutine; servers need a few per
// peer, so this is room for a large cluster while garbage connections
// cannot pile up memory.
const maxInbound = 64

func (l *tcpLayer) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.count() >= maxInbound {
			c.Close()
			continue
		}
		if l.srvTLS == nil {
			return l.track(c, c, "")
		}
		return l.track(newServerConn(c, l.srvTLS, l.log), c, "")
	}
}

func (l *tcpLayer) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Dial connects to a raft transport; with a mesh key, the TLS handshake
// runs here, within the same timeout.
func (l *tcpLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if err := l.partitioned(addr); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	d := net.Dialer{Deadline: deadline}
	c, err := d.Dial("tcp", string(addr))
	if err != nil {
		return nil, err
	}
	if l.cliTLS == nil {
		return l.track(c, c, addr)
	}
	tc, err := clientHandshake(c, l.cliTLS, deadline)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("consensus: raft connection to %s: %w", addr, err)
	}
	return l.track(tc, c, addr)
}

// track records c, which runs over raw, until it is closed; peer is the
// address dialed, "" for an accepted connection.
func (l *tcpLayer) track(c, raw net.Conn, peer raft.ServerAddress) (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		raw.Close()
		return nil, ErrClosed
	}
	if l.conns == nil {
		l.conns = make(map[*trackedConn]struct{})
	}
	tc := &trackedConn{Conn: c, raw: raw, l: l, peer: peer, done: make(chan struct{})}
	l.conns[tc] = struct{}{}
	return tc, nil
}

// Close closes the listener and every connection.
func (l *tcpLayer) Close() error {
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	for c := range conns {
		c.Close()
	}
	return l.Listener.Close()
}

// trackedConn is a connection of the layer: Conn carries raft's bytes
// over raw, the tcp connection (the same one, or TLS over it).
type trackedConn struct {
	net.Conn
	raw  net.Conn
	l    *tcpLayer
	peer raft.ServerAddress // the address dialed; "" if accepted
	done chan struct{}      // closed by Close
	once sync.Once
}

// Write writes p, under the fault rules when there are some.
func (c *trackedConn) Write(p []byte) (int, error) {
	if c.l.faults != nil {
		if err := c.beforeWrite(); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(p)
}

// Close closes the tcp connection. Under TLS it sends no close_notify,
// which could wait up to 5 s on a peer that stopped reading.
func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		close(c.done)
	})
	return c.raw.Close()
}

// Addr returns the raft transport address.
func (s *Server) Addr() string { return string(s.trans.LocalAddr()) }

// Store returns the server's replica of the state. Reading it directly is
// a stale read: it may lag the leader.
func (s *Server) Store() *Store { return s.store }

// Close shuts raft down and waits for the server's goroutines. It is
// idempotent. The data directory keeps the server's state for a restart.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.wg.Wait()
		if s.raft.State() == raft.Leader {
			// hand over rather than leave the others to time out
			if err := s.raft.LeadershipTransfer().Error(); err != nil {
				s.log.Debug("leadership transfer", "err", err)
			}
		}
		if err := s.raft.Shutdown().Error(); err != nil {
			s.log.Warn("raft shutdown", "err", err)
		}
		s.trans.Close()
		s.bolt.Close()
	})
	return nil
}

// Status is what a server tells the mesh about itself.
type Status struct {
	Joined bool   // part of a cluster
	Leader bool   // this server leads
	Term   uint64 // its current raft term
	// LeaderName is the leader this server knows ("" if none).
	LeaderName string
}

// Status returns the server's view of the cluster.
func (s *Server) Status() Status {
	_, lid := s.raft.LeaderWithID()
	return Status{
		Joined:     s.joined.Load(),
		Leader:     s.raft.State() == raft.Leader,
		Term:       s.raft.CurrentTerm(),
		LeaderName: string(lid),
	}
}

// statusLoop tells OnChange when the status changes.
func (s *Server) statusLoop() {
	defer s.wg.Done()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	var last Status
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		if !s.joined.Load() && s.inCluster() {
			s.joined.Store(true)
		}
		if st := s.Status(); st != last {
			last = st
			s.cfg.OnChange()
		}
	}
}

// inCluster reports whether the raft configuration has any server.
func (s *Server) inCluster() bool {
	f := s.raft.GetConfiguration()
	return f.Error() == nil && len(f.Configuration().Servers) > 0
}

// Apply replicates c through the leader, which must be this server, and
// returns its result. An error other than ErrNotLeader (with certainty
// that c was not applied) leaves the outcome unknown: retry with the same
// Client and Seq to learn it.
func (s *Server) Apply(ctx context.Context, c Command) (Result, error) {
	b, err := c.Encode()
	if err != nil {
		return Result{}, err
	}
	if s.raft.State() != raft.Leader {
		return Result{}, s.notLeader()
	}
	f := s.raft.Apply(b, timeoutOf(ctx))
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return Result{}, s.notLeader()
		}
		return Result{}, fmt.Errorf("consensus: apply: %w", err)
	}
	switch r := f.Response().(type) {
	case Result:
		return r, nil
	case error:
		return Result{}, r
	default:
		return Result{}, fmt.Errorf("consensus: apply: unexpected response %T", r)
	}
}

// Linearize returns once this server is sure it leads and its store holds
// every write acknowledged before the call: a read of the store that
// follows is linearizable.
func (s *Server) Linearize(ctx context.Context) error {
	if s.raft.State() != raft.Leader {
		return s.notLeader()
	}
	term := s.raft.CurrentTerm()
	if s.readyTerm.Load() != term {
		if err := s.raft.Barrier(timeoutOf(ctx)).Error(); err != nil {
			return fmt.Errorf("%w: %w", ErrNotLeader, err)
		}
		s.readyTerm.Store(term)
	}
	if err := s.raft.VerifyLeader().Error(); err != nil {
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	}
	return nil
}

func (s *Server) notLeader() error {
	if _, id := s.raft.LeaderWithID(); id != "" {
		return fmt.Errorf("%w: the leader is %s", ErrNotLeader, id)
	}
	return ErrNoLeader
}

// ApplyRaw hands an encoded command straight to raft: the baseline that
// benchmarks compare with.
func (s *Server) ApplyRaw(b []byte) error {
	return s.raft.Apply(b, applyTimeout).Error()
}

func timeoutOf(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Millisecond)
	}
	return applyTimeout
}

// Voters returns the raft configuration by name: its voters and nonvoters.
func (s *Server) Voters() (voters, nonvoters []string, err error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, nil, fmt.Errorf("consensus: %w", err)
	}
	for _, sv := range f.Configuration().Servers {
		if sv.Suffrage == raft.Voter {
			voters = append(voters, string(sv.ID))
		} else {
			nonvoters = append(nonvoters, string(sv.ID))
		}
	}
	sort.Strings(voters)
	sort.Strings(nonvoters)
	return voters, nonvoters, nil
}
