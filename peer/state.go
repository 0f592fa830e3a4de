package peer

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/consensus"
)

var (
	// ErrNotFound is returned by Get for a key that does not exist.
	ErrNotFound = errors.New("peer: key not found")
	// ErrConflict is returned by CompareAndSwap when the key is not at the
	// expected revision.
	ErrConflict = errors.New("peer: revision conflict")
	// ErrNoStateServer is returned when no member of the mesh is a state
	// server (none runs with a data directory).
	ErrNoStateServer = errors.New("peer: no state server in the mesh")
	// ErrCompacted is returned by a watch that resumes from a revision the
	// servers no longer keep events for.
	ErrCompacted = consensus.ErrCompacted
)

// State is the shared state as one peer uses it: a replicated key/value
// store with revisions. See the package doc.
type State struct {
	p *Peer

	mu       sync.Mutex
	next     uint64              // last write sequence number given out
	inflight map[uint64]struct{} // writes without a result yet
	hint     string              // the leader, as last learnt
	owns     bool                // wrote Ephemeral keys
}

func newState(p *Peer) *State {
	return &State{p: p, inflight: make(map[uint64]struct{})}
}

// State returns the shared state, usable from any peer: state servers and
// their clients alike.
func (p *Peer) State() *State { return p.state }

// Entry is a key of the shared state and its value.
type Entry struct {
	Key   string `json:"key"`
	Value []byte `json:"-"`
	Codec string `json:"codec"`
	// Rev is the revision of the key's last change, Created the one that
	// created it; Version counts its changes since.
	Rev     int64  `json:"rev"`
	Created int64  `json:"created"`
	Version int64  `json:"version"`
	Owner   string `json:"owner,omitempty"` // the session it vanishes with

	codecs *codec.Registry
}

// Decode decodes the value into v.
func (e Entry) Decode(v any) error {
	c, err := e.codecs.Lookup(e.Codec)
	if err != nil {
		return fmt.Errorf("peer: value of %s: %w", e.Key, err)
	}
	if err := c.Unmarshal(e.Value, v); err != nil {
		return fmt.Errorf("peer: decode value of %s: %w", e.Key, err)
	}
	return nil
}

func (s *State) entry(e consensus.Entry) Entry {
	return Entry{Key: e.Key, Value: e.Value, Codec: e.Codec, Rev: e.Rev, Created: e.Created,
		Version: e.Version, Owner: e.Owner, codecs: s.p.cfg.Codecs}
}

// StateOption tunes one state call.
type StateOption func(*stateOptions)

type stateOptions struct {
	stale     bool
	ephemeral bool
	from      int64
	limit     int
}

// Stale lets a read answer from the nearest replica, which may lag the
// leader, instead of a linearizable read through the leader.
func Stale() StateOption { return func(o *stateOptions) { o.stale = true } }

// Ephemeral ties a written key to this peer: it vanishes when the peer
// closes or dies (after Config.SessionGrace). For locks and presence.
func Ephemeral() StateOption { return func(o *stateOptions) { o.ephemeral = true } }

// FromRev starts a watch at revision rev (inclusive) instead of now.
func FromRev(rev int64) StateOption { return func(o *stateOptions) { o.from = rev } }

// Limit bounds how many entries List returns.
func Limit(n int) StateOption { return func(o *stateOptions) { o.limit = n } }

func options(opts []StateOption) stateOptions {
	var o stateOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Get returns key's entry; ErrNotFound if it does not exist.
func (s *State) Get(ctx context.Context, key string, opts ...StateOption) (Entry, error) {
	rep, err := s.read(ctx, readRequest{Key: key}, options(opts))
	if err != nil {
		return Entry{}, err
	}
	if len(rep.Entries) == 0 {
		return Entry{}, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	return s.entry(rep.Entries[0]), nil
}

// List returns the entries whose key starts with prefix, by key, and the
// revision they were read at: a Watch from the revision after it misses
// nothing.
func (s *State) List(ctx context.Context, prefix string, opts ...StateOption) ([]Entry, int64, error) {
	o := options(opts)
	rep, err := s.read(ctx, readRequest{Key: prefix, Prefix: true, Limit: o.limit}, o)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Entry, len(rep.Entries))
	for i, e := range rep.Entries {
		out[i] = s.entry(e)
	}
	return out, rep.Rev, nil
}

// Put sets key to v, encoded with the peer's codec, and returns the
// change's revision.
func (s *State) Put(ctx context.Context, key string, v any, opts ...StateOption) (int64, error) {
	c, err := s.putCommand(key, v, options(opts))
	if err != nil {
		return 0, err
	}
	res, err := s.apply(ctx, c)
	return res.Rev, err
}

// CompareAndSwap sets key to v only if the key is at revision rev (0: only
// if it does not exist), and returns the change's revision. Otherwise it
// fails with ErrConflict, naming the key's revision.
func (s *State) CompareAndSwap(ctx context.Context, key string, rev int64, v any, opts ...StateOption) (int64, error) {
	c, err := s.putCommand(key, v, options(opts))
	if err != nil {
		return 0, err
	}
	c.Cond, c.IfRev = true, rev
	res, err := s.apply(ctx, c)
	if err != nil {
		return 0, err
	}
	if !res.OK {
		return 0, conflict(key, res.Cur)
	}
	return res.Rev, nil
}

func conflict(key string, cur int64) error {
	if cur == 0 {
		return fmt.Errorf("%w: %q does not exist", ErrConflict, key)
	}
	return fmt.Errorf("%w: %q is at revision %d", ErrConflict, key, cur)
}

// Delete removes key; it reports whether the key existed.
func (s *State) Delete(ctx context.Context, key string) (bool, error) {
	if err := validKey(key); err != nil {
		return false, err
	}
	res, err := s.apply(ctx, consensus.Command{Op: consensus.OpDelete, Key: key})
	return res.OK, err
}

// CompareAndDelete removes key only if it is at revision rev. Otherwise it
// fails with ErrConflict, naming the key's revision (0: absent).
func (s *State) CompareAndDelete(ctx context.Context, key string, rev int64) error {
	if err := validKey(key); err != nil {
		return err
	}
	if rev <= 0 {
		return fmt.Errorf("%w: revision %d: a key to delete has a revision of 1 or more", ErrConflict, rev)
	}
	res, err := s.apply(ctx, consensus.Command{Op: consensus.OpDelete, Key: key, Cond: true, IfRev: rev})
	if err != nil {
		return err
	}
	if !res.OK {
		return conflict(key, res.Cur)
	}
	return nil
}

func (s *State) putCommand(key string, v any, o stateOptions) (consensus.Command, error) {
	if err := validKey(key); err != nil {
		return consensus.Command{}, err
	}
	b, err := s.p.codec.Marshal(v)
	if err != nil {
		return consensus.Command{}, fmt.Errorf("peer: encode value of %s: %w", key, err)
	}
	c := consensus.Command{Op: consensus.OpPut, Key: key, Value: b, Codec: s.p.codec.Name()}
	if o.ephemeral {
		c.Owner = s.p.session
		s.mu.Lock()
		s.owns = true
		s.mu.Unlock()
	}
	return c, nil
}

// validKey accepts 1-4096 bytes.
func validKey(key string) error {
	if key == "" || len(key) > 4096 {
		return fmt.Errorf("%w: key must be 1-4096 bytes", ErrInvalidName)
	}
	return nil
}

// apply numbers c so retries are safe, and has the leader apply it.
func (s *State) apply(ctx context.Context, c consensus.Command) (consensus.Result, error) {
	if s.p.isClosed() {
		return consensus.Result{}, ErrClosed
	}
	c.Client = s.p.session
	c.Seq, c.Acked = s.begin()
	defer s.end(c.Seq)
	rep, err := s.leaderCall(ctx, svcApply, c, func(ctx context.Context) (stateReply, error) {
		return s.p.applyHere(ctx, c)
	})
	if err != nil && ctx.Err() != nil {
		return consensus.Result{}, unknownWrite{err}
	}
	return rep.Result, err
}

// unknownWrite is a write whose context ended before a server confirmed
// it: it may or may not have been applied. It matches ErrUnknownOutcome.
type unknownWrite struct{ err error }

func (e unknownWrite) Error() string {
	return "peer: write not confirmed, it may or may not have been applied: " + e.err.Error()
}

func (e unknownWrite) Unwrap() []error { return []error{ErrUnknownOutcome, e.err} }

func (s *State) begin() (seq, acked uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	s.inflight[s.next] = struct{}{}
	acked = s.next
	for q := range s.inflight {
		acked = min(acked, q)
	}
	return s.next, acked
}

func (s *State) end(seq uint64) {
	s.mu.Lock()
	delete(s.inflight, seq)
	s.mu.Unlock()
}

func (s *State) read(ctx context.Context, q readRequest, o stateOptions) (stateReply, error) {
	q.Stale = o.stale
	local := func(ctx context.Context) (stateReply, error) { return s.p.readHere(ctx, q) }
	if o.stale {
		return s.anyCall(ctx, svcRead, q, local)
	}
	return s.leaderCall(ctx, svcRead, q, local)
}
