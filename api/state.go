package api

import (
	"context"
	"errors"

	"github.com/pyros-mesh/pyros/peer"
)

// State operations: values travel pickled; entries come back as
// {key, rev, created, version, payload} with the value pickled.

func (s *Server) readOpts(r request) []peer.StateOption {
	if r.Stale {
		return []peer.StateOption{peer.Stale()}
	}
	return nil
}

func (s *Server) entry(e peer.Entry) (map[string]any, error) {
	b, err := s.toPickle(e.Codec, e.Value)
	if err != nil {
		return nil, err
	}
	return map[string]any{"key": e.Key, "rev": e.Rev, "created": e.Created, "version": e.Version, "payload": b}, nil
}

func (s *Server) get(ctx context.Context, r request) (any, error) {
	e, err := s.p.State().Get(ctx, r.Key, s.readOpts(r)...)
	if errors.Is(err, peer.ErrNotFound) {
		return map[string]any{"found": false}, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := s.entry(e)
	if err != nil {
		return nil, err
	}
	m["found"] = true
	return m, nil
}

func (s *Server) put(ctx context.Context, r request) (any, error) {
	v, err := s.fromPickle(r.Payload)
	if err != nil {
		return nil, err
	}
	rev, err := s.p.State().Put(ctx, r.Key, v)
	if err != nil {
		return nil, err
	}
	return map[string]any{"rev": rev}, nil
}

func (s *Server) del(ctx context.Context, r request) (any, error) {
	if r.Rev > 0 {
		err := s.p.State().CompareAndDelete(ctx, r.Key, r.Rev)
		if errors.Is(err, peer.ErrConflict) {
			return map[string]any{"deleted": false, "error": err.Error()}, nil
		}
		if err != nil {
			return nil, err
		}
		return map[string]any{"deleted": true}, nil
	}
	ok, err := s.p.State().Delete(ctx, r.Key)
	if err != nil {
		return nil, err
	}
	return map[string]any{"deleted": ok}, nil
}

func (s *Server) cas(ctx context.Context, r request) (any, error) {
	v, err := s.fromPickle(r.Payload)
	if err != nil {
		return nil, err
	}
	rev, err := s.p.State().CompareAndSwap(ctx, r.Key, r.Rev, v)
	if errors.Is(err, peer.ErrConflict) {
		return map[string]any{"ok": false, "error": err.Error()}, nil
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"ok": true, "rev": rev}, nil
}

func (s *Server) list(ctx context.Context, r request) (any, error) {
	es, rev, err := s.p.State().List(ctx, r.Key, s.readOpts(r)...)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(es))
	for _, e := range es {
		m, err := s.entry(e)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return map[string]any{"entries": out, "rev": rev}, nil
}
