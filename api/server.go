package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/mesh"
	"github.com/pyros-mesh/pyros/peer"
)

// ErrUnknownOp reports a request for an operation the server does not have.
var ErrUnknownOp = errors.New("api: unknown operation")

// inboxSize bounds what waits for the process: stream messages beyond it
// are dropped (counted), requests beyond it are refused.
const inboxSize = 8192

// Server serves one peer to local processes.
type Server struct {
	p      *peer.Peer
	node   *mesh.Node
	pickle codec.Codec
	log    *slog.Logger

	inbox   chan item
	dropped uint64

	mu      sync.Mutex
	pubs    map[string]*peer.Publisher
	subs    map[string]*peer.Subscription
	pending map[uint64]chan result // provided calls waiting for the process
	nextID  uint64
	closed  bool
}

// Listen serves p on a unix socket in dir.
func Listen(p *peer.Peer, dir string, log *slog.Logger) (*Server, error) {
	pk, err := p.Codecs().Lookup(codec.Pickle)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{p: p, pickle: pk, log: log, inbox: make(chan item, inboxSize),
		pubs: make(map[string]*peer.Publisher), subs: make(map[string]*peer.Subscription),
		pending: make(map[uint64]chan result)}
	s.node, err = mesh.Listen(mesh.Config{Name: p.Name() + "-api", IPCDir: dir, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s.node.Handle(s.serve)
	return s, nil
}

// Endpoint returns the endpoint processes connect to (ipc://...).
func (s *Server) Endpoint() string { return s.node.Endpoints().IPC }

// Close stops serving: publishers and subscriptions made for processes
// end, and calls waiting for a process fail. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, pub := range s.pubs {
		pub.Close()
	}
	for _, sub := range s.subs {
		sub.Close()
	}
	for id, c := range s.pending {
		c <- result{err: errors.New("api: the process's peer is closing")}
		delete(s.pending, id)
	}
	s.mu.Unlock()
	return s.node.Close()
}

// serve runs one operation.
func (s *Server) serve(ctx context.Context, r mesh.Request) (mesh.Reply, error) {
	var req request
	if err := s.pickle.Unmarshal(r.Payload, &req); err != nil {
		return mesh.Reply{}, fmt.Errorf("%w: %w", mesh.ErrBadRequest, err)
	}
	op, ok := ops[r.Service]
	if !ok {
		return mesh.Reply{}, fmt.Errorf("%w: %q", ErrUnknownOp, r.Service)
	}
	out, err := op(s, ctx, req)
	if err != nil {
		return mesh.Reply{}, err
	}
	b, err := s.pickle.Marshal(out)
	if err != nil {
		return mesh.Reply{}, fmt.Errorf("api: encode the answer: %w", err)
	}
	return mesh.Reply{Codec: s.pickle.Name(), Payload: b}, nil
}

// request is every operation's argument; each uses some fields.
type request struct {
	Service string  `msgpack:"service"`
	Stream  string  `msgpack:"stream"`
	Key     string  `msgpack:"key"`
	Type    string  `msgpack:"type"`
	Payload []byte  `msgpack:"payload"`
	Timeout float64 `msgpack:"timeout"` // seconds
	ID      uint64  `msgpack:"id"`
	OK      bool    `msgpack:"ok"`
	Error   string  `msgpack:"error"`
	Rev     int64   `msgpack:"rev"`
	Stale   bool    `msgpack:"stale"`
	Max     int     `msgpack:"max"`
}

var ops = map[string]func(*Server, context.Context, request) (any, error){
	"call":      (*Server).call,
	"provide":   (*Server).provide,
	"unprovide": (*Server).unprovide,
	"reply":     (*Server).reply,
	"publish":   (*Server).publish,
	"subscribe": (*Server).subscribe,
	"next":      (*Server).next,
	"get":       (*Server).get,
	"put":       (*Server).put,
	"delete":    (*Server).del,
	"cas":       (*Server).cas,
	"list":      (*Server).list,
	"whoami":    (*Server).whoami,
	"members":   (*Server).members,
	"services":  (*Server).services,
	"streams":   (*Server).streams,
	"observe":   (*Server).observe,
}

func (s *Server) whoami(context.Context, request) (any, error) {
	return map[string]any{"name": s.p.Name()}, nil
}
