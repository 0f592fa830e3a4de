package consensus

import (
	"fmt"

	"github.com/pyros-mesh/pyros/codec"
)

// wire encodes commands and results; it decodes hostile input safely.
var wire = codec.NewMsgpack()

// Op is what a command does.
type Op uint8

// The operations of the store.
const (
	OpPut        Op = iota + 1 // set Key to Value
	OpDelete                   // remove Key
	OpEndSession               // remove every key of session Key and its write results
)

// Command is one replicated change of the store.
type Command struct {
	Op    Op     `msgpack:"o"`
	Key   string `msgpack:"k"`
	Value []byte `msgpack:"v,omitempty"`
	Codec string `msgpack:"c,omitempty"`
	// Owner makes the key vanish when this session ends ("" = durable).
	Owner string `msgpack:"w,omitempty"`
	// IfRev, when Cond is set, applies the command only if the key's
	// revision is IfRev (0: only if the key is absent).
	Cond  bool  `msgpack:"i,omitempty"`
	IfRev int64 `msgpack:"r,omitempty"`
	// Client, Seq and Acked make retries safe: a command is applied once
	// per (Client, Seq); Acked tells that the client has the results of all
	// its commands below it, which the store may then forget.
	Client string `msgpack:"s,omitempty"`
	Seq    uint64 `msgpack:"q,omitempty"`
	Acked  uint64 `msgpack:"a,omitempty"`
}

// Result is what applying a command produced.
type Result struct {
	// Rev is the store revision after the command; for a change it is the
	// change's revision.
	Rev int64 `msgpack:"r"`
	// OK is false when the condition failed or a deleted key was absent.
	OK bool `msgpack:"k"`
	// Cur is the key's revision when the condition failed (0: absent).
	Cur int64 `msgpack:"c,omitempty"`
}

// Encode encodes the command for the raft log.
func (c Command) Encode() ([]byte, error) {
	b, err := wire.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("consensus: encode command: %w", err)
	}
	return b, nil
}

// DecodeCommand decodes a command from the raft log.
func DecodeCommand(b []byte) (Command, error) {
	var c Command
	if err := wire.Unmarshal(b, &c); err != nil {
		return Command{}, fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	if c.Op < OpPut || c.Op > OpEndSession {
		return Command{}, fmt.Errorf("%w: op %d", ErrBadCommand, c.Op)
	}
	return c, nil
}
