package mesh

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Request is a call as a handler sees it, and as a caller sends it.
type Request struct {
	From    string // calling node (set by the receiving node)
	Service string
	Codec   string // codec of Payload
	Payload []byte
}

// Reply is a handler's answer.
type Reply struct {
	Codec   string
	Payload []byte
}

// Target names a node and how to reach it.
type Target struct {
	Name      string
	Endpoints Endpoints
}

// call is a request waiting for its answer.
type call struct {
	res   chan message // reply or error; buffered, written once
	acked atomic.Bool
}

// Call sends req to the node t and waits for the reply. Errors: ctx's error;
// ErrNotDelivered (wrapped) when the request certainly did not run;
// ErrUnknownOutcome when the provider took it and then vanished; a
// *RemoteError when the provider answered with an error; ErrTooLarge;
// ErrClosed.
func (n *Node) Call(ctx context.Context, t Target, req Request) (Reply, error) {
	if len(req.Payload) > n.cfg.MaxMessageSize {
		return Reply{}, fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, len(req.Payload), n.cfg.MaxMessageSize)
	}
	if len(req.Service) > maxNameLen || len(req.Codec) > maxNameLen {
		return Reply{}, fmt.Errorf("%w: service or codec name longer than %d bytes", ErrTooLarge, maxNameLen)
	}
	l, err := n.linkTo(ctx, t)
	if err != nil {
		return Reply{}, err
	}
	id, c := l.newCall()
	m := message{kind: kindRequest, id: id, timeout: deadlineOf(ctx), service: req.Service, codec: req.Codec, payload: req.Payload}
	seq, err := l.sendSeq(ctx, &m)
	if err != nil {
		l.dropCall(id)
		switch {
		case l.left(seq):
			return Reply{}, fmt.Errorf("%w: %s: %v", ErrUnknownOutcome, t.Name, err)
		case ctx.Err() != nil:
			return Reply{}, ctx.Err()
		}
		return Reply{}, fmt.Errorf("%w: to %s: %v", ErrNotDelivered, t.Name, err)
	}
	select {
	case r := <-c.res:
		if r.kind == kindError && expired(ctx) {
			if err := ctx.Err(); err != nil {
				return Reply{}, err
			}
			return Reply{}, context.DeadlineExceeded // the provider saw the same deadline first
		}
		return l.result(req.Service, r)
	case <-l.done:
		l.dropCall(id)
		select {
		case r := <-c.res:
			return l.result(req.Service, r)
		default:
		}
		if c.acked.Load() || l.left(seq) {
			// the request reached the connection: it may have run even if
			// its acknowledgement never came back
			return Reply{}, fmt.Errorf("%w: %s: %v", ErrUnknownOutcome, t.Name, l.failErr)
		}
		return Reply{}, fmt.Errorf("%w: %s: link lost: %v", ErrNotDelivered, t.Name, l.failErr)
	case <-ctx.Done():
		l.dropCall(id)
		cancel := message{kind: kindCancel, id: id}
		l.send(context.Background(), &cancel)
		return Reply{}, ctx.Err()
	}
}

func (l *link) result(service string, m message) (Reply, error) {
	if m.kind == kindReply {
		return Reply{Codec: m.codec, Payload: m.payload}, nil
	}
	return Reply{}, &RemoteError{Peer: l.remote, Service: service, Code: m.code, Message: string(m.payload)}
}

func (l *link) newCall() (uint64, *call) {
	c := &call{res: make(chan message, 1)}
	l.pmu.Lock()
	l.nextID++
	id := l.nextID
	l.pending[id] = c
	l.pmu.Unlock()
	return id, c
}

func (l *link) dropCall(id uint64) {
	l.pmu.Lock()
	delete(l.pending, id)
	l.pmu.Unlock()
}

func (l *link) acked(id uint64) {
	l.pmu.Lock()
	c := l.pending[id]
	l.pmu.Unlock()
	if c != nil {
		c.acked.Store(true)
	}
}

func (l *link) complete(m message) {
	l.pmu.Lock()
	c := l.pending[m.id]
	delete(l.pending, m.id)
	l.pmu.Unlock()
	if c != nil {
		c.res <- m
	}
}

// expired reports whether ctx is done or its deadline has passed (its timer
// may not have fired yet).
func expired(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
