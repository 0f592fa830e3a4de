package experiment

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/pyros-mesh/pyros/peer"
)

// kvInput is a state operation as the model sees it.
type kvInput struct {
	Kind  string // put, get, cas or delete
	Key   string
	Value string
	Prev  int64 // cas
}

// kvOutput is what a state operation returned.
type kvOutput struct {
	Status  kvStatus
	Value   string // get
	Rev     int64  // get: the key's revision (0: absent); put, cas: the new one; conflict: the key's, if CurKnown
	Known   bool   // conflict: Rev is known
	Existed int8   // delete: 1 the key existed, -1 it did not, 0 not recorded
}

type kvStatus int8

const (
	kvOK       kvStatus = iota
	kvPending           // unknown outcome: may take effect at any time after its call
	kvConflict          // a cas refused: the key was not at Prev
)

// kvState is one key in the model. Revisions are global and increase with
// every change, so even a write whose revision nobody learnt bounds the
// next ones from below.
type kvState struct {
	Exists bool
	Value  string
	// Rev is the key's revision if Exact; otherwise a lower bound: the key's
	// revision (or, if absent, that of its next write) is greater.
	Rev   int64
	Exact bool
}

// mayBeAt reports whether the key may be at revision rev.
func (s kvState) mayBeAt(rev int64) bool {
	if !s.Exists {
		return rev == 0
	}
	if s.Exact {
		return s.Rev == rev
	}
	return rev > s.Rev
}

// notAt reports whether the key may be at another revision than rev.
func (s kvState) notAt(rev int64) bool {
	if !s.Exists {
		return rev != 0
	}
	return !s.Exact || s.Rev != rev
}

func written(value string, rev int64) kvState { return kvState{true, value, rev, true} }

// writtenSomeTime is a write whose revision is unknown but above floor.
func writtenSomeTime(value string, floor int64) kvState { return kvState{true, value, floor, false} }

func deleted(floor int64) kvState { return kvState{Rev: floor} }

func kvStep(state, input, output any) []any {
	st, in, out := state.(kvState), input.(kvInput), output.(kvOutput)
	switch in.Kind {
	case "get":
		if out.Rev == 0 && !st.Exists {
			return []any{st}
		}
		if out.Rev != 0 && st.Exists && out.Value == st.Value && st.mayBeAt(out.Rev) {
			return []any{written(st.Value, out.Rev)}
		}
	case "put":
		if out.Status == kvPending {
			return []any{st, writtenSomeTime(in.Value, st.Rev)}
		}
		if out.Rev > st.Rev {
			return []any{written(in.Value, out.Rev)}
		}
	case "cas":
		return casStep(st, in, out)
	case "delete":
		if out.Status == kvPending {
			return []any{st, deleted(st.Rev)}
		}
		if out.Existed == 0 || (out.Existed > 0) == st.Exists {
			return []any{deleted(st.Rev)}
		}
	}
	return nil
}

func casStep(st kvState, in kvInput, out kvOutput) []any {
	floor := max(st.Rev, in.Prev)
	switch out.Status {
	case kvPending:
		if st.mayBeAt(in.Prev) {
			return []any{st, writtenSomeTime(in.Value, floor)}
		}
		return []any{st}
	case kvConflict:
		if !st.notAt(in.Prev) {
			return nil
		}
		if !out.Known {
			return []any{st}
		}
		if out.Rev == 0 && !st.Exists {
			return []any{st}
		}
		if out.Rev != 0 && out.Rev != in.Prev && st.Exists && st.mayBeAt(out.Rev) {
			return []any{written(st.Value, out.Rev)}
		}
	default:
		if st.mayBeAt(in.Prev) && out.Rev > floor {
			return []any{written(in.Value, out.Rev)}
		}
	}
	return nil
}

// StateModel returns the porcupine model of the shared state that Analyze
// checks histories against: keys with revisions, partitioned by key, where
// a write of unknown outcome may take effect or not. Use it with
// StateOperations for porcupine's own checks and visualizations.
func StateModel() porcupine.NondeterministicModel {
	return porcupine.NondeterministicModel{
		Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
			var keys []string
			byKey := make(map[string][]porcupine.Operation)
			for _, op := range h {
				k := op.Input.(kvInput).Key
				if byKey[k] == nil {
					keys = append(keys, k)
				}
				byKey[k] = append(byKey[k], op)
			}
			out := make([][]porcupine.Operation, len(keys))
			for i, k := range keys {
				out[i] = byKey[k]
			}
			return out
		},
		Init:              func() []any { return []any{kvState{}} },
		Step:              kvStep,
		DescribeOperation: describeOp,
		DescribeState: func(state any) string {
			st := state.(kvState)
			switch {
			case !st.Exists:
				return fmt.Sprintf("absent (rev > %d)", st.Rev)
			case st.Exact:
				return fmt.Sprintf("%q @%d", st.Value, st.Rev)
			}
			return fmt.Sprintf("%q @>%d", st.Value, st.Rev)
		},
	}
}

func describeOp(input, output any) string {
	in, out := input.(kvInput), output.(kvOutput)
	var res string
	switch {
	case out.Status == kvPending:
		res = "unknown"
	case out.Status == kvConflict && out.Known:
		res = fmt.Sprintf("conflict @%d", out.Rev)
	case out.Status == kvConflict:
		res = "conflict"
	case in.Kind == "get" && out.Rev == 0:
		res = "absent"
	case in.Kind == "get":
		res = fmt.Sprintf("%q @%d", out.Value, out.Rev)
	case in.Kind == "delete":
		res = map[int8]string{1: "existed", -1: "was absent", 0: "ok"}[out.Existed]
	default:
		res = fmt.Sprintf("@%d", out.Rev)
	}
	switch in.Kind {
	case "put":
		return fmt.Sprintf("put(%s, %q) -> %s", in.Key, in.Value, res)
	case "cas":
		return fmt.Sprintf("cas(%s, @%d, %q) -> %s", in.Key, in.Prev, in.Value, res)
	}
	return fmt.Sprintf("%s(%s) -> %s", in.Kind, in.Key, res)
}

// StateOperations returns the state operations of ops (put, get, cas,
// delete) that tell something about the store, as porcupine operations for
// StateModel: those that certainly did not happen, and reads that did not
// answer, are left out; writes of unknown outcome never return.
func StateOperations(ops []Op) []porcupine.Operation {
	var first time.Time // the earliest call; times are durations from it
	for _, op := range ops {
		if isState(op.Kind) && (first.IsZero() || op.Start.Before(first)) {
			first = op.Start
		}
	}
	clients := make(map[string]int)
	var out []porcupine.Operation
	for _, op := range ops {
		in, res, ok := modelOp(op)
		if !ok {
			continue
		}
		id, seen := clients[op.Client]
		if !seen {
			id = len(clients)
			clients[op.Client] = id
		}
		call := int64(op.Start.Sub(first))
		ret := max(int64(op.End.Sub(first)), call)
		if res.Status == kvPending {
			ret = math.MaxInt64
		}
		out = append(out, porcupine.Operation{ClientId: id, Input: in, Call: call, Output: res, Return: ret})
	}
	return out
}

func isState(kind string) bool {
	switch kind {
	case "put", "get", "cas", "delete":
		return true
	}
	return false
}

// modelOp turns op into the model's input and output; false if it tells
// nothing about the store.
func modelOp(op Op) (kvInput, kvOutput, bool) {
	in := kvInput{Kind: op.Kind, Key: op.Key, Value: op.Value, Prev: op.Prev}
	out := kvOutput{Value: op.Value, Rev: op.Rev}
	if !isState(op.Kind) {
		return in, out, false
	}
	switch {
	case op.Outcome == OK:
	case op.conflict():
		out.Status = kvConflict
		out.Rev, out.Known = conflictRev(op)
	case op.Outcome == Unknown && op.Kind != "get":
		out.Status = kvPending
	default:
		return in, out, false
	}
	if op.Kind == "delete" {
		in.Value = ""
		if b, err := strconv.ParseBool(op.Value); err == nil {
			out.Existed = map[bool]int8{true: 1, false: -1}[b]
		}
	}
	return in, out, true
}

var conflictText = peer.ErrConflict.Error()

// conflict reports whether op is a swap refused because the key was not at
// the expected revision.
func (op Op) conflict() bool {
	return op.Kind == "cas" && op.Outcome == Fail && strings.Contains(op.Err, conflictText)
}

// conflictRev returns the key's revision that a conflict named: op.Rev if
// set, else as peer words it (`"k" is at revision 7`, `"k" does not exist`).
func conflictRev(op Op) (int64, bool) {
	if op.Rev != 0 {
		return op.Rev, true
	}
	if strings.HasSuffix(op.Err, " does not exist") {
		return 0, true
	}
	const at = " is at revision "
	i := strings.LastIndex(op.Err, at)
	if i < 0 {
		return 0, false
	}
	rev, err := strconv.ParseInt(op.Err[i+len(at):], 10, 64)
	return rev, err == nil && rev > 0
}
