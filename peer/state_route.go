package peer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pyros-mesh/pyros/consensus"
	"github.com/pyros-mesh/pyros/mesh"
)

// attemptTimeout bounds one try at a server (beyond a watch's own wait): a
// leader cut off from the others steps down well within it, so a stuck try
// means the server is unreachable, and a retry elsewhere is safe.
const attemptTimeout = time.Second

// localFunc serves a state request on this peer's own server.
type localFunc func(ctx context.Context) (stateReply, error)

// leaderCall sends a request to the leader, following the servers' hints
// and moving on from servers that fail, until it is answered or ctx ends.
func (s *State) leaderCall(ctx context.Context, svc string, req any, local localFunc) (stateReply, error) {
	avoid := make(map[string]bool)
	wait := 5 * time.Millisecond
	began := time.Now()
	for {
		name, err := s.pickLeader(avoid)
		if err != nil {
			if err = waitForServer(ctx, began, err); err != nil {
				return stateReply{}, err
			}
			continue
		}
		if name == "" { // every server failed or knows no leader: wait a little
			clear(avoid)
			if err := sleep(ctx, wait); err != nil {
				return stateReply{}, fmt.Errorf("peer: state %s: %w (%s)", svc, err, s.diagnose())
			}
			wait = min(2*wait, 200*time.Millisecond)
			continue
		}
		rep, err := s.callServer(ctx, name, svc, req, local)
		switch {
		case err == nil && !rep.NotLeader:
			s.setHint(name)
			return rep, nil
		case err == nil:
			avoid[name] = true
			s.setHint(rep.Leader)
		case ctx.Err() != nil:
			return stateReply{}, fmt.Errorf("peer: state %s: %w (%s)", svc, ctx.Err(), s.diagnose())
		case !retryServer(err):
			return stateReply{}, err
		default:
			avoid[name] = true
			s.setHint("")
		}
	}
}

// anyCall sends a request to this peer's own server, or else to any
// server that answers.
func (s *State) anyCall(ctx context.Context, svc string, req any, local localFunc) (stateReply, error) {
	if s.p.server != nil {
		return local(ctx)
	}
	avoid := make(map[string]bool)
	began := time.Now()
	for {
		name, err := s.pickAny(avoid)
		if err != nil {
			if err = waitForServer(ctx, began, err); err != nil {
				return stateReply{}, err
			}
			continue
		}
		if name == "" {
			clear(avoid)
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return stateReply{}, fmt.Errorf("peer: state %s: %w", svc, err)
			}
			continue
		}
		rep, err := s.callServer(ctx, name, svc, req, local)
		if err == nil || ctx.Err() != nil || !retryServer(err) {
			return rep, err
		}
		avoid[name] = true
	}
}

// noServerWait is how long a call waits for a state server to appear in
// the catalog (which a peer that just joined may not have in full yet).
const noServerWait = time.Second

func waitForServer(ctx context.Context, began time.Time, err error) error {
	if time.Since(began) >= noServerWait {
		return err
	}
	return sleep(ctx, 20*time.Millisecond)
}

// retryServer reports whether another server may answer a request that
// failed with err: anything but a handler's refusal. Writes are safe to
// retry, being numbered.
func retryServer(err error) bool {
	var re *mesh.RemoteError
	if errors.As(err, &re) {
		return re.Code != mesh.CodeHandler && !errors.Is(err, mesh.ErrBadRequest)
	}
	return !errors.Is(err, ErrClosed)
}

// callServer runs one try on the named server, in-process if it is this peer.
func (s *State) callServer(ctx context.Context, name, svc string, req any, local localFunc) (stateReply, error) {
	limit := attemptTimeout
	if q, ok := req.(watchRequest); ok {
		limit += q.Wait
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if name == s.p.cfg.Name && s.p.server != nil {
		return local(ctx)
	}
	var rep stateReply
	err := s.p.callPeer(ctx, name, svc, req, &rep)
	return rep, err
}

// pickLeader returns the server to try: the hinted leader, the leader the
// catalog names, or any server; "" when all are avoided.
func (s *State) pickLeader(avoid map[string]bool) (string, error) {
	s.mu.Lock()
	hint := s.hint
	s.mu.Unlock()
	if hint != "" && !avoid[hint] {
		return hint, nil
	}
	s.p.cat.mu.RLock()
	leader := s.p.cat.leader
	s.p.cat.mu.RUnlock()
	if leader != "" && !avoid[leader] {
		return leader, nil
	}
	return s.pickAny(avoid)
}

func (s *State) pickAny(avoid map[string]bool) (string, error) {
	servers := s.p.cat.providersOf(svcApply)
	if len(servers) == 0 {
		s.p.cat.rebuild()
		if servers = s.p.cat.providersOf(svcApply); len(servers) == 0 {
			return "", ErrNoStateServer
		}
	}
	var left []string
	for _, name := range servers {
		if !avoid[name] {
			left = append(left, name)
		}
	}
	if len(left) == 0 {
		return "", nil
	}
	return left[rand.IntN(len(left))], nil
}

func (s *State) setHint(name string) {
	s.mu.Lock()
	s.hint = name
	s.mu.Unlock()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// releaseWait bounds how long a closing peer tries to remove its
// Ephemeral keys; if it cannot, the leader removes them once the peer is
// gone.
const releaseWait = time.Second

// release ends this peer's session, so its Ephemeral keys vanish now
// rather than after SessionGrace.
func (s *State) release() {
	s.mu.Lock()
	owns := s.owns
	s.mu.Unlock()
	if !owns {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseWait)
	defer cancel()
	if _, err := s.apply(ctx, consensus.Command{Op: consensus.OpEndSession, Key: s.p.session}); err != nil {
		s.p.log.Debug("end session", "err", err)
	}
}

// diagnose says what the catalog tells of the state servers, for errors.
func (s *State) diagnose() string {
	var servers, joined int
	expect := 0
	leader := ""
	for _, m := range s.p.Members() {
		if m.state == nil {
			continue
		}
		servers++
		expect = max(expect, m.state.Expect)
		if m.state.Joined {
			joined++
		}
		if m.Role == "leader" {
			leader = m.Name
		}
	}
	switch {
	case leader != "":
		return "the leader is " + leader
	case joined == 0:
		return fmt.Sprintf("%d state server(s) here, waiting for %d to form the state (bootstrap-expect)", servers, expect)
	default:
		return fmt.Sprintf("no leader among %d state server(s): is a majority of them reachable?", servers)
	}
}
