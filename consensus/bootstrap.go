package consensus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// claimTTL is how long a server holds to a claimant's bootstrap.
const claimTTL = 5 * time.Second

// claims records which claimant this server agreed to bootstrap with.
type claims struct {
	mu      sync.Mutex
	holder  string
	expires time.Time
}

func (c *claims) take(claimant string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holder != "" && c.holder != claimant && now.Before(c.expires) {
		return false
	}
	c.holder, c.expires = claimant, now.Add(claimTTL)
	return true
}

// heldByOther reports whether the server agreed to a claimant other than self.
func (c *claims) heldByOther(self string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.holder != "" && c.holder != self && now.Before(c.expires)
}

// AcceptClaim agrees to claimant's bootstrap unless this server is part of
// a cluster or agreed to another claimant within claimTTL.
func (s *Server) AcceptClaim(claimant string) error {
	if s.joined.Load() {
		return fmt.Errorf("%w: %s is part of a cluster", ErrClaimed, s.cfg.Name)
	}
	if !s.claims.take(claimant, time.Now()) {
		return fmt.Errorf("%w: %s agreed to another bootstrap", ErrClaimed, s.cfg.Name)
	}
	return nil
}

// bootstrapPlan decides whether self should form the cluster: when no live
// server is part of one, at least expect servers are present and self has
// the lowest name among them. It returns the servers of the new cluster,
// by name.
func bootstrapPlan(self string, expect int, live []ServerInfo) ([]ServerInfo, bool) {
	var fresh []ServerInfo
	for _, sv := range live {
		if sv.Joined {
			return nil, false // a cluster exists: wait to be added
		}
		fresh = append(fresh, sv)
	}
	if len(fresh) < expect {
		return nil, false
	}
	sort.Slice(fresh, func(i, j int) bool { return fresh[i].Name < fresh[j].Name })
	if fresh[0].Name != self {
		return nil, false
	}
	return fresh, true
}

// voterTarget is how many voters a cluster of n servers keeps.
func voterTarget(n int) int {
	switch {
	case n >= 5:
		return 5
	case n >= 3:
		return 3
	default:
		return 1
	}
}

// tryBootstrap forms the cluster if this server is the one to, and every
// server of the plan agrees.
func (s *Server) tryBootstrap(ctx context.Context) {
	now := time.Now()
	if s.claims.heldByOther(s.cfg.Name, now) {
		return
	}
	plan, ok := bootstrapPlan(s.cfg.Name, s.cfg.BootstrapExpect, s.cfg.Mesh.Servers())
	if !ok || !s.claims.take(s.cfg.Name, now) {
		return
	}
	for _, sv := range plan[1:] {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		err := s.cfg.Mesh.Claim(cctx, sv.Name, s.cfg.Name)
		cancel()
		if err != nil {
			s.log.Info("bootstrap postponed", "server", sv.Name, "err", err)
			s.backoff(ctx)
			return
		}
	}
	var conf raft.Configuration
	for _, sv := range plan[:voterTarget(len(plan))] {
		conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(sv.Name), Address: raft.ServerAddress(sv.Addr)})
	}
	if err := s.raft.BootstrapCluster(conf).Error(); err != nil {
		s.log.Warn("bootstrap", "err", err)
		return
	}
	s.joined.Store(true)
	s.log.Info("bootstrapped the state cluster", "voters", len(conf.Servers), "servers", len(plan))
}

// backoff waits a random while, so two claimants that saw the mesh
// differently do not keep refusing each other.
func (s *Server) backoff(ctx context.Context) {
	t := time.NewTimer(time.Duration(200+rand.IntN(800)) * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
