package discovery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Join joins the mesh through the given addresses ("host:port") and returns
// how many were reached. It fails with an error wrapping ErrJoinFailed when
// none was, with ctx.Err() when ctx ends first, and with ErrClosed after
// Close. An empty list joins nothing and returns (0, nil).
func (d *Discovery) Join(ctx context.Context, addrs []string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	if !d.goFunc(func() {
		n, err := d.join(ctx, addrs)
		done <- result{n, err}
	}) {
		return 0, ErrClosed
	}
	select {
	case r := <-done:
		return r.n, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// join contacts each address in turn (each bounded by memberlist's
// TCPTimeout) until ctx ends.
func (d *Discovery) join(ctx context.Context, addrs []string) (int, error) {
	var (
		mu     sync.Mutex
		errs   []error
		joined int
		wg     sync.WaitGroup
	)
	slots := make(chan struct{}, joinParallel)
	for _, a := range addrs {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		slots <- struct{}{}
		wg.Go(func() { // one unreachable seed must not hold up the others
			defer func() { <-slots }()
			n, err := d.ml.Join([]string{a})
			mu.Lock()
			defer mu.Unlock()
			joined += n
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if joined == 0 && len(errs) > 0 {
		return 0, fmt.Errorf("%w: %w", ErrJoinFailed, errors.Join(errs...))
	}
	return joined, nil
}

// joinParallel bounds the seeds joined at once.
const joinParallel = 8

// Seed retry timing: while the local member knows no other live member it
// joins the seeds (Config.Join and registry entries), backing off from
// seedBackoffMin to seedBackoffMax between failed rounds. Once it has peers it
// checks again every seedBackoffMax.
const (
	seedBackoffMin = 250 * time.Millisecond
	seedBackoffMax = 30 * time.Second
)

// seedLoop keeps an isolated member trying to reach the mesh, so members can
// start in any order and a member cut off from all others finds its way back.
func (d *Discovery) seedLoop() {
	backoff := seedBackoffMin
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-timer.C:
		}
		wait := seedBackoffMax
		if d.table.alive.Load() <= 1 {
			if d.joinSeeds() {
				backoff = seedBackoffMin
			} else {
				wait, backoff = backoff, min(2*backoff, seedBackoffMax)
			}
		}
		timer.Reset(wait)
	}
}

// joinSeeds makes one round over the seeds and reports whether any was
// joined.
func (d *Discovery) joinSeeds() bool {
	d.seedRounds.Add(1)
	addrs := d.seeds
	if d.registry != nil {
		addrs = append(addrs[:len(addrs):len(addrs)], d.registry.peers()...)
	}
	if len(addrs) == 0 {
		return false
	}
	n, err := d.join(d.ctx, addrs)
	if n == 0 {
		d.logger.Warn("no seed reachable; retrying", "seeds", addrs, "err", err)
		return false
	}
	d.logger.Info("joined mesh", "seeds_reached", n)
	return true
}
