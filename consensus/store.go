package consensus

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/google/btree"
)

// Entry is a key and its current value.
type Entry struct {
	Key   string `msgpack:"k" json:"key"`
	Value []byte `msgpack:"v" json:"-"`
	Codec string `msgpack:"c" json:"codec"`
	// Created is the revision that created the key, Rev the one that last
	// changed it, Version the number of changes since it was created.
	Created int64 `msgpack:"cr" json:"created"`
	Rev     int64 `msgpack:"r" json:"rev"`
	Version int64 `msgpack:"n" json:"version"`
	// Owner is the session the key vanishes with ("" = durable).
	Owner string `msgpack:"o,omitempty" json:"owner,omitempty"`
}

// EventType says what happened to a key.
type EventType uint8

// The event types.
const (
	EventPut EventType = iota + 1
	EventDelete
)

func (t EventType) String() string {
	if t == EventDelete {
		return "delete"
	}
	return "put"
}

// Event is one change of a key. A delete's Entry has the key and the
// revision of the deletion, and no value.
type Event struct {
	Type  EventType `msgpack:"t"`
	Entry Entry     `msgpack:"e"`
}

// clientState holds a client's results that it may still ask for again.
type clientState struct {
	Acked   uint64            `msgpack:"a"`
	Results map[uint64]Result `msgpack:"r"`
}

// Store is the replicated state: the entries, recent events and client
// results. Apply changes it (from the raft log); the other methods read it
// and are safe to call concurrently.
type Store struct {
	mu        sync.RWMutex
	rev       int64
	keys      *btree.BTreeG[*Entry]
	owned     map[string]map[string]bool // session -> its keys
	clients   map[string]*clientState
	hist      history
	changed   chan struct{} // closed and replaced on every change of rev
	maxEvents int
}

// NewStore returns an empty store keeping about maxEvents recent events
// for watches (default 10000).
func NewStore(maxEvents int) *Store {
	if maxEvents <= 0 {
		maxEvents = 10000
	}
	return &Store{
		keys:      newTree(),
		owned:     make(map[string]map[string]bool),
		clients:   make(map[string]*clientState),
		changed:   make(chan struct{}),
		maxEvents: maxEvents,
	}
}

func newTree() *btree.BTreeG[*Entry] {
	return btree.NewG(32, func(a, b *Entry) bool { return a.Key < b.Key })
}

// Rev returns the store's revision.
func (s *Store) Rev() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rev
}

// Get returns key's entry and the store revision.
func (s *Store) Get(key string) (Entry, bool, int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.keys.Get(&Entry{Key: key})
	if !ok {
		return Entry{}, false, s.rev
	}
	return *e, true, s.rev
}

// List returns the entries whose key starts with prefix, by key, at most
// limit of them (0: all), and the store revision.
func (s *Store) List(prefix string, limit int) ([]Entry, int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Entry
	s.keys.AscendGreaterOrEqual(&Entry{Key: prefix}, func(e *Entry) bool {
		if !strings.HasPrefix(e.Key, prefix) || (limit > 0 && len(out) == limit) {
			return false
		}
		out = append(out, *e)
		return true
	})
	return out, s.rev
}

// Sessions returns the sessions that own keys or have write results.
func (s *Store) Sessions() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	seen := make(map[string]bool, len(s.owned)+len(s.clients))
	var out []string
	for id := range s.owned {
		seen[id] = true
		out = append(out, id)
	}
	for id := range s.clients {
		if !seen[id] {
			out = append(out, id)
		}
	}
	return out
}

// Changed returns a channel closed at the next change of the revision.
func (s *Store) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

// Apply applies one command and returns its result.
func (s *Store) Apply(c Command) Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Client != "" && c.Seq > 0 {
		cs := s.client(c.Client, c.Acked)
		if r, ok := cs.Results[c.Seq]; ok {
			return r // a retry: answer as the first time
		}
		if c.Seq < cs.Acked {
			return Result{Rev: s.rev} // acknowledged long ago; never resent
		}
		r := s.apply(c)
		cs.Results[c.Seq] = r
		return r
	}
	return s.apply(c)
}

// client returns c's state, forgetting the results it acknowledged.
func (s *Store) client(id string, acked uint64) *clientState {
	cs := s.clients[id]
	if cs == nil {
		cs = &clientState{Results: make(map[uint64]Result)}
		s.clients[id] = cs
	}
	if acked > cs.Acked {
		cs.Acked = acked
		for seq := range cs.Results {
			if seq < acked {
				delete(cs.Results, seq)
			}
		}
	}
	return cs
}

func (s *Store) apply(c Command) Result {
	cur, exists := s.keys.Get(&Entry{Key: c.Key})
	if c.Op != OpEndSession && c.Cond {
		have := int64(0)
		if exists {
			have = cur.Rev
		}
		if have != c.IfRev {
			return Result{Rev: s.rev, Cur: have}
		}
	}
	switch c.Op {
	case OpPut:
		s.put(cur, c)
	case OpDelete:
		if !exists {
			return Result{Rev: s.rev}
		}
		s.bump()
		s.remove(cur)
	case OpEndSession:
		s.endSession(c.Key)
	}
	return Result{Rev: s.rev, OK: true}
}

// bump starts the next revision and wakes those waiting for it.
func (s *Store) bump() {
	s.rev++
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Store) put(cur *Entry, c Command) {
	s.bump()
	e := &Entry{Key: c.Key, Value: c.Value, Codec: c.Codec, Created: s.rev, Rev: s.rev, Version: 1, Owner: c.Owner}
	if cur != nil {
		e.Created, e.Version = cur.Created, cur.Version+1
		s.disown(cur)
	}
	s.keys.ReplaceOrInsert(e)
	if e.Owner != "" {
		if s.owned[e.Owner] == nil {
			s.owned[e.Owner] = make(map[string]bool)
		}
		s.owned[e.Owner][e.Key] = true
	}
	s.hist.add(Event{Type: EventPut, Entry: *e}, s.maxEvents)
}

// remove deletes e at the current revision.
func (s *Store) remove(e *Entry) {
	s.keys.Delete(e)
	s.disown(e)
	s.hist.add(Event{Type: EventDelete, Entry: Entry{Key: e.Key, Rev: s.rev}}, s.maxEvents)
}

func (s *Store) disown(e *Entry) {
	if e.Owner == "" {
		return
	}
	delete(s.owned[e.Owner], e.Key)
	if len(s.owned[e.Owner]) == 0 {
		delete(s.owned, e.Owner)
	}
}

// endSession removes the session's keys, all at one revision, and its
// write results.
func (s *Store) endSession(id string) {
	delete(s.clients, id)
	keys := s.owned[id]
	if len(keys) == 0 {
		return
	}
	s.bump()
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if e, ok := s.keys.Get(&Entry{Key: k}); ok {
			s.remove(e)
		}
	}
}
