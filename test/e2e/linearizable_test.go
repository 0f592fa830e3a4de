package e2e

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// kvInput is one operation on a key of the shared state.
type kvInput struct {
	Op    string // get, put or cas
	Key   string
	Value string // put and cas
	IfRev int64  // cas
}

// kvOutput is what the operation returned. Unknown: the client never
// learnt whether a write took effect.
type kvOutput struct {
	Unknown bool
	OK      bool   // cas: swapped
	Value   string // get: the value ("" = absent)
	Rev     int64  // get: the key's revision; put, cas: the new revision; failed cas: the current one
}

// kvState is a key's value and revision in the model; Rev -1 means a write
// of unknown revision happened.
type kvState struct {
	Value string
	Rev   int64
}

// kvModel is the shared state as a linearizable map of keys with
// revisions, checked key by key.
var kvModel = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := make(map[string][]porcupine.Operation)
		for _, op := range h {
			k := op.Input.(kvInput).Key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() []any { return []any{kvState{}} },
	Step: func(state, input, output any) []any {
		st, in, out := state.(kvState), input.(kvInput), output.(kvOutput)
		switch in.Op {
		case "get":
			if out.Value == st.Value && (st.Rev < 0 || out.Rev == st.Rev) {
				return []any{kvState{st.Value, out.Rev}}
			}
		case "put":
			if out.Unknown {
				return []any{st, kvState{in.Value, -1}}
			}
			if st.Rev < 0 || out.Rev > st.Rev {
				return []any{kvState{in.Value, out.Rev}}
			}
		case "cas":
			return casStep(st, in, out)
		}
		return nil
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		return fmt.Sprintf("%s(%s %q @%d) -> %+v", in.Op, in.Key, in.Value, in.IfRev, out)
	},
}

func casStep(st kvState, in kvInput, out kvOutput) []any {
	matches := st.Rev < 0 || st.Rev == in.IfRev
	switch {
	case out.Unknown:
		if matches {
			return []any{st, kvState{in.Value, -1}}
		}
		return []any{st}
	case out.OK && matches && (st.Rev < 0 || out.Rev > st.Rev):
		return []any{kvState{in.Value, out.Rev}}
	case !out.OK && (st.Rev < 0 || (st.Rev != in.IfRev && out.Rev == st.Rev)):
		return []any{kvState{st.Value, out.Rev}}
	}
	return nil
}

// history records operations as clients see them.
type history struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
}

func newHistory() *history { return &history{start: time.Now()} }

func (h *history) now() int64 { return int64(time.Since(h.start)) }

// add records an operation called at call; one with an unknown outcome may
// take effect at any time after its call, so it returns "never".
func (h *history) add(client int, in kvInput, out kvOutput, call int64) {
	ret := h.now()
	if out.Unknown {
		ret = math.MaxInt64
	}
	h.mu.Lock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	h.mu.Unlock()
}

func (h *history) check(timeout time.Duration) (porcupine.CheckResult, porcupine.LinearizationInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return porcupine.CheckOperationsVerbose(kvModel.ToModel(), h.ops, timeout)
}

// TestKVModelCatchesStaleRead proves the checker can fail: a read that
// returns a value overwritten before it began is not linearizable.
func TestKVModelCatchesStaleRead(t *testing.T) {
	h := newHistory()
	h.ops = []porcupine.Operation{
		{Input: kvInput{Op: "put", Key: "k", Value: "a"}, Call: 0, Output: kvOutput{Rev: 1}, Return: 1},
		{Input: kvInput{Op: "put", Key: "k", Value: "b"}, Call: 2, Output: kvOutput{Rev: 2}, Return: 3},
		{Input: kvInput{Op: "get", Key: "k"}, Call: 4, Output: kvOutput{Value: "a", Rev: 1}, Return: 5},
	}
	if res, _ := h.check(5 * time.Second); res != porcupine.Illegal {
		t.Fatalf("stale read judged %s", res)
	}
	h.ops[2].Output = kvOutput{Value: "b", Rev: 2}
	if res, _ := h.check(5 * time.Second); res != porcupine.Ok {
		t.Fatalf("fresh read judged %s", res)
	}
}
