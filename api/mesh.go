package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/pyros-mesh/pyros/codec"
)

// Operations that show the mesh: its members, services and streams as the
// peer's catalog has them, and what one member says it sees and does.
// Values are plain lists and dicts, the same fields as the CLI's --json.

func (s *Server) members(context.Context, request) (any, error) {
	out := []any{}
	for _, m := range s.p.Members() {
		out = append(out, map[string]any{"name": m.Name, "addr": m.Addr, "role": m.Role,
			"services": nonNil(m.Services), "self": m.Self})
	}
	return map[string]any{"members": out}, nil
}

func (s *Server) services(context.Context, request) (any, error) {
	out := []any{}
	for _, svc := range s.p.Services() {
		out = append(out, map[string]any{"name": svc.Name, "providers": nonNil(svc.Providers), "type": svc.Type})
	}
	return map[string]any{"services": out}, nil
}

func (s *Server) streams(context.Context, request) (any, error) {
	out := []any{}
	for _, st := range s.p.Streams() {
		out = append(out, map[string]any{"name": st.Name, "publishers": nonNil(st.Publishers),
			"subscribers": nonNil(st.Subscribers), "type": st.Type})
	}
	return map[string]any{"streams": out}, nil
}

// observe asks a member (r.Key; "" for this peer) for its Observation,
// given as the dict its JSON form makes.
func (s *Server) observe(ctx context.Context, r request) (any, error) {
	name := r.Key
	if name == "" {
		name = s.p.Name()
	}
	o, err := s.p.Observe(ctx, name)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("api: observation of %s: %w", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("api: observation of %s: %w", name, err)
	}
	return map[string]any{"observation": codec.JSONNumbers(v)}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
