package mesh

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// Handler serves requests. Returning an error that wraps ErrNoService tells
// the caller the request was not executed; any other error reaches the caller
// as a *RemoteError with its message. A panic is recovered and reported the
// same way (CodePanic). Handlers must return when ctx is done: it carries the
// caller's deadline and is cancelled when the caller gives up or the link dies.
type Handler func(ctx context.Context, req Request) (Reply, error)

// admit acknowledges a request and queues it to run once the acks are
// written, or refuses it unexecuted when the node is closing or saturated.
func (l *link) admit(m message) {
	n := l.n
	if !n.acquire() {
		l.send(context.Background(), &message{kind: kindError, id: m.id, code: CodeUnavailable, payload: []byte("provider closing or overloaded")})
		return
	}
	ack := message{kind: kindAck, id: m.id}
	if err := l.q.put(context.Background(), &ack, l.done); err != nil {
		n.release()
		return
	}
	l.reqs = append(l.reqs, m)
}

// serve runs the handler for one admitted request and sends its answer.
func (l *link) serve(m message) {
	n := l.n
	defer n.release()
	ctx, cancel := n.handlerContext(m.timeout)
	defer cancel()
	l.smu.Lock()
	l.serving[m.id] = cancel
	l.smu.Unlock()

	rep, err := n.runHandler(ctx, Request{From: l.remote, Service: m.service, Codec: m.codec, Payload: m.payload})

	l.smu.Lock()
	delete(l.serving, m.id)
	l.smu.Unlock()
	out := message{kind: kindReply, id: m.id, codec: rep.Codec, payload: rep.Payload}
	if err != nil {
		out = errorMessage(m.id, err)
	} else if len(rep.Payload) > n.cfg.MaxMessageSize || len(rep.Codec) > maxNameLen {
		out = errorMessage(m.id, fmt.Errorf("%w: reply of %d bytes (limit %d)", ErrTooLarge, len(rep.Payload), n.cfg.MaxMessageSize))
	}
	l.send(context.Background(), &out)
}

func (n *Node) handlerContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout > 0 {
		return context.WithTimeout(n.ctx, timeout)
	}
	return context.WithCancel(n.ctx)
}

// runHandler calls the installed handler, turning a panic into an error.
func (n *Node) runHandler(ctx context.Context, req Request) (rep Reply, err error) {
	h := n.handler.Load()
	if h == nil {
		return Reply{}, fmt.Errorf("%w: %q", ErrNoService, req.Service)
	}
	defer func() {
		if r := recover(); r != nil {
			n.log.Error("handler panicked", "service", req.Service, "from", req.From, "panic", r, "stack", string(debug.Stack()))
			err = &panicError{fmt.Sprint(r)}
		}
	}()
	return (*h)(ctx, req)
}

type panicError struct{ v string }

func (p *panicError) Error() string { return "panic: " + p.v }

func errorMessage(id uint64, err error) message {
	code := CodeHandler
	var pe *panicError
	switch {
	case errors.As(err, &pe):
		code = CodePanic
	case errors.Is(err, ErrNoService):
		code = CodeNoService
	case errors.Is(err, ErrBadRequest):
		code = CodeBadRequest
	}
	return message{kind: kindError, id: id, code: code, payload: []byte(err.Error())}
}

func (l *link) cancelServing(id uint64) {
	l.smu.Lock()
	cancel := l.serving[id]
	l.smu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// CallSelf runs this node's own handler for req in the calling goroutine,
// with the same errors a remote caller would see.
func (n *Node) CallSelf(ctx context.Context, req Request) (Reply, error) {
	req.From = n.cfg.Name
	if !n.acquire() {
		return Reply{}, &RemoteError{Peer: n.cfg.Name, Service: req.Service, Code: CodeUnavailable, Message: "provider closing or overloaded"}
	}
	defer n.release()
	rep, err := n.runHandler(ctx, req)
	if err != nil {
		m := errorMessage(0, err)
		return Reply{}, &RemoteError{Peer: n.cfg.Name, Service: req.Service, Code: m.code, Message: string(m.payload)}
	}
	return rep, nil
}
