package api

import (
	"context"

	"github.com/pyros-mesh/pyros/peer"
)

// publish sends a pickled value on a stream, starting a publisher the
// first time (typed when the process gives a type).
func (s *Server) publish(_ context.Context, r request) (any, error) {
	s.mu.Lock()
	pub := s.pubs[r.Stream]
	s.mu.Unlock()
	if pub == nil {
		var opts []peer.PublishOption
		if r.Type != "" {
			opts = append(opts, peer.Typed(r.Type))
		}
		p, err := s.p.Publish(r.Stream, opts...)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		if s.pubs[r.Stream] == nil {
			s.pubs[r.Stream] = p
		} else {
			p.Close() // another publish won the race
		}
		pub = s.pubs[r.Stream]
		s.mu.Unlock()
	}
	if err := s.send(pub, r.Payload); err != nil {
		return nil, err
	}
	return map[string]any{"ok": true}, nil
}

// send publishes a pickled payload with the publisher's codec.
func (s *Server) send(pub *peer.Publisher, payload []byte) error {
	if pub.Codec() == s.pickle.Name() {
		return pub.SendEncoded(payload)
	}
	v, err := s.fromPickle(payload)
	if err != nil {
		return err
	}
	return pub.Send(v)
}

// subscribe starts delivering a stream's messages to the inbox.
func (s *Server) subscribe(ctx context.Context, r request) (any, error) {
	s.mu.Lock()
	_, ok := s.subs[r.Stream]
	s.mu.Unlock()
	if ok {
		return map[string]any{"ok": true}, nil
	}
	stream := r.Stream
	sub, err := s.p.Subscribe(context.Background(), stream, func(m peer.Message) {
		b, err := s.toPickle(m.Codec(), m.Payload())
		if err != nil {
			s.log.Warn("a stream message the process cannot read", "stream", stream, "err", err)
			return
		}
		it := item{"kind": "message", "stream": stream, "from": m.From(), "seq": m.Seq, "payload": b}
		select {
		case s.inbox <- it:
		default:
			s.mu.Lock()
			s.dropped++
			s.mu.Unlock()
		}
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.subs[stream] = sub
	s.mu.Unlock()
	return map[string]any{"ok": true}, nil
}
