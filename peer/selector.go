package peer

import (
	"math/rand/v2"
	"sync"
	"time"
)

// selector spreads calls over providers: of two random candidates it picks
// the one with fewer calls in flight from this peer, skipping providers
// recently found unreachable.
type selector struct {
	downFor time.Duration

	mu       sync.Mutex
	inflight map[string]int
	down     map[string]time.Time // unreachable until
}

func newSelector(downFor time.Duration) *selector {
	return &selector{downFor: downFor, inflight: make(map[string]int), down: make(map[string]time.Time)}
}

// pick returns an untried provider, preferring reachable ones.
func (s *selector) pick(provs []string, tried map[string]bool) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var up, downs []string
	for _, name := range provs {
		if tried[name] {
			continue
		}
		if until, ok := s.down[name]; ok && now.Before(until) {
			downs = append(downs, name)
			continue
		}
		up = append(up, name)
	}
	if len(up) == 0 {
		up = downs // maybe back already; better than failing
	}
	switch len(up) {
	case 0:
		return "", false
	case 1:
		return up[0], true
	}
	a, b := up[rand.IntN(len(up))], up[rand.IntN(len(up))]
	if s.inflight[b] < s.inflight[a] {
		a = b
	}
	return a, true
}

// begin counts a call to name in flight; the returned func ends it.
func (s *selector) begin(name string) func() {
	s.mu.Lock()
	s.inflight[name]++
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		if s.inflight[name]--; s.inflight[name] <= 0 {
			delete(s.inflight, name)
		}
		s.mu.Unlock()
	}
}

func (s *selector) markDown(name string) {
	s.mu.Lock()
	s.down[name] = time.Now().Add(s.downFor)
	s.mu.Unlock()
}

// forget clears what is known of name (it joined again, or left).
func (s *selector) forget(name string) {
	s.mu.Lock()
	delete(s.down, name)
	s.mu.Unlock()
}
