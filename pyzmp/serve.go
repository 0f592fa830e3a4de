package pyzmp

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/mesh"
	"github.com/pyros-mesh/pyros/peer"
)

// Config configures Serve and Import.
type Config struct {
	// CallTimeout bounds one call, through the mesh for Serve, to the
	// pyzmp node for Import when the mesh caller set no shorter deadline.
	// Default 10 s (pyzmp clients wait 5 s by default).
	CallTimeout time.Duration
	// MaxMessageSize bounds one pyzmp message. Default 16 MiB.
	MaxMessageSize int
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.CallTimeout <= 0 {
		c.CallTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (c *Config) rep() mesh.RepConfig {
	return mesh.RepConfig{MaxMessageSize: c.MaxMessageSize, Logger: c.Logger}
}

// Server answers pyzmp clients on one endpoint with the mesh's services.
type Server struct {
	p      *peer.Peer
	cfg    Config
	pickle *codec.PickleCodec
	rep    *mesh.RepServer
}

// Serve binds endpoint (ipc:///path, tcp://host:port) as a pyzmp node
// that provides every mesh service: each request is a mesh call from p.
func Serve(p *peer.Peer, endpoint string, cfg Config) (*Server, error) {
	cfg.setDefaults()
	s := &Server{p: p, cfg: cfg, pickle: newCodec()}
	rep, err := mesh.ListenRep(endpoint, cfg.rep(), s.handle)
	if err != nil {
		return nil, fmt.Errorf("pyzmp: %w", err)
	}
	s.rep = rep
	return s, nil
}

// Endpoint returns where pyzmp clients connect.
func (s *Server) Endpoint() string { return s.rep.Endpoint() }

// Close stops serving and waits for calls in progress. It is idempotent.
func (s *Server) Close() error { return s.rep.Close() }

// handle answers one pyzmp request frame.
func (s *Server) handle(ctx context.Context, frame []byte) []byte {
	req, err := decodeRequest(s.pickle, frame)
	if err != nil {
		s.cfg.Logger.Debug("unreadable pyzmp request", "err", err)
		return s.fail(req.service, builtin("TypeError", err.Error()))
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	payload, err := s.pickle.Marshal(toValue(req.args, req.kwargs))
	if err != nil {
		return s.fail(req.service, builtin("TypeError", err.Error()))
	}
	rep, err := s.p.CallRaw(ctx, req.service, codec.Pickle, payload)
	if err != nil {
		return s.fail(req.service, exceptionOf(req.service, err))
	}
	result, err := s.toPickle(rep)
	if err != nil {
		return s.fail(req.service, builtin("TypeError", "pyros cannot pickle the result: "+err.Error()))
	}
	out, err := encodeResponse(s.pickle, req.service, result)
	if err != nil {
		return s.fail(req.service, builtin("RuntimeError", err.Error()))
	}
	return out
}

// toPickle converts a reply to a pickle, decoding other codecs.
func (s *Server) toPickle(rep mesh.Reply) ([]byte, error) {
	if rep.Codec == codec.Pickle {
		return rep.Payload, nil
	}
	c, err := s.p.Codecs().Lookup(rep.Codec)
	if err != nil {
		return nil, err
	}
	var v any
	if err := c.Unmarshal(rep.Payload, &v); err != nil {
		return nil, err
	}
	return s.pickle.Marshal(v)
}

// fail answers with an exception; should even that fail, with a bare
// RuntimeError.
func (s *Server) fail(service string, e pyException) []byte {
	out, err := encodeError(s.pickle, service, e)
	if err != nil {
		out, _ = encodeError(s.pickle, "", builtin("RuntimeError", "pyros: "+err.Error()))
	}
	return out
}
