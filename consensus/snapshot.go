package consensus

import (
	"fmt"
	"io"

	"github.com/google/btree"
	"github.com/hashicorp/raft"
)

// image is the store as a snapshot holds it.
type image struct {
	Rev     int64                   `msgpack:"r"`
	Entries []*Entry                `msgpack:"e"`
	Clients map[string]*clientState `msgpack:"c"`
}

// snapshot captures the store; the capture is cheap (the tree is copied on
// write) and safe to persist while the store changes.
func (s *Store) snapshot() *storeSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	clients := make(map[string]*clientState, len(s.clients))
	for id, cs := range s.clients {
		rs := make(map[uint64]Result, len(cs.Results))
		for q, r := range cs.Results {
			rs[q] = r
		}
		clients[id] = &clientState{Acked: cs.Acked, Results: rs}
	}
	return &storeSnapshot{rev: s.rev, keys: s.keys.Clone(), clients: clients}
}

type storeSnapshot struct {
	rev     int64
	keys    *btree.BTreeG[*Entry]
	clients map[string]*clientState
}

// Persist writes the snapshot to sink.
func (ss *storeSnapshot) Persist(sink raft.SnapshotSink) error {
	img := image{Rev: ss.rev, Clients: ss.clients, Entries: make([]*Entry, 0, ss.keys.Len())}
	ss.keys.Ascend(func(e *Entry) bool {
		img.Entries = append(img.Entries, e)
		return true
	})
	b, err := wire.Marshal(&img)
	if err == nil {
		_, err = sink.Write(b)
	}
	if err != nil {
		sink.Cancel()
		return fmt.Errorf("consensus: persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release is a no-op: the capture holds no resources.
func (ss *storeSnapshot) Release() {}

// restore replaces the store's contents with a snapshot's.
func (s *Store) restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("consensus: read snapshot: %w", err)
	}
	var img image
	if err := wire.Unmarshal(b, &img); err != nil {
		return fmt.Errorf("consensus: decode snapshot: %w", err)
	}
	keys := newTree()
	owned := make(map[string]map[string]bool)
	for _, e := range img.Entries {
		keys.ReplaceOrInsert(e)
		if e.Owner != "" {
			if owned[e.Owner] == nil {
				owned[e.Owner] = make(map[string]bool)
			}
			owned[e.Owner][e.Key] = true
		}
	}
	if img.Clients == nil {
		img.Clients = make(map[string]*clientState)
	}
	for _, cs := range img.Clients {
		if cs.Results == nil {
			cs.Results = make(map[uint64]Result)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rev, s.keys, s.owned, s.clients = img.Rev, keys, owned, img.Clients
	s.hist.reset(img.Rev)
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}
