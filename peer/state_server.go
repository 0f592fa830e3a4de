package peer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/pyros-mesh/pyros/consensus"
	"github.com/pyros-mesh/pyros/mesh"
)

// The services state servers provide to the rest of the mesh.
const (
	svcApply = "pyros.state/apply"
	svcRead  = "pyros.state/read"
	svcWatch = "pyros.state/watch"
	svcClaim = "pyros.state/claim"
)

// newSession names this incarnation of the peer: keys it owns vanish with it.
func newSession(name string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return name + "/" + hex.EncodeToString(b)
}

// openServer starts the state server when the peer has a data directory.
func (p *Peer) openServer(host, adv string) error {
	if p.cfg.DataDir == "" {
		return nil
	}
	if adv == "" {
		adv = host
	}
	srv, err := consensus.Open(consensus.Config{
		Name:            p.cfg.Name,
		Dir:             p.cfg.DataDir,
		Bind:            host,
		Advertise:       adv,
		BootstrapExpect: p.cfg.BootstrapExpect,
		Grace:           p.cfg.StateGrace,
		SessionGrace:    p.cfg.SessionGrace,
		Mesh:            stateMesh{p},
		Keys:            p.cfg.Keys,
		Faults:          p.faults,
		OnChange:        p.stateChanged,
		Logger:          p.logFor("consensus"),
	})
	if err != nil {
		return fmt.Errorf("peer: %w", err)
	}
	p.server = srv
	p.handlers[svcApply] = p.serveApply
	p.handlers[svcRead] = p.serveRead
	p.handlers[svcWatch] = p.serveWatch
	p.handlers[svcClaim] = p.serveClaim
	return nil
}

// serverState is what this peer announces as a state server.
func (p *Peer) serverState() *serverState {
	if p.server == nil {
		return nil
	}
	st := p.server.Status()
	return &serverState{Expect: p.cfg.BootstrapExpect, Joined: st.Joined, Leader: st.Leader, Term: st.Term}
}

// stateMesh is the peer as its state server sees the mesh.
type stateMesh struct{ p *Peer }

func (m stateMesh) ready() bool {
	select {
	case <-m.p.started:
		return true
	default:
		return false
	}
}

func (m stateMesh) Servers() []consensus.ServerInfo {
	if !m.ready() {
		return nil
	}
	var out []consensus.ServerInfo
	for _, mb := range m.p.Members() {
		if mb.state != nil {
			out = append(out, consensus.ServerInfo{Name: mb.Name, Addr: mb.Raft, Expect: mb.state.Expect, Joined: mb.state.Joined})
		}
	}
	return out
}

func (m stateMesh) Sessions() map[string]bool {
	out := make(map[string]bool)
	if !m.ready() {
		return out
	}
	for _, mb := range m.p.Members() {
		out[mb.session] = true
	}
	return out
}

func (m stateMesh) Claim(ctx context.Context, server, claimant string) error {
	var ok bool
	if err := m.p.callPeer(ctx, server, svcClaim, claimant, &ok); err != nil {
		return err
	}
	if !ok {
		return consensus.ErrClaimed
	}
	return nil
}

func (p *Peer) serveClaim(_ context.Context, r *Request) (any, error) {
	var claimant string
	if err := r.Decode(&claimant); err != nil {
		return nil, err
	}
	return p.server.AcceptClaim(claimant) == nil, nil
}

// stateReply is a server's answer to a state request. NotLeader asks the
// client to go to Leader (or to wait for one when it is empty).
type stateReply struct {
	Result    consensus.Result  `msgpack:"r"`
	Entries   []consensus.Entry `msgpack:"e,omitempty"`
	Events    []consensus.Event `msgpack:"v,omitempty"`
	Rev       int64             `msgpack:"n"`
	NotLeader bool              `msgpack:"l,omitempty"`
	Leader    string            `msgpack:"h,omitempty"`
	Compacted string            `msgpack:"c,omitempty"`
}

func notLeaderReply(err error, leader string) (stateReply, error) {
	if errors.Is(err, consensus.ErrNotLeader) || errors.Is(err, consensus.ErrNoLeader) {
		return stateReply{NotLeader: true, Leader: leader}, nil
	}
	return stateReply{}, err
}

func (p *Peer) serveApply(ctx context.Context, r *Request) (any, error) {
	var c consensus.Command
	if err := r.Decode(&c); err != nil {
		return nil, err
	}
	return p.applyHere(ctx, c)
}

// applyHere applies c through this server. Every failure but a malformed
// command sends the client to the leader: its retry is safe.
func (p *Peer) applyHere(ctx context.Context, c consensus.Command) (stateReply, error) {
	began := time.Now()
	res, err := p.server.Apply(ctx, c)
	switch {
	case err == nil:
		p.meter.observeCommit(began)
		return stateReply{Result: res}, nil
	case errors.Is(err, consensus.ErrBadCommand):
		return stateReply{}, fmt.Errorf("%w: %w", mesh.ErrBadRequest, err)
	}
	return stateReply{NotLeader: true, Leader: p.server.Status().LeaderName}, nil
}

// readRequest asks for a key (Prefix false) or the keys under a prefix.
type readRequest struct {
	Key    string `msgpack:"k"`
	Prefix bool   `msgpack:"p"`
	Limit  int    `msgpack:"l"`
	Stale  bool   `msgpack:"s"`
}

func (p *Peer) serveRead(ctx context.Context, r *Request) (any, error) {
	var q readRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	return p.readHere(ctx, q)
}

func (p *Peer) readHere(ctx context.Context, q readRequest) (stateReply, error) {
	if !q.Stale {
		if err := p.server.Linearize(ctx); err != nil {
			return notLeaderReply(err, p.server.Status().LeaderName)
		}
	}
	return readStore(p.server.Store(), q), nil
}

func readStore(st *consensus.Store, q readRequest) stateReply {
	if q.Prefix {
		es, rev := st.List(q.Key, q.Limit)
		return stateReply{Entries: es, Rev: rev}
	}
	e, ok, rev := st.Get(q.Key)
	if !ok {
		return stateReply{Rev: rev}
	}
	return stateReply{Entries: []consensus.Entry{e}, Rev: rev}
}

// watchRequest asks for the events under Prefix from revision From,
// waiting up to Wait for one to happen.
type watchRequest struct {
	Prefix string        `msgpack:"p"`
	From   int64         `msgpack:"f"`
	Wait   time.Duration `msgpack:"w"`
}

// maxWatchWait bounds how long a server holds a watch request.
const maxWatchWait = 10 * time.Second

func (p *Peer) serveWatch(ctx context.Context, r *Request) (any, error) {
	var q watchRequest
	if err := r.Decode(&q); err != nil {
		return nil, err
	}
	return p.watchHere(ctx, q)
}

func (p *Peer) watchHere(ctx context.Context, q watchRequest) (stateReply, error) {
	st := p.server.Store()
	if q.From <= 0 { // from now on
		return stateReply{Rev: st.Rev()}, nil
	}
	t := time.NewTimer(min(max(q.Wait, 0), maxWatchWait))
	defer t.Stop()
	for {
		changed := st.Changed()
		evs, through, err := st.Events(q.Prefix, q.From, 1000)
		switch {
		case err != nil:
			return stateReply{Rev: through, Compacted: err.Error()}, nil
		case len(evs) > 0:
			return stateReply{Events: evs, Rev: through}, nil
		}
		select {
		case <-changed:
		case <-t.C:
			return stateReply{Rev: through}, nil
		case <-ctx.Done():
			return stateReply{}, ctx.Err()
		case <-p.done:
			return stateReply{}, ErrClosed
		}
	}
}

// StateAddr returns the raft transport address of this peer's state
// server, or "" when it is not one.
func (p *Peer) StateAddr() string {
	if p.server == nil {
		return ""
	}
	return p.server.Addr()
}

// stateChanged follows the server's status: it counts leader changes and
// republishes the catalog, which carries this server's role.
func (p *Peer) stateChanged() {
	select {
	case <-p.started: // p.server is set before started closes
	default:
		return // start publishes the catalog once it is done
	}
	if p.server != nil {
		if l := p.server.Status().LeaderName; l != "" && l != p.leaderSeen() {
			p.setLeaderSeen(l)
		}
	}
	p.publishCatalog()
}

func (p *Peer) leaderSeen() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.leader
}

func (p *Peer) setLeaderSeen(l string) {
	p.mu.Lock()
	first := p.leader == ""
	p.leader = l
	p.mu.Unlock()
	if !first {
		p.meter.leaderChanged()
	}
}
