package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/peer"
)

// streamValue is one event of /api/stream.
type streamValue struct {
	From    string `json:"from"`
	Seq     uint64 `json:"seq"`
	Value   any    `json:"value"`
	Skipped uint64 `json:"skipped,omitempty"` // values not sent since the previous one
}

// serveStream sends a stream's values while the page listens, at most
// StreamRate a second.
func (s *Server) serveStream(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		answer(w, http.StatusBadRequest, "error", "name=STREAM is required")
		return
	}
	out := make(chan []byte, s.cfg.StreamRate)
	var skipped atomic.Uint64
	var window time.Time
	n := 0
	sub, err := s.p.Subscribe(ctx, name, func(m peer.Message) {
		// runs on the subscription's goroutine: window and n are its own
		if now := time.Now(); now.Sub(window) >= time.Second {
			window, n = now, 0
		}
		if n >= s.cfg.StreamRate {
			skipped.Add(1)
			return
		}
		n++
		b := encodeValue(m, skipped.Swap(0))
		select {
		case out <- b:
		default:
			skipped.Add(1)
		}
	})
	if err != nil {
		answer(w, http.StatusBadRequest, "error", err.Error())
		return
	}
	defer sub.Close()
	es, err := openEvents(w)
	if err != nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-out:
			if es.send(b) != nil {
				return
			}
		}
	}
}

func encodeValue(m peer.Message, skipped uint64) []byte {
	var v any
	if err := m.Decode(&v); err != nil {
		v = fmt.Sprintf("<undecodable %s payload: %v>", m.Codec(), err)
	}
	sv := streamValue{From: m.From(), Seq: m.Seq, Value: codec.JSONable(v), Skipped: skipped}
	b, err := json.Marshal(sv)
	if err != nil {
		sv.Value = fmt.Sprint(v)
		b, _ = json.Marshal(sv)
	}
	return b
}
