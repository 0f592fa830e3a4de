package peer

import (
	"context"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pyros-mesh/pyros/fault"
)

// svcObserve answers with the peer's Observation.
const svcObserve = "pyros.observe"

// Observation is what one peer sees and does, for whoever draws the mesh:
// any peer can ask any other for its own (Observe), so that a partition
// shows as peers that see different members.
type Observation struct {
	Name    string                 `json:"name" msgpack:"name"`
	Host    string                 `json:"host" msgpack:"host"`
	Started time.Time              `json:"started" msgpack:"started"`
	Role    string                 `json:"role,omitempty" msgpack:"role,omitempty"` // "leader" or "server" for state servers
	Sees    []string               `json:"sees" msgpack:"sees"`                     // members it sees alive, itself included
	Links   []string               `json:"links" msgpack:"links"`                   // peers it dialed links to
	Served  map[string]ServedStats `json:"served,omitempty" msgpack:"served,omitempty"`
	Streams map[string]StreamStats `json:"streams,omitempty" msgpack:"streams,omitempty"`
	Faults  fault.Rules            `json:"faults" msgpack:"faults"`
	Gateway *GatewayInfo           `json:"gateway,omitempty" msgpack:"gateway,omitempty"` // set on gateway peers (SetGateway)
}

// GatewayInfo is what a gateway peer bridges between the mesh and a ROS 1
// master. Names are mesh names (stream and service names), sorted.
type GatewayInfo struct {
	Master           string   `json:"master" msgpack:"master"`                                           // the ROS master's URI
	TopicsImported   []string `json:"topics_imported,omitempty" msgpack:"topics_imported,omitempty"`     // ROS topics published as mesh streams
	TopicsExported   []string `json:"topics_exported,omitempty" msgpack:"topics_exported,omitempty"`     // mesh streams published as ROS topics
	ServicesImported []string `json:"services_imported,omitempty" msgpack:"services_imported,omitempty"` // ROS services offered in the mesh
	ServicesExported []string `json:"services_exported,omitempty" msgpack:"services_exported,omitempty"` // mesh services offered in ROS
}

// ServedStats counts the requests a peer's handler of one service answered.
type ServedStats struct {
	Requests uint64  `json:"requests" msgpack:"requests"`
	Errors   uint64  `json:"errors" msgpack:"errors"`
	Seconds  float64 `json:"seconds" msgpack:"seconds"` // total handler time
}

// StreamStats counts one stream's messages at one peer.
type StreamStats struct {
	Sent     uint64 `json:"sent" msgpack:"sent"`
	Received uint64 `json:"received" msgpack:"received"`
	Dropped  uint64 `json:"dropped" msgpack:"dropped"`
	Lost     uint64 `json:"lost" msgpack:"lost"`
}

// serveCounts are the peer's ServedStats, updated on every request.
type serveCounts struct {
	m sync.Map // service -> *serveCount
}

type serveCount struct{ requests, errors, nanos atomic.Uint64 }

func (c *serveCounts) add(service string, d time.Duration, failed bool) {
	v, ok := c.m.Load(service)
	if !ok {
		v, _ = c.m.LoadOrStore(service, &serveCount{})
	}
	sc := v.(*serveCount)
	sc.requests.Add(1)
	sc.nanos.Add(uint64(max(d, 0)))
	if failed {
		sc.errors.Add(1)
	}
}

func (c *serveCounts) snapshot() map[string]ServedStats {
	out := map[string]ServedStats{}
	c.m.Range(func(k, v any) bool {
		sc := v.(*serveCount)
		out[k.(string)] = ServedStats{Requests: sc.requests.Load(), Errors: sc.errors.Load(), Seconds: float64(sc.nanos.Load()) / 1e9}
		return true
	})
	return out
}

// SetGateway makes this peer a gateway in its Observation: info is called
// at every observation, from any goroutine, and must not block long (the
// callers of Observe wait for it). nil clears it.
func (p *Peer) SetGateway(info func() GatewayInfo) {
	if info == nil {
		p.gateway.Store(nil)
		return
	}
	p.gateway.Store(&info)
}

// Observation returns what this peer sees and does now.
func (p *Peer) Observation() Observation {
	host, _ := os.Hostname()
	o := Observation{Name: p.cfg.Name, Host: host, Started: p.startedAt, Links: p.node.Links(),
		Served: p.served.snapshot(), Streams: map[string]StreamStats{}, Faults: p.faults.Rules()}
	for _, m := range p.Members() {
		o.Sees = append(o.Sees, m.Name)
		if m.Self {
			o.Role = m.Role
		}
	}
	sort.Strings(o.Sees)
	sort.Strings(o.Links)
	pubs, subs := p.streams.totals()
	for name, s := range pubs {
		st := o.Streams[name]
		st.Sent, st.Dropped = s.Sent, s.Dropped
		o.Streams[name] = st
	}
	for name, s := range subs {
		st := o.Streams[name]
		st.Received, st.Lost = s.Received, s.Lost
		st.Dropped += s.Dropped
		o.Streams[name] = st
	}
	if info := p.gateway.Load(); info != nil {
		gi := (*info)()
		o.Gateway = &gi
	}
	return o
}

// Observe asks the named member for its Observation.
func (p *Peer) Observe(ctx context.Context, member string) (Observation, error) {
	if member == p.cfg.Name {
		return p.Observation(), nil
	}
	var o Observation
	err := p.callPeer(ctx, member, svcObserve, struct{}{}, &o)
	return o, err
}

func (p *Peer) serveObserve(context.Context, *Request) (any, error) { return p.Observation(), nil }
