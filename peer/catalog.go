package peer

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/discovery"
	"github.com/pyros-mesh/pyros/mesh"
)

// wire is the codec of what peers gossip about themselves; it decodes
// hostile input safely.
var wire = codec.NewMsgpack()

// meta is the small, static part of a member's announcement.
type meta struct {
	Version   string         `msgpack:"v"`
	Endpoints mesh.Endpoints `msgpack:"e"`
	Session   string         `msgpack:"s,omitempty"` // this incarnation of the peer
	Raft      string         `msgpack:"r,omitempty"` // raft address of a state server
}

// catalog is what a member provides; it can be large, and changes.
type catalog struct {
	Services []string             `msgpack:"s"`
	Types    map[string]string    `msgpack:"y,omitempty"` // declared service types
	Streams  map[string]StreamUse `msgpack:"t"`
	State    *serverState         `msgpack:"st,omitempty"`
}

// serverState is what a state server tells the mesh about itself.
type serverState struct {
	Expect int    `msgpack:"x"`
	Joined bool   `msgpack:"j"`
	Leader bool   `msgpack:"l"`
	Term   uint64 `msgpack:"t"`
}

// StreamUse counts a member's publishers and subscriptions of a stream.
type StreamUse struct {
	Pubs int `msgpack:"p" json:"publishers"`
	Subs int `msgpack:"s" json:"subscriptions"`
	// Type is the message type its publishers declared (see Typed).
	Type string `msgpack:"y,omitempty" json:"type,omitempty"`
}

func encodeMeta(md meta) ([]byte, error) {
	md.Version = Version
	b, err := wire.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("peer: encode metadata: %w", err)
	}
	return b, nil
}

// Member is a peer of the mesh as this peer sees it.
type Member struct {
	Name      string               `json:"name"`
	Addr      string               `json:"addr"` // gossip address
	Version   string               `json:"version"`
	Endpoints mesh.Endpoints       `json:"endpoints"`
	Services  []string             `json:"services"`
	Streams   map[string]StreamUse `json:"streams,omitempty"`
	// Role is "leader" or "server" for state servers, "" for the others.
	Role string `json:"role,omitempty"`
	// Raft is a state server's raft transport address.
	Raft string `json:"raft,omitempty"`
	Self bool   `json:"self,omitempty"`

	session  string
	state    *serverState
	svcTypes map[string]string
}

// Service is a service name and the members that provide it.
type Service struct {
	Name      string   `json:"name"`
	Providers []string `json:"providers"`
	Type      string   `json:"type,omitempty"` // declared by a provider (ServiceType)
}

// decodeMember turns a discovery member into a Member; malformed metadata or
// catalogs from the network leave the fields empty.
func decodeMember(m discovery.Member) Member {
	out := Member{Name: m.Name, Addr: m.Addr}
	var md meta
	if err := wire.Unmarshal(m.Meta, &md); err == nil {
		out.Version, out.Endpoints, out.session, out.Raft = md.Version, md.Endpoints, md.Session, md.Raft
	}
	var c catalog
	if len(m.State) > 0 && wire.Unmarshal(m.State, &c) == nil {
		out.Services, out.Streams, out.svcTypes = c.Services, c.Streams, c.Types
		if out.Raft != "" && c.State != nil {
			out.state, out.Role = c.State, "server"
		}
	}
	return out
}

// catalogIndex maps service names to providers, rebuilt from discovery.
type catalogIndex struct {
	disc *discovery.Discovery

	mu          sync.RWMutex
	members     map[string]Member
	providers   map[string][]string
	subscribers map[string][]string
	leader      string // the state leader with the highest term
}

func newCatalogIndex(d *discovery.Discovery) *catalogIndex {
	c := &catalogIndex{disc: d}
	c.rebuild()
	return c
}

func (c *catalogIndex) rebuild() {
	members := make(map[string]Member)
	providers := make(map[string][]string)
	subscribers := make(map[string][]string)
	leader, term := "", uint64(0)
	for _, dm := range c.disc.Members() {
		m := decodeMember(dm)
		members[m.Name] = m
		if m.state != nil && m.state.Leader && m.state.Term >= term {
			leader, term = m.Name, m.state.Term
		}
		for _, s := range m.Services {
			providers[s] = append(providers[s], m.Name)
		}
		for name, use := range m.Streams {
			if use.Subs > 0 {
				subscribers[name] = append(subscribers[name], m.Name)
			}
		}
	}
	if m, ok := members[leader]; ok {
		m.Role = "leader"
		members[leader] = m
	}
	c.mu.Lock()
	c.members, c.providers, c.subscribers, c.leader = members, providers, subscribers, leader
	c.mu.Unlock()
}

func (c *catalogIndex) providersOf(service string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.providers[service]
}

func (c *catalogIndex) subscribersOf(stream string) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.subscribers[stream]
}

func (c *catalogIndex) member(name string) (Member, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	m, ok := c.members[name]
	return m, ok
}

// Members returns the live members of the mesh, this peer included, by name.
func (p *Peer) Members() []Member {
	p.cat.rebuild()
	p.cat.mu.RLock()
	defer p.cat.mu.RUnlock()
	out := make([]Member, 0, len(p.cat.members))
	for _, m := range p.cat.members {
		m.Self = m.Name == p.cfg.Name
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Services returns every service of the mesh with its providers, by name.
func (p *Peer) Services() []Service {
	p.cat.rebuild()
	p.cat.mu.RLock()
	defer p.cat.mu.RUnlock()
	out := make([]Service, 0, len(p.cat.providers))
	for name, provs := range p.cat.providers {
		provs = slices.Clone(provs)
		sort.Strings(provs)
		svc := Service{Name: name, Providers: provs}
		for _, pn := range provs {
			svc.Type = cmp.Or(svc.Type, p.cat.members[pn].svcTypes[name])
		}
		out = append(out, svc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// publishCatalog announces this peer's services.
func (p *Peer) publishCatalog() {
	if p.isClosed() {
		return
	}
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	p.mu.RLock()
	names := make([]string, 0, len(p.handlers))
	for name := range p.handlers {
		names = append(names, name)
	}
	types := maps.Clone(p.svcTypes)
	p.mu.RUnlock()
	sort.Strings(names)
	b, err := wire.Marshal(catalog{Services: names, Types: types, Streams: p.streams.catalog(), State: p.serverState()})
	if err != nil {
		p.log.Error("encode catalog", "err", err)
		return
	}
	p.disc.SetState(b)
	p.cat.rebuild()
}
