package ui

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// sample takes a round every Interval while anyone looks, and publishes
// its Snapshot.
func (s *Server) sample() {
	defer s.wg.Done()
	for {
		if !s.waitForViewers() {
			return
		}
		start := time.Now()
		b, err := json.Marshal(s.sampler.Snapshot(s.ctx))
		if err != nil {
			s.log.Warn("encode the snapshot", "err", err)
		} else {
			s.publish(b)
		}
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
