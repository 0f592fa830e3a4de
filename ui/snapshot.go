package ui

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pyros-mesh/pyros/fault"
	"github.com/pyros-mesh/pyros/peer"
)

// Snapshot is one frame of the map: the mesh as the serving peer sees it,
// and what each member it reaches says it sees and serves.
type Snapshot struct {
	Self        string        `json:"self"` // the serving peer
	At          time.Time     `json:"at"`
	Partitioned bool          `json:"partitioned"` // members disagree about who is alive
	Peers       []PeerView    `json:"peers"`
	Links       []Link        `json:"links"`
	Groups      []Group       `json:"groups"`
	Services    []ServiceView `json:"services"`
	Streams     []StreamView  `json:"streams"`
}

// Peer states.
const (
	StateAlive       = "alive"       // a member that answered
	StateUnreachable = "unreachable" // a member that did not answer in time
	StateDead        = "dead"        // left, or its process is gone
	StateCutOff      = "cut off"     // runs, or may, but the serving peer cannot reach it: a partition
)

// PeerView is one circle of the map.
type PeerView struct {
	Name     string    `json:"name"`
	Host     string    `json:"host,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Uptime   float64   `json:"uptime"`         // seconds, of a peer that answered
	Role     string    `json:"role,omitempty"` // "leader" or "server": a state server
	Gateway  bool      `json:"gateway,omitempty"`
	ROS      string    `json:"ros,omitempty"` // what a gateway bridges, in words
	Self     bool      `json:"self,omitempty"`
	State    string    `json:"state"`            // StateAlive, StateUnreachable, StateDead or StateCutOff
	Reason   string    `json:"reason,omitempty"` // why unreachable or dead
	Since    time.Time `json:"since,omitzero"`   // when the mesh lost it
	Group    int       `json:"group"`            // index in Snapshot.Groups; -1: none
	Sees     []string  `json:"sees,omitempty"`
	Links    []string  `json:"links,omitempty"`
	Services []string  `json:"services,omitempty"`
	Faults   string    `json:"faults,omitempty"` // its fault rules, in words
}

// Link is a direct link between two peers, named in order.
type Link struct {
	A string `json:"a"`
	B string `json:"b"`
}

// Group is the members that see the same set of live members, or that a
// fault partition puts together, or, with Cut, the members cut off from
// the serving peer.
type Group struct {
	Label string   `json:"label"` // what they have in common, in words
	Sees  []string `json:"sees"`
	Peers []string `json:"peers"`
	Cut   bool     `json:"cut,omitempty"`
}

// ServiceView is a service and what each provider served.
type ServiceView struct {
	Name      string         `json:"name"`
	Type      string         `json:"type,omitempty"`
	Providers []ProviderView `json:"providers"`
}

// ProviderView is one provider's requests: totals, and rates since the
// previous snapshot.
type ProviderView struct {
	Peer      string  `json:"peer"`
	Requests  uint64  `json:"requests"`
	Errors    uint64  `json:"errors"`
	Rate      float64 `json:"rate"`       // requests per second
	ErrorRate float64 `json:"error_rate"` // failed requests per second
	MeanMs    float64 `json:"mean_ms"`    // mean handler time, over the interval if it served any
}

// StreamView is a stream: who publishes and subscribes, and its messages,
// summed over the peers that answered.
type StreamView struct {
	Name         string   `json:"name"`
	Type         string   `json:"type,omitempty"`
	Publishers   []string `json:"publishers"`
	Subscribers  []string `json:"subscribers"`
	Rate         float64  `json:"rate"`          // messages sent per second, all publishers
	ReceivedRate float64  `json:"received_rate"` // messages received per second, all subscribers
	DropRate     float64  `json:"drop_rate"`     // dropped per second
	Sent         uint64   `json:"sent"`
	Received     uint64   `json:"received"`
	Dropped      uint64   `json:"dropped"`
	Lost         uint64   `json:"lost"`
}

// sample is one member's Observation and when it was taken.
type sample struct {
	at  time.Time
	obs peer.Observation
}

// departed is a member that left, failed, or vanished without a word.
type departed struct {
	reason string // "left", "failed" or "gone"
	since  time.Time
	last   peer.Observation // the last one it gave, if any
	addr   string           // its gossip address, if known
	reach  reach            // what that address said this round
}

// round is what one sampling gathered: the inputs of a Snapshot.
type round struct {
	self     string
	at       time.Time
	members  []peer.Member
	obs      map[string]sample           // members that answered
	errs     map[string]error            // members that did not
	last     map[string]peer.Observation // what those last answered, if ever
	services []peer.Service
	streams  []peer.StreamInfo
	gone     map[string]departed
}

// internal names are the runtime's own services and streams.
func internal(name string) bool { return strings.HasPrefix(name, "pyros.") }

// snapshot builds the frame, with rates against prev (the previous round's
// samples).
func (r round) snapshot(prev map[string]sample) Snapshot {
	s := Snapshot{Self: r.self, At: r.at, Peers: []PeerView{}, Links: []Link{}, Groups: []Group{},
		Services: []ServiceView{}, Streams: []StreamView{}}
	for _, m := range r.members {
		s.Peers = append(s.Peers, r.peerView(m))
	}
	names := make([]string, 0, len(r.gone))
	for name := range r.gone {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s.Peers = append(s.Peers, r.departedView(name, r.gone[name]))
	}
	s.Groups = r.group(s.Peers)
	s.Partitioned = len(s.Groups) > 1
	s.Links = r.links()
	s.Services = r.serviceViews(prev)
	s.Streams = r.streamViews(prev)
	return s
}

func (r round) peerView(m peer.Member) PeerView {
	v := PeerView{Name: m.Name, Role: m.Role, Self: m.Name == r.self, State: StateAlive, Group: -1}
	for _, svc := range m.Services {
		if !internal(svc) {
			v.Services = append(v.Services, svc)
		}
	}
	v.Gateway = gateway(m) // until it answers
	smp, ok := r.obs[m.Name]
	if !ok {
		v.State, v.Reason = StateUnreachable, "no answer"
		if err := r.errs[m.Name]; err != nil {
			v.Reason = err.Error()
		}
		if r.faultCut(m.Name) {
			v.State, v.Reason = StateCutOff, "a fault partition separates it from "+r.self
		}
		if last, ok := r.last[m.Name]; ok {
			v.Host, v.Started = last.Host, last.Started
		}
		return v
	}
	o := smp.obs
	v.Host, v.Started, v.Sees, v.Links, v.Faults = o.Host, o.Started, o.Sees, o.Links, describeFaults(o.Faults)
	if !o.Started.IsZero() {
		v.Uptime = r.at.Sub(o.Started).Round(time.Second).Seconds()
	}
	v.Role = cmp.Or(o.Role, v.Role)
	v.Gateway, v.ROS = o.Gateway != nil, describeGateway(o.Gateway)
	return v
}

// describeGateway says what a ROS gateway bridges, or "" for none.
func describeGateway(g *peer.GatewayInfo) string {
	if g == nil {
		return ""
	}
	return fmt.Sprintf("ROS master %s: topics %d in, %d out; services %d in, %d out", g.Master,
		len(g.TopicsImported), len(g.TopicsExported), len(g.ServicesImported), len(g.ServicesExported))
}

// departedView draws a member the mesh lost. One that left is dead; one
// that failed or vanished is dead if its host refused a connection, and cut
// off if a fault partition of the serving peer separates them, if its port
// still answers (it runs, or is paused), or if its host is silent (a
// network partition, or the host is down).
func (r round) departedView(name string, d departed) PeerView {
	v := PeerView{Name: name, State: StateDead, Reason: d.reason, Since: d.since, Group: -1, Host: d.last.Host, Started: d.last.Started}
	if d.reason == peer.MemberLeft.String() {
		return v
	}
	switch {
	case r.faultCut(name):
		v.State, v.Reason = StateCutOff, "a fault partition separates it from "+r.self
	case d.reach == reachOpen:
		v.State, v.Reason = StateCutOff, "its port answers, but not through the mesh: partitioned, or paused"
	case d.reach == reachSilent:
		v.State, v.Reason = StateCutOff, "its host does not answer: partitioned, or down"
	case d.reach == reachRefused:
		v.Reason = d.reason + ", its process is gone"
	}
	return v
}

// faultCut reports whether the serving peer's fault rules separate it from
// the member.
func (r round) faultCut(name string) bool {
	smp, ok := r.obs[r.self]
	return ok && smp.obs.Faults.Separates(r.self, name)
}

// gateway guesses a ROS gateway from the catalog, for a member whose
// Observation did not come: it publishes or provides names under ros/.
func gateway(m peer.Member) bool {
	for _, s := range m.Services {
		if strings.HasPrefix(s, "ros/") {
			return true
		}
	}
	for s, use := range m.Streams {
		if strings.HasPrefix(s, "ros/") && use.Pubs > 0 {
			return true
		}
	}
	return false
}

// group sets each peer's Group and returns the groups, the serving
// peer's first. Answering peers are grouped by the set of members they see
// or, when all see the same, by the fault partition they apply (peers
// outside such a partition, like a pyros-peer ui, still relay gossip
// between its sides, so that gossip alone does not split); the peers cut
// off from the serving peer come last. The mesh is partitioned when there
// is more than one group.
func (r round) group(peers []PeerView) []Group {
	groups := r.groupByView(peers)
	if rule := r.partitionRule(); len(groups) == 1 && rule != nil {
		groups = r.groupByRule(peers, rule)
	}
	cut := Group{Cut: true, Label: "cut off from " + r.self}
	for i, p := range peers {
		if p.State == StateCutOff {
			cut.Peers = append(cut.Peers, p.Name)
			peers[i].Group = len(groups)
		}
	}
	if cut.Peers != nil {
		groups = append(groups, cut)
	}
	if groups == nil {
		groups = []Group{}
	}
	return groups
}

// selfFirst returns the indexes of the alive peers, the serving peer's
// first.
func selfFirst(peers []PeerView) []int {
	order := make([]int, 0, len(peers))
	for i, p := range peers {
		if p.State == StateAlive {
			if p.Self {
				order = append([]int{i}, order...)
			} else {
				order = append(order, i)
			}
		}
	}
	return order
}

func (r round) groupByView(peers []PeerView) []Group {
	index := map[string]int{}
	var groups []Group
	for _, i := range selfFirst(peers) {
		key := strings.Join(peers[i].Sees, "\x00")
		g, ok := index[key]
		if !ok {
			g = len(groups)
			index[key] = g
			groups = append(groups, Group{Sees: slices.Clone(peers[i].Sees),
				Label: fmt.Sprintf("view %d: sees %s", g+1, strings.Join(peers[i].Sees, ", "))})
		}
		groups[g].Peers = append(groups[g].Peers, peers[i].Name)
		peers[i].Group = g
	}
	return groups
}

// partitionRule is the fault partition the answering peers apply: the
// serving peer's, else the first one's by name; nil if none.
func (r round) partitionRule() [][]string {
	if smp, ok := r.obs[r.self]; ok && len(smp.obs.Faults.Partition) > 0 {
		return smp.obs.Faults.Partition
	}
	for _, name := range slices.Sorted(maps.Keys(r.obs)) {
		if rule := r.obs[name].obs.Faults.Partition; len(rule) > 0 {
			return rule
		}
	}
	return nil
}

// groupByRule groups the alive peers by the group of the fault partition
// that names them, and those it names nowhere together.
func (r round) groupByRule(peers []PeerView, rule [][]string) []Group {
	index := map[int]int{} // rule group -> group; -1: outside
	var groups []Group
	for _, i := range selfFirst(peers) {
		rg := slices.IndexFunc(rule, func(g []string) bool { return slices.Contains(g, peers[i].Name) })
		g, ok := index[rg]
		if !ok {
			g = len(groups)
			index[rg] = g
			label := "outside the fault partition"
			if rg >= 0 {
				label = "fault partition: " + strings.Join(rule[rg], ", ")
			}
			groups = append(groups, Group{Sees: slices.Clone(peers[i].Sees), Label: label})
		}
		groups[g].Peers = append(groups[g].Peers, peers[i].Name)
		peers[i].Group = g
	}
	return groups
}

// links is the union of the links every answering peer dialed, each pair
// once, between peers of the map.
func (r round) links() []Link {
	known := map[string]bool{}
	for _, m := range r.members {
		known[m.Name] = true
	}
	set := map[Link]bool{}
	for name, smp := range r.obs {
		for _, to := range smp.obs.Links {
			if to == name || !known[to] {
				continue
			}
			l := Link{A: min(name, to), B: max(name, to)}
			set[l] = true
		}
	}
	out := make([]Link, 0, len(set))
	for l := range set {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].A < out[j].A || out[i].A == out[j].A && out[i].B < out[j].B })
	return out
}

func (r round) serviceViews(prev map[string]sample) []ServiceView {
	out := []ServiceView{}
	for _, svc := range r.services {
		if internal(svc.Name) {
			continue
		}
		v := ServiceView{Name: svc.Name, Type: svc.Type, Providers: []ProviderView{}}
		for _, name := range svc.Providers {
			pv := ProviderView{Peer: name}
			if cur, ok := r.obs[name]; ok {
				st := cur.obs.Served[svc.Name]
				pv.Requests, pv.Errors = st.Requests, st.Errors
				if st.Requests > 0 {
					pv.MeanMs = st.Seconds / float64(st.Requests) * 1000
				}
				if was, dt, ok := previous(prev, cur, name); ok {
					old := was.obs.Served[svc.Name]
					dr := delta(st.Requests, old.Requests)
					pv.Rate, pv.ErrorRate = float64(dr)/dt, float64(delta(st.Errors, old.Errors))/dt
					if dr > 0 && st.Seconds >= old.Seconds {
						pv.MeanMs = (st.Seconds - old.Seconds) / float64(dr) * 1000
					}
				}
			}
			v.Providers = append(v.Providers, pv)
		}
		out = append(out, v)
	}
	return out
}

func (r round) streamViews(prev map[string]sample) []StreamView {
	out := []StreamView{}
	for _, si := range r.streams {
		if internal(si.Name) {
			continue
		}
		v := StreamView{Name: si.Name, Type: si.Type, Publishers: si.Publishers, Subscribers: si.Subscribers}
		for name, cur := range r.obs {
			st, ok := cur.obs.Streams[si.Name]
			if !ok {
				continue
			}
			v.Sent += st.Sent
			v.Received += st.Received
			v.Dropped += st.Dropped
			v.Lost += st.Lost
			if was, dt, ok := previous(prev, cur, name); ok {
				old := was.obs.Streams[si.Name]
				v.Rate += float64(delta(st.Sent, old.Sent)) / dt
				v.ReceivedRate += float64(delta(st.Received, old.Received)) / dt
				v.DropRate += float64(delta(st.Dropped, old.Dropped)) / dt
			}
		}
		out = append(out, v)
	}
	return out
}

// previous returns the member's previous sample and the seconds since it,
// if it is of the same incarnation.
func previous(prev map[string]sample, cur sample, name string) (sample, float64, bool) {
	was, ok := prev[name]
	if !ok || !was.obs.Started.Equal(cur.obs.Started) {
		return sample{}, 0, false
	}
	dt := cur.at.Sub(was.at).Seconds()
	if dt <= 0 {
		return sample{}, 0, false
	}
	return was, dt, true
}

// delta is how much a counter grew; a counter that went back restarted.
func delta(cur, old uint64) uint64 {
	if cur < old {
		return cur
	}
	return cur - old
}

// describeFaults says what fault rules a peer applies, or "" for none.
func describeFaults(r fault.Rules) string {
	var parts []string
	if len(r.Partition) > 0 {
		groups := make([]string, len(r.Partition))
		for i, g := range r.Partition {
			groups[i] = strings.Join(g, ",")
		}
		parts = append(parts, "partition "+strings.Join(groups, " | "))
	}
	if r.Delay > 0 {
		parts = append(parts, "delay "+r.Delay.String())
	}
	if r.Drop > 0 {
		parts = append(parts, fmt.Sprintf("drop %g%%", r.Drop*100))
	}
	return strings.Join(parts, ", ")
}
