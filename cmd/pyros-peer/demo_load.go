package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

// callLoad calls demo/whoami back to back from one goroutine and records
// what happened to each call.
type callLoad struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	res    loadResult
}

type loadResult struct {
	ok      int
	errs    map[string]int
	answers []answer
}

type answer struct {
	at  time.Time
	who string
}

func startLoad(p *peer.Peer) *callLoad {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	l := &callLoad{cancel: cancel, done: make(chan struct{}), res: loadResult{errs: map[string]int{}}}
	go func() {
		defer close(l.done)
		for ctx.Err() == nil {
			cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
			var who string
			err := p.Call(cctx, "demo/whoami", nil, &who)
			ccancel()
			l.mu.Lock()
			switch {
			case err == nil:
				l.res.ok++
				l.res.answers = append(l.res.answers, answer{time.Now(), who})
			case ctx.Err() != nil:
			case errors.Is(err, peer.ErrUnknownOutcome):
				l.res.errs["provider died after accepting the call (outcome unknown, not retried)"]++
			default:
				l.res.errs[err.Error()]++
			}
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *callLoad) stop() loadResult {
	l.cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.res
}

func (r loadResult) after(t time.Time) map[string]int {
	m := map[string]int{}
	for _, a := range r.answers {
		if a.at.After(t) {
			m[a.who]++
		}
	}
	return m
}

func (r loadResult) firstAfter(t time.Time) time.Duration {
	for _, a := range r.answers {
		if a.at.After(t) {
			return a.at.Sub(t).Round(time.Microsecond)
		}
	}
	return -1
}

// tickLog records the latest demo/ticks value per publisher.
type tickLog struct {
	mu   sync.Mutex
	last map[string]int
	n    map[string]int
}

func (t *tickLog) add(m peer.Message) {
	var v int
	if m.Decode(&v) != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last, t.n = map[string]int{}, map[string]int{}
	}
	t.last[m.From()] = v
	t.n[m.From()]++
}

// latest returns the last value from a publisher, or -1.
func (t *tickLog) latest(from string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ok := t.last[from]; ok {
		return v
	}
	return -1
}

func (t *tickLog) counts() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := map[string]int{}
	for k, v := range t.n {
		m[k] = v
	}
	return m
}
