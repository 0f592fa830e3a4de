package peer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pyros-mesh/pyros/consensus"
)

// ChangeType says what happened to a key.
type ChangeType = consensus.EventType

// The change types.
const (
	ChangePut    = consensus.EventPut
	ChangeDelete = consensus.EventDelete
)

// Change is one change of the shared state. A delete's Entry has the key
// and the revision of the deletion, and no value.
type Change struct {
	Type  ChangeType
	Entry Entry
}

// Watcher delivers the changes under a prefix, in revision order, with no
// gap: it resumes on another server when one fails or the leader changes.
type Watcher struct {
	s      *State
	prefix string
	c      chan Change
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	next   int64 // the next revision to ask for
}

// watchPoll is how long a server holds a watch request open.
const watchPoll = 5 * time.Second

// Watch delivers the changes of keys under prefix from now on (or from
// FromRev). Changes wait for a slow reader rather than being dropped. The
// watch ends when ctx ends, Close is called, the peer closes, or the
// servers no longer keep the revision it needs (Err says ErrCompacted).
func (s *State) Watch(ctx context.Context, prefix string, opts ...StateOption) (*Watcher, error) {
	if s.p.isClosed() {
		return nil, ErrClosed
	}
	o := options(opts)
	w := &Watcher{s: s, prefix: prefix, c: make(chan Change, 64), done: make(chan struct{}), next: o.from}
	if w.next <= 0 {
		rep, err := s.anyCall(ctx, svcWatch, watchRequest{Prefix: prefix}, s.watchLocal(watchRequest{Prefix: prefix}))
		if err != nil {
			return nil, err
		}
		w.next = rep.Rev + 1
	}
	ctx, w.cancel = context.WithCancel(ctx)
	s.p.wg.Add(1)
	go w.run(ctx)
	return w, nil
}

func (s *State) watchLocal(q watchRequest) localFunc {
	return func(ctx context.Context) (stateReply, error) { return s.p.watchHere(ctx, q) }
}

// Changes returns the channel of changes; it is closed when the watch ends.
func (w *Watcher) Changes() <-chan Change { return w.c }

// Err tells why the watch ended, once Changes is closed: nil after Close or
// the end of its context.
func (w *Watcher) Err() error {
	<-w.done
	return w.err
}

// Close ends the watch and waits for it. It is idempotent.
func (w *Watcher) Close() {
	w.cancel()
	<-w.done
}

func (w *Watcher) run(ctx context.Context) {
	defer w.s.p.wg.Done()
	defer close(w.done)
	defer close(w.c)
	inner := make(chan struct{})
	go func() { // the peer's Close ends the watch
		defer close(inner)
		select {
		case <-w.s.p.done:
			w.cancel()
		case <-ctx.Done():
		}
	}()
	defer func() { w.cancel(); <-inner }()
	for ctx.Err() == nil {
		q := watchRequest{Prefix: w.prefix, From: w.next, Wait: watchPoll}
		rep, err := w.s.anyCall(ctx, svcWatch, q, w.s.watchLocal(q))
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			w.s.p.log.Debug("watch", "prefix", w.prefix, "err", err)
			if errors.Is(err, ErrNoStateServer) && sleep(ctx, time.Second) != nil {
				return
			}
			continue
		case rep.Compacted != "":
			w.err = fmt.Errorf("%w: %s", ErrCompacted, rep.Compacted)
			return
		}
		if !w.deliver(ctx, rep) {
			return
		}
	}
}

// deliver hands the reply's events to the reader and advances the watch;
// a lagging server's answer never moves it back.
func (w *Watcher) deliver(ctx context.Context, rep stateReply) bool {
	for _, ev := range rep.Events {
		if ev.Entry.Rev < w.next {
			continue
		}
		select {
		case w.c <- Change{Type: ev.Type, Entry: w.s.entry(ev.Entry)}:
		case <-ctx.Done():
			return false
		}
	}
	w.next = max(w.next, rep.Rev+1)
	return true
}
