package rosgw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/apimaster"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pyros-mesh/pyros/peer"
)

// ErrConfig reports an invalid gateway configuration.
var ErrConfig = errors.New("rosgw: invalid configuration")

// Config configures a Gateway.
type Config struct {
	// Master is the ROS master's URI. Default $ROS_MASTER_URI, else
	// http://127.0.0.1:11311.
	Master string
	// Prefix is where ROS names live in the mesh: the ROS topic
	// /robot/odom is the stream ros/robot/odom. Default "ros".
	Prefix string
	// Include and Exclude select the ROS names bridged, as path.Match
	// patterns on the ROS name ("/robot/*"); a name is bridged when it
	// matches an Include pattern (none: everything) and no Exclude one.
	// A leading "**/" matches any depth: "**/get_loggers". ROS's own
	// names (DefaultExclude) are always excluded.
	Include, Exclude []string
	// Node names the gateway's ROS node: pyros_<Node>, default
	// pyros_<peer name>. Nodes named pyros_* are gateways: what they
	// publish or provide is not imported.
	Node string
	// Poll is how often the ROS graph is read, and so how soon the gateway
	// sees a new name, or a master that restarted. Default 500 ms.
	Poll time.Duration
	// WaitForMaster lets Start succeed when the master does not answer:
	// the gateway joins it when it does. false: Start fails, which is the
	// clearer answer to a mistyped URI.
	WaitForMaster bool
	// Logger receives the gateway's logs; nil: the peer's.
	Logger *slog.Logger
	// Metrics, if set, receives the gateway's Prometheus metrics: the
	// bridged topics and services (pyros_ros_bridges,
	// pyros_ros_bridge_info), failed bridging attempts and whether the
	// master answers. They are unregistered by Close. nil: no metrics.
	Metrics prometheus.Registerer
}

// DefaultExclude are ROS names every node has or that belong to one master:
// logging topics and services, and the master's identity parameters.
var DefaultExclude = []string{"/rosout", "/rosout_agg", "/run_id", "/rosversion", "/rosdistro", "/roslaunch/*",
	"**/get_loggers", "**/set_logger_level"}

func (c *Config) setDefaults(p *peer.Peer) error {
	c.Exclude = append(slices.Clone(c.Exclude), DefaultExclude...)
	c.Master = firstOf(c.Master, os.Getenv("ROS_MASTER_URI"), "http://127.0.0.1:11311")
	if _, err := hostOf(c.Master); err != nil {
		return err
	}
	c.Prefix = strings.Trim(firstOf(c.Prefix, "ros"), "/")
	c.Node = nodePrefix + rosSafe(firstOf(c.Node, p.Name()))
	if c.Poll <= 0 {
		c.Poll = 500 * time.Millisecond
	}
	for _, pat := range append(c.Include, c.Exclude...) {
		if _, err := path.Match(pat, "/"); err != nil {
			return fmt.Errorf("%w: pattern %q: %v", ErrConfig, pat, err)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// rosSafe turns a peer name into a valid ROS name part.
func rosSafe(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, name)
}

// Gateway bridges one ROS master's graph into the mesh through a peer.
type Gateway struct {
	p         *peer.Peer
	cfg       Config
	log       *slog.Logger
	node      *goroslib.Node // nil while the gateway is no node of the master
	master    *apimaster.Client
	defs      *definitions
	params    *params
	masterID  string          // the master, as ownership keys name it
	haveState bool            // the mesh has state servers, as of this round (the run goroutine only)
	left      time.Time       // when the gateway last left a restarted master: it does so once per retryAfter at most (the run goroutine only)
	down      bool            // the master did not answer the last poll, and that was logged (idem)
	restarted bool            // the gateway left a restarted master and has yet to restore its parameters (idem)
	ctx       context.Context // ends with Close
	cancel    context.CancelFunc

	mu         sync.Mutex
	imports    map[string]*importer  // by ROS topic
	exports    map[string]*exporter  // by ROS topic
	srvImports map[string]*srvImport // by ROS service
	srvExports map[string]*srvExport // by ROS service
	retry      failures

	bridges  atomic.Pointer[[]bridge] // as of the last sync round (publishBridges)
	failed   atomic.Uint64            // bridging attempts that failed
	masterUp atomic.Bool              // the last read of the ROS graph succeeded
	metrics  *collector               // registered in cfg.Metrics, or nil

	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Start connects to the ROS master as a node and bridges its graph until
// Close. It fails if the master does not answer, unless cfg.WaitForMaster.
// The gateway follows the master across its restarts: it joins a master
// that restarted as a new node and bridges its graph anew.
func Start(ctx context.Context, p *peer.Peer, cfg Config) (*Gateway, error) {
	if err := cfg.setDefaults(p); err != nil {
		return nil, err
	}
	host, _ := hostOf(cfg.Master)
	g := &Gateway{p: p, cfg: cfg, log: cfg.Logger.With("component", "rosgw"),
		imports: make(map[string]*importer), exports: make(map[string]*exporter),
		srvImports: make(map[string]*srvImport), srvExports: make(map[string]*srvExport), done: make(chan struct{})}
	g.master = apimaster.NewClient(host, "/"+cfg.Node, &http.Client{Timeout: probeTimeout})
	if err := g.join(); err != nil {
		if !cfg.WaitForMaster {
			return nil, err
		}
		g.down = true
		g.log.Warn("ROS master unreachable; joining it when it answers", "master", cfg.Master, "err", err)
	}
	if cfg.Metrics != nil {
		g.metrics = &collector{g}
		if err := cfg.Metrics.Register(g.metrics); err != nil {
			if g.node != nil {
				g.node.Close()
			}
			return nil, fmt.Errorf("%w: metrics: %w", ErrConfig, err)
		}
	}
	g.defs = newDefinitions(p, g.log)
	g.params = newParams(g, host)
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.wg.Add(2)
	go g.run()
	go g.watchParams()
	p.SetGateway(g.Info)
	return g, nil
}

func (g *Gateway) rosLog(level goroslib.LogLevel, msg string) {
	l := slog.LevelInfo
	if level >= goroslib.LogLevelWarn {
		l = slog.LevelWarn
	}
	g.log.Log(context.Background(), l, msg, "from", "goroslib")
}

// Close stops bridging, leaves the ROS graph and waits. It is idempotent.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		g.p.SetGateway(nil)
		if g.metrics != nil {
			g.cfg.Metrics.Unregister(g.metrics)
		}
		close(g.done)
		g.cancel()
		g.wg.Wait()
		g.dropBridges()
		g.publishBridges()
		g.defs.wg.Wait()
		if g.node != nil {
			g.node.Close()
		}
	})
	return nil
}

// run follows the ROS graph and the mesh's streams.
func (g *Gateway) run() {
	defer g.wg.Done()
	t := time.NewTicker(g.cfg.Poll)
	defer t.Stop()
	for {
		if state := g.graph(); state != nil {
			g.sync(state)
			g.params.fromROS(g.ctx)
		}
		select {
		case <-g.done:
			return
		case <-t.C:
		}
	}
}

// watchParams copies shared state changes into ROS parameters; it waits
// for state servers when the mesh has none.
func (g *Gateway) watchParams() {
	defer g.wg.Done()
	for g.ctx.Err() == nil {
		err := g.params.toROS(g.ctx)
		if g.ctx.Err() != nil {
			return
		}
		g.log.Debug("parameters: waiting for the shared state", "err", err)
		select {
		case <-g.ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

// included reports whether the ROS name is bridged.
func (g *Gateway) included(name string) bool {
	match := func(pats []string) bool {
		return slices.ContainsFunc(pats, func(p string) bool { return matchName(p, name) })
	}
	return (len(g.cfg.Include) == 0 || match(g.cfg.Include)) && !match(g.cfg.Exclude)
}

// matchName reports whether a ROS name matches a pattern: path.Match,
// where a leading "**/" also matches any number of leading segments
// ("**/get_loggers" matches /a/get_loggers and /a/b/get_loggers).
func matchName(pat, name string) bool {
	rest, deep := strings.CutPrefix(pat, "**/")
	if !deep {
		ok, _ := path.Match(pat, name)
		return ok
	}
	for i := range len(name) {
		if name[i] == '/' {
			if ok, _ := path.Match(rest, name[i+1:]); ok {
				return true
			}
		}
	}
	return false
}

// meshName maps a ROS name to its mesh name, and back.
func (g *Gateway) meshName(rosName string) string { return g.cfg.Prefix + rosName }

func (g *Gateway) rosName(meshName string) (string, bool) {
	rest, ok := strings.CutPrefix(meshName, g.cfg.Prefix+"/")
	return "/" + rest, ok && rest != ""
}

// attempt runs a bridging step unless it failed recently, and logs a
// failure once in a row of them.
func (g *Gateway) attempt(key string, f func() error) bool {
	now := time.Now()
	if !g.retry.due(key, now) {
		return false
	}
	if err := f(); err != nil {
		g.failed.Add(1)
		if g.retry.failed(key, now) {
			g.log.Warn("cannot bridge "+key+"; retrying every "+retryAfter.String(), "err", err)
		}
		return false
	}
	g.retry.ok(key)
	return true
}
