package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pyros-mesh/pyros/mesh"
	"github.com/pyros-mesh/pyros/peer"
)

// item is what waits in the inbox for the process: a request for a
// service it provides, or a message of a stream it subscribes to.
type item map[string]any

// result is the process's answer to a provided call.
type result struct {
	payload []byte // pickled
	err     error
}

// call calls a mesh service with a pickled argument; the answer carries
// the pickled result, or the error as {code, message, peer}.
func (s *Server) call(ctx context.Context, r request) (any, error) {
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(r.Timeout*float64(time.Second)))
		defer cancel()
	}
	rep, err := s.p.CallRaw(ctx, r.Service, s.pickle.Name(), r.Payload)
	if err != nil {
		return map[string]any{"ok": false, "error": describe(err)}, nil
	}
	b, err := s.toPickle(rep.Codec, rep.Payload)
	if err != nil {
		return nil, err
	}
	return map[string]any{"ok": true, "payload": b}, nil
}

// describe turns a call error into what the process raises.
func describe(err error) map[string]any {
	var re *mesh.RemoteError
	if errors.As(err, &re) {
		return map[string]any{"code": re.Code.String(), "message": re.Message, "peer": re.Peer}
	}
	code := "failed"
	switch {
	case errors.Is(err, peer.ErrUnknownService):
		code = "unknown-service"
	case errors.Is(err, context.DeadlineExceeded):
		code = "timeout"
	case errors.Is(err, peer.ErrUnknownOutcome):
		code = "unknown-outcome"
	}
	return map[string]any{"code": code, "message": err.Error()}
}

// provide makes the peer provide a service whose requests go to the
// process's inbox.
func (s *Server) provide(_ context.Context, r request) (any, error) {
	var opts []peer.ProvideOption
	if r.Type != "" {
		opts = append(opts, peer.ServiceType(r.Type))
	}
	if err := s.p.Provide(r.Service, s.forward(r.Service), opts...); err != nil {
		return nil, err
	}
	return map[string]any{"ok": true}, nil
}

func (s *Server) unprovide(_ context.Context, r request) (any, error) {
	s.p.Unprovide(r.Service)
	return map[string]any{"ok": true}, nil
}

// forward hands a mesh request to the process and waits for its answer.
func (s *Server) forward(service string) peer.Handler {
	return func(ctx context.Context, req *peer.Request) (any, error) {
		payload, err := s.toPickle(req.Codec(), req.Payload())
		if err != nil {
			return nil, fmt.Errorf("%w: %w", mesh.ErrBadRequest, err)
		}
		id, c, err := s.await()
		if err != nil {
			return nil, err
		}
		defer s.forget(id)
		it := item{"kind": "request", "id": id, "service": service, "from": req.From, "payload": payload}
		if deadline, ok := ctx.Deadline(); ok {
			it["timeout"] = time.Until(deadline).Seconds()
		}
		select {
		case s.inbox <- it:
		default:
			return nil, fmt.Errorf("%w: the process is %d requests behind", mesh.ErrNoService, inboxSize)
		}
		select {
		case res := <-c:
			if res.err != nil {
				return nil, res.err
			}
			return s.fromPickle(res.payload)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// await registers a provided call waiting for the process.
func (s *Server) await() (uint64, chan result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, nil, errors.New("api: closed")
	}
	s.nextID++
	c := make(chan result, 1)
	s.pending[s.nextID] = c
	return s.nextID, c, nil
}

func (s *Server) forget(id uint64) {
	s.mu.Lock()
	delete(s.pending, id)
	s.mu.Unlock()
}

// reply completes a provided call with the process's result or error.
func (s *Server) reply(_ context.Context, r request) (any, error) {
	s.mu.Lock()
	c := s.pending[r.ID]
	delete(s.pending, r.ID)
	s.mu.Unlock()
	if c == nil {
		return map[string]any{"ok": false}, nil // the caller gave up
	}
	if r.OK {
		c <- result{payload: r.Payload}
	} else {
		c <- result{err: processError(r.Error)}
	}
	return map[string]any{"ok": true}, nil
}

// processError is an exception raised in the process, as callers see it.
type processError string

func (e processError) Error() string { return string(e) }

// maxNext bounds the items one "next" returns.
const maxNext = 1024

// next returns what waits in the inbox, waiting up to the timeout for
// something to arrive.
func (s *Server) next(ctx context.Context, r request) (any, error) {
	limit := r.Max
	if limit <= 0 || limit > maxNext {
		limit = maxNext
	}
	wait := time.Duration(r.Timeout * float64(time.Second))
	t := time.NewTimer(min(max(wait, 0), 10*time.Second))
	defer t.Stop()
	items := []any{}
	select {
	case it := <-s.inbox:
		items = append(items, it)
	case <-t.C:
		return map[string]any{"items": items}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for len(items) < limit {
		select {
		case it := <-s.inbox:
			items = append(items, it)
		default:
			return map[string]any{"items": items}, nil
		}
	}
	return map[string]any{"items": items}, nil
}

// toPickle re-encodes a payload of another codec with pickle.
func (s *Server) toPickle(codecName string, payload []byte) ([]byte, error) {
	if codecName == s.pickle.Name() {
		return payload, nil
	}
	c, err := s.p.Codecs().Lookup(codecName)
	if err != nil {
		return nil, err
	}
	var v any
	if err := c.Unmarshal(payload, &v); err != nil {
		return nil, err
	}
	return s.pickle.Marshal(v)
}

// fromPickle decodes a pickled value into plain Go values.
func (s *Server) fromPickle(b []byte) (any, error) {
	var v any
	if err := s.pickle.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("api: the process answered: %w", err)
	}
	return v, nil
}
