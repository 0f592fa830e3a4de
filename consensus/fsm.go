package consensus

import (
	"io"

	"github.com/hashicorp/raft"
)

// fsm applies the raft log to a Store.
type fsm struct{ store *Store }

var _ raft.FSM = (*fsm)(nil)

// Apply applies a committed command; it returns a Result, or an error for
// a command that does not decode (such a command changes nothing).
func (f *fsm) Apply(l *raft.Log) any {
	c, err := DecodeCommand(l.Data)
	if err != nil {
		return err
	}
	return f.store.Apply(c)
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) { return f.store.snapshot(), nil }

func (f *fsm) Restore(r io.ReadCloser) error {
	defer r.Close()
	return f.store.restore(r)
}
