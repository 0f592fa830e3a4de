package ui

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

// Sampler takes Snapshots of the mesh as one peer sees it: what the map
// draws, for other views of it (pyros-peer top). It follows membership
// events from NewSampler on, to draw the members that died since.
type Sampler struct {
	p     *peer.Peer
	cfg   Config
	track *tracker

	mu   sync.Mutex        // serializes Snapshot
	prev map[string]sample // the previous Snapshot's answers, for rates

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// NewSampler starts following p's membership events; Close stops it. Only
// the durations and ObserveTimeout of cfg matter.
func NewSampler(p *peer.Peer, cfg Config) (*Sampler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sampler{p: p, cfg: cfg, track: newTracker(cfg.DeadFor, cfg.LeftFor), prev: map[string]sample{},
		cancel: cancel, done: make(chan struct{})}
	events := p.Watch(ctx)
	go func() {
		defer close(s.done)
		for e := range events {
			s.track.event(e, time.Now())
		}
	}()
	return s, nil
}

// Snapshot asks every member for its Observation (at most ObserveTimeout
// each, in parallel) and returns the frame, with rates since the previous
// Snapshot.
func (s *Sampler) Snapshot(ctx context.Context) Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.gather(ctx)
	snap := r.snapshot(s.prev)
	s.prev = r.obs
	return snap
}

// Close stops following events and waits. It is idempotent.
func (s *Sampler) Close() error {
	s.once.Do(s.cancel)
	<-s.done
	return nil
}

// gather asks every member for its Observation, in parallel.
func (s *Sampler) gather(ctx context.Context) round {
	r := round{self: s.p.Name(), members: s.p.Members(), obs: map[string]sample{}, errs: map[string]error{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range r.members {
		wg.Go(func() {
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
		})
	}
	wg.Wait()
	r.at = time.Now()
	r.services, r.streams = s.p.Services(), s.p.Streams()
	r.gone = s.track.round(r.members, r.obs, r.at)
	r.last = s.track.lastOf(slices.Collect(maps.Keys(r.errs)))
	s.probeGone(ctx, r.gone)
	return r
}

// probeGone asks the gossip port of each member that failed or vanished
// whether its process is gone or cut off, in parallel.
func (s *Sampler) probeGone(ctx context.Context, gone map[string]departed) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, d := range gone {
		if d.reason == peer.MemberLeft.String() || d.addr == "" {
			continue
		}
		wg.Go(func() {
			res := probe(ctx, d.addr, s.cfg.ObserveTimeout)
			mu.Lock()
			defer mu.Unlock()
			d.reach = res
			gone[name] = d
		})
	}
	wg.Wait()
}
