package ui

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/peer"
)

// State listing bounds.
const (
	stateListTimeout = 5 * time.Second
	stateListLimit   = 1000
)

// stateEvent is one event of /api/state: the listing first, then changes.
type stateEvent struct {
	Type      string       `json:"type"` // "list", "put", "delete" or "error"
	Rev       int64        `json:"rev,omitempty"`
	Entries   []stateEntry `json:"entries,omitempty"`
	Truncated bool         `json:"truncated,omitempty"` // the listing stopped at its limit
	Entry     *stateEntry  `json:"entry,omitempty"`
	Error     string       `json:"error,omitempty"`
}

type stateEntry struct {
	Key     string `json:"key"`
	Rev     int64  `json:"rev"`
	Value   any    `json:"value,omitempty"`
	Version int64  `json:"version,omitempty"`
}

// serveState sends the entries under a prefix, then every change. Errors
// are events too, since a page's EventSource cannot read an error status.
func (s *Server) serveState(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	prefix := r.URL.Query().Get("prefix")
	es, err := openEvents(w)
	if err != nil {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, stateListTimeout)
	entries, rev, err := s.p.State().List(lctx, prefix, peer.Limit(stateListLimit))
	cancel()
	if err != nil {
		es.sendJSON(stateEvent{Type: "error", Error: "list: " + err.Error()})
		return
	}
	ev := stateEvent{Type: "list", Rev: rev, Entries: []stateEntry{}, Truncated: len(entries) == stateListLimit}
	for _, e := range entries {
		ev.Entries = append(ev.Entries, entryOf(e))
	}
	if es.sendJSON(ev) != nil {
		return
	}
	wt, err := s.p.State().Watch(ctx, prefix, peer.FromRev(rev+1))
	if err != nil {
		es.sendJSON(stateEvent{Type: "error", Error: "watch: " + err.Error()})
		return
	}
	defer wt.Close()
	for c := range wt.Changes() {
		e := entryOf(c.Entry)
		if es.sendJSON(stateEvent{Type: c.Type.String(), Rev: c.Entry.Rev, Entry: &e}) != nil {
			return
		}
	}
	if err := wt.Err(); err != nil && ctx.Err() == nil {
		es.sendJSON(stateEvent{Type: "error", Error: "watch: " + err.Error()})
	}
}

func entryOf(e peer.Entry) stateEntry {
	se := stateEntry{Key: e.Key, Rev: e.Rev, Version: e.Version}
	if e.Value != nil {
		var v any
		if err := e.Decode(&v); err != nil {
			v = fmt.Sprintf("<%v>", err)
		}
		se.Value = codec.JSONable(v)
	}
	return se
}
