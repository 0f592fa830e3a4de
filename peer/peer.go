package peer

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-sockaddr"
	"github.com/hashicorp/memberlist"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/consensus"
	"github.com/pyros-mesh/pyros/discovery"
	"github.com/pyros-mesh/pyros/fault"
	"github.com/pyros-mesh/pyros/mesh"
)

// Version is the pyros version this peer announces.
const Version = "0.1.0"

// Peer is one process's member of the mesh.
type Peer struct {
	cfg       Config
	log       *slog.Logger
	codec     codec.Codec
	faults    *fault.Injector
	meter     *metrics // nil without Config.Metrics
	served    serveCounts
	gateway   atomic.Pointer[func() GatewayInfo] // SetGateway's, nil unless a gateway
	startedAt time.Time
	leader    string // the state leader last seen, for the leader change count
	node      *mesh.Node
	disc      *discovery.Discovery

	mu       sync.RWMutex
	handlers map[string]Handler
	svcTypes map[string]string // declared service types, by name
	pubMu    sync.Mutex        // orders catalog announcements
	closed   bool

	cat     *catalogIndex
	sel     *selector
	ev      *fanout
	streams *streamTable
	opening openings

	server  *consensus.Server // nil unless this peer is a state server
	session string            // this incarnation: its Ephemeral keys vanish with it
	state   *State
	started chan struct{} // closed once discovery is up

	done      chan struct{} // closed by Close
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New starts a peer: it opens its link listeners, joins the gossip (seeds
// in cfg.Join and peers found in cfg.RegistryDir) and serves until Close.
// ctx bounds the first join; seeds that do not answer are retried in the
// background.
func New(ctx context.Context, cfg Config) (*Peer, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	p := &Peer{
		cfg:      cfg,
		log:      cfg.Logger.With("peer", cfg.Name, "component", "peer"),
		handlers: make(map[string]Handler),
		svcTypes: make(map[string]string),
		sel:      newSelector(cfg.DownFor),
		ev:       newFanout(),
		streams:  newStreamTable(),
		done:     make(chan struct{}),
		session:  newSession(cfg.Name),
		started:  make(chan struct{}),
	}
	p.state = newState(p)
	p.startedAt = time.Now()
	p.handlers[svcObserve] = p.serveObserve
	p.faults = fault.New(cfg.Name, p.logFor("fault"))
	p.codec, _ = cfg.Codecs.Lookup(cfg.Codec)
	if cfg.Metrics != nil {
		m, err := newMetrics(p, cfg.Metrics)
		if err != nil {
			return nil, fmt.Errorf("%w: metrics: %w", ErrConfig, err)
		}
		p.meter = m
	}
	if err := p.start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Peer) start(ctx context.Context) error {
	host, portStr, _ := net.SplitHostPort(p.cfg.Bind)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("%w: bind port %q", ErrConfig, portStr)
	}
	mcfg := mesh.Config{
		Name:           p.cfg.Name,
		TCP:            net.JoinHostPort(host, "0"),
		Inproc:         true,
		MaxMessageSize: p.cfg.MaxMessageSize,
		Keys:           p.cfg.Keys,
		Faults:         p.faults,
		Logger:         p.logFor("mesh"),
	}
	advHost, advPort := advertise(host, p.cfg.Advertise)
	mcfg.AdvertiseHost = advHost
	if !p.cfg.DisableIPC {
		mcfg.IPCDir = p.cfg.IPCDir
	}
	if p.node, err = mesh.Listen(mcfg); err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	p.node.Handle(p.serve)
	p.node.HandleStreams(p.streamSink)
	if err := p.openServer(host, advHost); err != nil {
		p.node.Close()
		return err
	}
	md := meta{Endpoints: p.node.Endpoints(), Session: p.session}
	if p.server != nil {
		md.Raft = p.server.Addr()
	}
	meta, err := encodeMeta(md)
	if err != nil {
		p.closeServer()
		p.node.Close()
		return err
	}
	p.disc, err = discovery.New(discovery.Config{
		Name:             p.cfg.Name,
		BindAddr:         host,
		BindPort:         port,
		AdvertiseAddr:    advHost,
		AdvertisePort:    advPort,
		Meta:             meta,
		Join:             p.cfg.Join,
		RegistryDir:      p.cfg.RegistryDir,
		RegistryReadOnly: p.cfg.RegistryReadOnly,
		Memberlist:       p.gossipConfig(),
		Keys:             p.cfg.Keys,
		Faults:           p.faults,
		LAN:              p.lan(host, advHost),
		Logger:           p.logFor("discovery"),
	})
	if err != nil {
		p.closeServer()
		p.node.Close()
		return fmt.Errorf("peer: %w", err)
	}
	p.cat = newCatalogIndex(p.disc)
	close(p.started)
	p.publishCatalog()
	p.wg.Add(2)
	go p.eventLoop()
	go p.routeLoop()
	if len(p.cfg.Join) > 0 {
		p.join(ctx)
	}
	return nil
}

// gossipConfig is the configured memberlist tuning, labelled with the mesh
// name: gossip of another mesh is refused even through --join.
func (p *Peer) gossipConfig() *memberlist.Config {
	g := *p.cfg.Gossip
	g.Label = p.cfg.Mesh
	return &g
}

// lan returns the LAN discovery settings, or nil when LAN discovery is off
// or would be useless: a peer bound to loopback cannot be reached from the
// LAN, so it announces nothing.
func (p *Peer) lan(bindHost, advHost string) *discovery.LANDiscovery {
	if !p.cfg.LAN {
		return nil
	}
	host := advHost
	if host == "" {
		host = bindHost
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		p.log.Info("LAN discovery off: the peer is bound to loopback", "bind", p.cfg.Bind)
		return nil
	}
	return &discovery.LANDiscovery{Mesh: p.cfg.Mesh}
}

// joinWait bounds how long New waits for the first join.
const joinWait = 5 * time.Second

// join waits until discovery, which joins the seeds in the background and
// keeps retrying, has reached one, so the peer starts with the catalog.
func (p *Peer) join(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, joinWait)
	defer cancel()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for len(p.disc.Members()) < 2 {
		select {
		case <-ctx.Done():
			p.log.Warn("no seed answered yet; retrying in the background", "seeds", p.cfg.Join)
			return
		case <-t.C:
		}
	}
	p.cat.rebuild()
}

// advertise returns the host and port others reach this peer at: those of
// Advertise when set; else, when the peer binds every interface, the
// private IP address memberlist itself would choose (not 0.0.0.0, which
// nobody can dial), or a public one, or loopback when the host has no
// other; else the bind host.
func advertise(bindHost, adv string) (string, int) {
	host, port := splitAdvertise(adv)
	if host != "" {
		return host, port
	}
	if ip := net.ParseIP(bindHost); ip == nil || !ip.IsUnspecified() {
		return "", port
	}
	for _, find := range []func() (string, error){sockaddr.GetPrivateIP, sockaddr.GetPublicIP} {
		if ip, err := find(); err == nil && ip != "" {
			return ip, port
		}
	}
	return "127.0.0.1", port
}

func splitAdvertise(adv string) (string, int) {
	if adv == "" {
		return "", 0
	}
	host, port, err := net.SplitHostPort(adv)
	if err != nil {
		return adv, 0
	}
	n, _ := strconv.Atoi(port)
	return host, n
}

// logFor is the logger of one of the peer's components: every line names
// the peer and the component.
func (p *Peer) logFor(component string) *slog.Logger {
	return p.cfg.Logger.With("peer", p.cfg.Name, "component", component)
}

// Faults is the peer's fault injector: rules set there (a partition, a
// delay, a drop rate) act on the peer's own links, gossip and raft
// traffic, for fault-tolerance experiments. See package fault.
func (p *Peer) Faults() *fault.Injector { return p.faults }

// Name returns the peer's name.
func (p *Peer) Name() string { return p.cfg.Name }

// Addr returns the gossip address other peers can join.
func (p *Peer) Addr() string { return p.disc.LocalAddr() }

// Endpoints returns this peer's link endpoints.
func (p *Peer) Endpoints() mesh.Endpoints { return p.node.Endpoints() }

// Codecs returns the codecs this peer understands.
func (p *Peer) Codecs() *codec.Registry { return p.cfg.Codecs }

// Close leaves the mesh gracefully (others stop routing to this peer),
// finishes running handlers (refusing new requests so callers move on),
// closes every link and waits for all goroutines. It is idempotent.
func (p *Peer) Close() error {
	p.closeOnce.Do(func() {
		p.state.release()
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		close(p.done)
		p.closeServer()
		p.disc.Close() // leave first: others stop choosing us
		p.node.Close()
		p.wg.Wait()
		p.ev.close()
	})
	return nil
}

func (p *Peer) isClosed() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.closed
}

func (p *Peer) closeServer() {
	if p.server != nil {
		p.server.Close()
	}
}
