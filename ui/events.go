package ui

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

// watch feeds membership events to the tracker until Close.
func (s *Server) watch() {
	defer s.wg.Done()
	for e := range s.p.Watch(s.ctx) {
		s.track.event(e, time.Now())
	}
}

// sample takes a round every Interval while anyone looks, and publishes
// its Snapshot.
func (s *Server) sample() {
	defer s.wg.Done()
	prev := map[string]sample{}
	for {
		if !s.waitForViewers() {
			return
		}
		start := time.Now()
		r := s.gather(s.ctx)
		b, err := json.Marshal(r.snapshot(prev))
		if err != nil {
			s.log.Warn("encode the snapshot", "err", err)
		} else {
			s.publish(b)
		}
		prev = r.obs
		t := time.NewTimer(s.cfg.Interval - time.Since(start))
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// waitForViewers returns when a page is open, or false at Close.
func (s *Server) waitForViewers() bool {
	for {
		s.mu.Lock()
		n := s.viewers
		s.mu.Unlock()
		if n > 0 {
			return true
		}
		select {
		case <-s.ctx.Done():
			return false
		case <-s.wake:
		}
	}
}

// gather asks every member for its Observation, in parallel.
func (s *Server) gather(ctx context.Context) round {
	r := round{self: s.p.Name(), members: s.p.Members(), obs: map[string]sample{}, errs: map[string]error{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range r.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			octx, cancel := context.WithTimeout(ctx, s.cfg.ObserveTimeout)
			defer cancel()
			o, err := s.p.Observe(octx, m.Name)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.errs[m.Name] = err
				return
			}
			r.obs[m.Name] = sample{at: time.Now(), obs: o}
		}()
	}
	wg.Wait()
	r.at = time.Now()
	r.services, r.streams = s.p.Services(), s.p.Streams()
	r.gone = s.track.round(r.members, r.obs, r.at)
	s.probeGone(ctx, r.gone)
	return r
}

// probeGone asks the gossip port of each member that failed or vanished
// whether its process is gone or cut off, in parallel.
func (s *Server) probeGone(ctx context.Context, gone map[string]departed) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, d := range gone {
		if d.reason == peer.MemberLeft.String() || d.addr == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := probe(ctx, d.addr, s.cfg.ObserveTimeout)
			mu.Lock()
			defer mu.Unlock()
			d.reach = res
			gone[name] = d
		}()
	}
	wg.Wait()
}

// publish makes b the latest snapshot and wakes the viewers.
func (s *Server) publish(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.viewers == 0 {
		return // nobody looks: the next viewer waits for a fresh one
	}
	s.latest, s.seq = b, s.seq+1
	close(s.fresh)
	s.fresh = make(chan struct{})
}

// serveEvents streams snapshots to one page.
func (s *Server) serveEvents(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.viewers++
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.viewers--; s.viewers == 0 {
			s.latest = nil
		}
	}()
	es, err := openEvents(w)
	if err != nil {
		return
	}
	var sent uint64
	for {
		s.mu.Lock()
		b, seq, fresh := s.latest, s.seq, s.fresh
		s.mu.Unlock()
		if b != nil && seq != sent {
			if es.send(b) != nil {
				return
			}
			sent = seq
		}
		select {
		case <-ctx.Done():
			return
		case <-fresh:
		}
	}
}
