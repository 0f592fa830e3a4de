package discovery

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/pyros-mesh/pyros/meshkey"
)

// inlineHeadroom is the part of memberlist's UDP buffer left to its own
// messages; state messages up to UDPBufferSize-inlineHeadroom bytes (1000 with
// the presets) are gossiped whole, larger ones as notices.
const inlineHeadroom = 400

// Discovery is a member of a mesh: it tracks the live members and replicates
// each member's state document to all others. It is safe for concurrent use.
type Discovery struct {
	seedRounds     atomic.Uint64 // rounds over the seeds made so far
	name           string
	logger         *slog.Logger
	ml             *memberlist.Memberlist
	transport      *guardedTransport
	table          *stateTable
	fetcher        *fetcher
	events         *eventQueue
	out            chan Event
	registry       *registry
	lan            *lan // nil unless Config.LAN
	seeds          []string
	localAddr      string
	leaveDelay     time.Duration // time for the leave message to propagate
	reconnectEvery time.Duration // how often a failed member is retried
	mlLog          *logWriter

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	stop   chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex // guards closed and wg.Add
	closed bool

	crashed   atomic.Bool // memberlist was shut down without leaving
	closeOnce sync.Once
	closeErr  error
}

// New starts a member: it binds the gossip port, publishes Config.Meta and
// Config.State, and starts joining Config.Join and the registry directory,
// and announcing itself on the LAN with Config.LAN, in the background. It
// fails only on invalid configuration or when the port, the LAN discovery
// group port or the registry directory cannot be used.
func New(cfg Config) (*Discovery, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("member", cfg.Name)
	mlc := LANConfig()
	if cfg.Memberlist != nil {
		c := *cfg.Memberlist
		mlc = &c
	}
	stdLogger, mlLog := newMemberlistLogger(logger)
	mlc.Logger, mlc.LogOutput = stdLogger, nil
	if err := setupEncryption(mlc, cfg.Keys, logger); err != nil {
		return nil, err
	}
	var keys func() [][]byte
	if mlc.Keyring != nil {
		keys = mlc.Keyring.GetKeys
	}
	tr, err := newGuardedTransport(transportConfig{
		bindAddr:  cmp.Or(cfg.BindAddr, "0.0.0.0"),
		bindPort:  cfg.BindPort,
		timeout:   mlc.TCPTimeout,
		keys:      keys,
		plain:     !mlc.GossipVerifyIncoming,
		label:     mlc.Label,
		faults:    cfg.Faults,
		logger:    logger.With("sub", "transport"),
		stdLogger: stdLogger,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Discovery{
		name:      cfg.Name,
		logger:    logger,
		transport: tr,
		events:    newEventQueue(),
		out:       make(chan Event, eventChanCap),
		mlLog:     mlLog,
		ctx:       ctx,
		cancel:    cancel,
		stop:      make(chan struct{}),
		// Enough for the leave's last transmissions and one relay hop.
		leaveDelay: 3 * mlc.GossipInterval,
		// a few probe rounds: 5 s with LAN timers, 2 s with local ones
		reconnectEvery: 10 * mlc.ProbeInterval,
	}
	if err := d.launch(cfg, mlc); err != nil {
		cancel()
		_ = tr.Shutdown()
		return nil, err
	}
	d.start()
	return d, nil
}

// launch builds the state layer, starts memberlist on the bound transport and
// publishes the member in the registry directory.
func (d *Discovery) launch(cfg Config, mlc *memberlist.Config) error {
	port := d.transport.port()
	mlc.Name, mlc.BindAddr, mlc.BindPort = cfg.Name, cmp.Or(cfg.BindAddr, "0.0.0.0"), port
	mlc.AdvertiseAddr, mlc.AdvertisePort = cfg.AdvertiseAddr, cmp.Or(cfg.AdvertisePort, port)
	mlc.Transport = d.transport

	var f *fetcher
	d.table = newStateTable(cfg.Name, incarnation(), cfg.State, mlc.UDPBufferSize-inlineHeadroom,
		mlc.RetransmitMult, d.events, func() { f.wake() }, d.logger)
	f = newFetcher(d.table, fetchRetry(mlc), d.logger)
	d.fetcher = f
	dg := &delegate{meta: slices.Clone(cfg.Meta), table: d.table, fetcher: f, learn: d.transport.learn, logger: d.logger}
	mlc.Delegate, mlc.Events = dg, dg

	ml, err := memberlist.Create(mlc)
	if err != nil {
		return fmt.Errorf("discovery: start memberlist: %w", err)
	}
	d.ml, f.send = ml, ml.SendReliable
	d.localAddr = ml.LocalNode().Address()
	for _, s := range cfg.Join {
		if s != d.localAddr {
			d.seeds = append(d.seeds, s)
		}
	}
	if cfg.RegistryDir != "" {
		if d.registry, err = openRegistry(cfg.RegistryDir, cfg.Name, d.localAddr, !cfg.RegistryReadOnly, d.logger); err != nil {
			_ = ml.Shutdown()
			return err
		}
	}
	if cfg.LAN != nil {
		if d.lan, err = d.openLAN(cfg); err != nil {
			_ = ml.Shutdown()
			if d.registry != nil {
				_ = d.registry.remove()
			}
			return err
		}
	}
	return nil
}

// setupEncryption configures memberlist's encryption: from the mesh key ring
// when there is one, kept in step with it; otherwise memberlist's own
// SecretKey is turned into a keyring here rather than in memberlist.Create,
// so that the transport can authenticate traffic with it.
func setupEncryption(mlc *memberlist.Config, ring *meshkey.Ring, logger *slog.Logger) error {
	if ring != nil {
		g, err := newGossipKeys(ring, logger.With("sub", "keys"))
		if err != nil {
			return err
		}
		mlc.Keyring, mlc.SecretKey = g.keyring, nil
		mlc.GossipVerifyIncoming, mlc.GossipVerifyOutgoing = true, true
		return nil
	}
	if len(mlc.SecretKey) > 0 && mlc.Keyring == nil {
		kr, err := memberlist.NewKeyring(nil, mlc.SecretKey)
		if err != nil {
			return fmt.Errorf("%w: Memberlist.SecretKey: %w", ErrInvalidConfig, err)
		}
		mlc.Keyring, mlc.SecretKey = kr, nil
	}
	return nil
}

// openLAN binds the LAN discovery socket; its loops start with the member.
func (d *Discovery) openLAN(cfg Config) (*lan, error) {
	settings, err := cfg.LAN.settings()
	if err != nil {
		return nil, err
	}
	var keys *beaconKeys
	if cfg.Keys != nil {
		if keys, err = newBeaconKeys(cfg.Keys); err != nil {
			return nil, err
		}
	}
	return newLAN(lanParams{
		settings: settings,
		self:     cfg.Name,
		port:     uint16(d.transport.port()),
		bindIP:   net.ParseIP(cfg.BindAddr),
		keys:     keys,
		alive: func(name string) bool {
			_, ok := d.table.get(name)
			return ok
		},
		join:   d.joinFound,
		logger: d.logger.With("sub", "lan"),
	})
}

// joinFound joins a member heard of on the LAN.
func (d *Discovery) joinFound(addr string) {
	if n, err := d.ml.Join([]string{addr}); n == 0 {
		d.logger.Warn("cannot join a member found on the LAN", "addr", addr, "err", err)
		return
	}
	d.logger.Info("joined a member found on the LAN", "addr", addr)
}

// incarnation identifies this run of the member. Start time in nanoseconds
// orders a restarted member after its previous runs as long as the clock
// does not step back across the restart; if it does, the state table
// re-issues the local document above any stale version it hears of.
func incarnation() uint64 {
	return uint64(max(time.Now().UnixNano(), 1))
}

func (d *Discovery) start() {
	d.goFunc(func() { d.events.deliver(d.out, d.stop) })
	d.goFunc(func() { d.fetcher.schedule(d.stop) })
	for range fetchWorkers {
		d.goFunc(func() { d.fetcher.work(d.stop) })
	}
	if len(d.seeds) > 0 || d.registry != nil {
		d.goFunc(d.seedLoop)
	}
	if d.lan != nil {
		d.lan.start(d.goFunc)
	}
	d.goFunc(func() { d.reconnectLoop(d.reconnectEvery) })
}

// goFunc runs f in a goroutine that Close waits for. It reports false, and
// does not run f, once Close has begun.
func (d *Discovery) goFunc(f func()) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		f()
	}()
	return true
}

// LocalAddr returns the gossip address ("ip:port") other members can join.
func (d *Discovery) LocalAddr() string { return d.localAddr }

// Members returns the live members, the local one included, sorted by name.
func (d *Discovery) Members() []Member { return d.table.list() }

// Member returns the named live member.
func (d *Discovery) Member(name string) (Member, bool) { return d.table.get(name) }

// SetState replaces the local state document; see UpdateState. Errors (a
// document over MaxStateSize, a closed Discovery) are logged, and the
// document is then not published.
func (d *Discovery) SetState(state []byte) {
	if err := d.UpdateState(state); err != nil {
		d.logger.Error("state not published", "err", err)
	}
}

// UpdateState replaces the local state document under the next version and
// spreads it: documents that fit a gossip packet are gossiped whole and
// relayed by every member; larger ones are announced by a gossiped notice
// upon which each member fetches the document from this one. state is
// copied. It fails with ErrStateTooLarge or ErrClosed.
func (d *Discovery) UpdateState(state []byte) error {
	if len(state) > MaxStateSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrStateTooLarge, len(state), MaxStateSize)
	}
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return ErrClosed
	}
	d.table.setLocal(state)
	return nil
}

// Events returns the channel of membership and state changes, in the order
// they were observed (see Event). Its buffer holds 256 events; behind it an
// internal queue absorbs bursts without ever blocking the gossip layer,
// superseding a pending EventUpdate of a member by a newer one and, past
// 4096 pending updates, dropping the oldest update. Join, Leave and Fail
// events are never dropped. The channel is closed by Close.
func (d *Discovery) Events() <-chan Event { return d.out }
