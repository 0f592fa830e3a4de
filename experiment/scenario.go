package experiment

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/pyros-mesh/pyros/fault"
	"github.com/pyros-mesh/pyros/launcher"
)

type faultRules = fault.Rules

// ErrScenario is returned for an invalid scenario file.
var ErrScenario = errors.New("experiment: invalid scenario")

// Scenario is an experiment: a mesh, a workload run against it for a
// while, and faults injected on a schedule. In TOML:
//
//	name = "leader killed under writes"
//	duration = "12s"        # how long the workload runs
//	[mesh]
//	peers = 3               # p1..pN, demo services, p1-p3 state servers
//	[workload]
//	clients = 4             # state clients: put, get, cas, delete on keys
//	calls = 2               # service clients calling demo/echo
//	stream = true           # exp-pub publishes to exp-sub
//	[[fault]]
//	at = "3s"
//	do = "kill"             # kill pause resume restart partition delay drop heal
//	peer = "leader"         # leader, follower, a name, or exp-pub / exp-sub
//	for = "3s"              # undone after: restart, resume or heal
type Scenario struct {
	Name     string      `toml:"name"`
	Duration Duration    `toml:"duration"`
	Settle   Duration    `toml:"settle"` // after the last fault is undone, before the final reads; default 3s
	Mesh     MeshSpec    `toml:"mesh"`
	Workload Workload    `toml:"workload"`
	Faults   []FaultSpec `toml:"fault"`
	Checks   Checks      `toml:"checks"`
}

// MeshSpec is the mesh to start: Peers peers as `pyros-peer up -n` starts
// them, or the peers listed.
type MeshSpec struct {
	Peers  int                 `toml:"peers"`
	Gossip string              `toml:"gossip"`
	Peer   []launcher.PeerSpec `toml:"peer"`
}

// Workload is what the runner's clients do during the experiment.
type Workload struct {
	Clients  int      `toml:"clients"`   // state clients; default 3 when the mesh has state servers
	Keys     int      `toml:"keys"`      // keys they share; default 5
	Rate     float64  `toml:"rate"`      // ops per second per state client; default 20
	Calls    int      `toml:"calls"`     // clients calling demo/echo
	CallRate float64  `toml:"call_rate"` // calls per second per client; default 50
	Stream   bool     `toml:"stream"`    // publish from exp-pub to exp-sub
	PubRate  float64  `toml:"pub_rate"`  // messages per second; default 200
	Timeout  Duration `toml:"timeout"`   // each op's deadline; default 2s
}

// FaultSpec is one fault of the schedule, or a series of them with Every
// and Count.
type FaultSpec struct {
	At     Duration `toml:"at"`
	Do     string   `toml:"do"`
	Peer   string   `toml:"peer"`   // kill, pause, resume, restart, delay, drop
	Groups string   `toml:"groups"` // partition: "leader / rest", "p1,p2 / p3"
	Value  string   `toml:"value"`  // delay: "50ms"; drop: "20%"
	For    Duration `toml:"for"`    // undo after this long
	Every  Duration `toml:"every"`  // repeat every ...
	Count  int      `toml:"count"`  // ... this many times (default 1)
}

// Checks are what a run must show to pass.
type Checks struct {
	Linearizable *bool `toml:"linearizable"` // default true
	LostWrites   int   `toml:"lost_writes"`  // acknowledged writes allowed to be lost; default 0
	Hung         int   `toml:"hung"`         // ops allowed past their deadline; default 0
}

// Duration is a time.Duration written "1.5s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText reads a Go duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("negative duration %s", b)
	}
	d.Duration = v
	return nil
}

// ReadScenario reads and checks a scenario file.
func ReadScenario(path string) (Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, fmt.Errorf("experiment: %w", err)
	}
	return ParseScenario(string(b))
}

// ParseScenario reads and checks a scenario.
func ParseScenario(text string) (Scenario, error) {
	var s Scenario
	md, err := toml.Decode(text, &s)
	if err != nil {
		return s, fmt.Errorf("%w: %w", ErrScenario, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return s, fmt.Errorf("%w: unknown key %q", ErrScenario, und[0].String())
	}
	s.defaults()
	return s, s.check()
}

func (s *Scenario) defaults() {
	if s.Name == "" {
		s.Name = "experiment"
	}
	if s.Settle.Duration == 0 {
		s.Settle.Duration = 3 * time.Second
	}
	if len(s.Mesh.Peer) == 0 {
		if s.Mesh.Peers == 0 {
			s.Mesh.Peers = 3
		}
		s.Mesh.Peer = launcher.Default(s.Mesh.Peers).Peers
	}
	w := &s.Workload
	if w.Clients == 0 && w.Calls == 0 && !w.Stream && hasServers(s.Mesh.Peer) {
		w.Clients = 3
	}
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&w.Rate, 20)
	def(&w.CallRate, 50)
	def(&w.PubRate, 200)
	if w.Keys == 0 {
		w.Keys = 5
	}
	if w.Timeout.Duration == 0 {
		w.Timeout.Duration = 2 * time.Second
	}
	if s.Checks.Linearizable == nil {
		t := true
		s.Checks.Linearizable = &t
	}
	for i := range s.Faults {
		if s.Faults[i].Count == 0 {
			s.Faults[i].Count = 1
		}
	}
}

func hasServers(ps []launcher.PeerSpec) bool {
	for _, p := range ps {
		if p.State {
			return true
		}
	}
	return false
}

// meshFile is the launcher's description of the mesh.
func (s Scenario) meshFile() launcher.File {
	return launcher.File{Gossip: s.Mesh.Gossip, Peers: s.Mesh.Peer}
}

func (s Scenario) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrScenario, fmt.Sprintf(format, args...))
	}
	if s.Duration.Duration <= 0 || s.Duration.Duration > time.Hour {
		return bad("duration must be between 0 and 1h")
	}
	w := s.Workload
	switch {
	case w.Clients < 0 || w.Clients > 64, w.Calls < 0 || w.Calls > 64:
		return bad("clients and calls must be 0 to 64")
	case w.Rate < 0 || w.Rate > 1000, w.CallRate < 0 || w.CallRate > 10000, w.PubRate < 0 || w.PubRate > 100000:
		return bad("rates out of range")
	case w.Clients > 0 && !hasServers(s.Mesh.Peer):
		return bad("state clients need state servers in the mesh")
	}
	for i, f := range s.Faults {
		if err := f.check(); err != nil {
			return bad("fault %d: %v", i+1, err)
		}
	}
	return nil
}

func (f FaultSpec) check() error {
	switch f.Do {
	case "kill", "pause", "resume", "restart":
		if f.Peer == "" {
			return fmt.Errorf("%s needs peer", f.Do)
		}
		if strings.HasPrefix(f.Peer, "exp-") {
			return fmt.Errorf("%s acts on the mesh's processes, not on the runner's peer %s", f.Do, f.Peer)
		}
	case "delay", "drop":
		if f.Peer == "" || f.Value == "" {
			return fmt.Errorf("%s needs peer and value", f.Do)
		}
		if _, err := f.rules(); err != nil {
			return err
		}
	case "partition":
		if !strings.Contains(f.Groups, "/") {
			return errors.New(`partition needs groups, like "leader / rest"`)
		}
	case "heal":
	default:
		return fmt.Errorf("unknown fault %q", f.Do)
	}
	if f.Count < 1 || f.Count > 1000 || (f.Count > 1 && f.Every.Duration <= f.For.Duration) {
		return errors.New("count must be 1 to 1000, and every longer than for")
	}
	return nil
}

// rules parses the value of a delay or drop fault.
func (f FaultSpec) rules() (func(*faultRules), error) {
	if f.Do == "delay" {
		d, err := time.ParseDuration(f.Value)
		if err != nil || d < 0 || d > time.Minute {
			return nil, fmt.Errorf("delay value must be a duration up to 1m, not %q", f.Value)
		}
		return func(r *faultRules) { r.Delay = d }, nil
	}
	p, err := strconv.ParseFloat(strings.TrimSuffix(f.Value, "%"), 64)
	if strings.HasSuffix(f.Value, "%") {
		p /= 100
	}
	if err != nil || p < 0 || p > 1 {
		return nil, fmt.Errorf("drop value must be 0%% to 100%%, not %q", f.Value)
	}
	return func(r *faultRules) { r.Drop = p }, nil
}
