package e2e

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/pyros-mesh/pyros/experiment"
	"github.com/pyros-mesh/pyros/peer"
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
	Rev     int64  // get: the key's revision (0 = absent); put, cas: the new revision; failed cas: the current one
}

// kvModel is the shared state as a linearizable map of keys with
// revisions, checked key by key: the model experiment checks histories
// against.
var kvModel = experiment.StateModel()

// history records operations as clients see them.
type history struct {
	start time.Time
	mu    sync.Mutex
	ops   []experiment.Op
}

func newHistory() *history { return &history{start: time.Now()} }

func (h *history) now() int64 { return int64(time.Since(h.start)) }

// add records an operation called at call (from now), returning now; one
// with an unknown outcome may take effect at any time after its call.
func (h *history) add(client int, in kvInput, out kvOutput, call int64) {
	op := experiment.Op{Client: strconv.Itoa(client), Kind: in.Op, Key: in.Key, Value: in.Value, Prev: in.IfRev,
		Rev: out.Rev, Start: h.start.Add(time.Duration(call)), End: time.Now(), Outcome: experiment.OK}
	switch {
	case out.Unknown:
		op.Outcome, op.Rev = experiment.Unknown, 0
	case in.Op == "get":
		op.Value = out.Value
	case in.Op == "cas" && !out.OK:
		op.Outcome, op.Rev, op.Err = experiment.Fail, 0, conflictText(in.Key, out.Rev)
	}
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// conflictText words a refused swap as peer does, naming the key's
// revision (0: absent), so that the model checks it.
func conflictText(key string, cur int64) string {
	if cur == 0 {
		return fmt.Sprintf("%v: %q does not exist", peer.ErrConflict, key)
	}
	return fmt.Sprintf("%v: %q is at revision %d", peer.ErrConflict, key, cur)
}

func (h *history) check(timeout time.Duration) (porcupine.CheckResult, porcupine.LinearizationInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return porcupine.CheckOperationsVerbose(kvModel.ToModel(), experiment.StateOperations(h.ops), timeout)
}

// TestKVModelCatchesStaleRead proves the checker can fail: a read that
// returns a value overwritten before it began is not linearizable.
func TestKVModelCatchesStaleRead(t *testing.T) {
	h := newHistory()
	h.add(0, kvInput{Op: "put", Key: "k", Value: "a"}, kvOutput{Rev: 1}, h.now())
	h.add(0, kvInput{Op: "put", Key: "k", Value: "b"}, kvOutput{Rev: 2}, h.now())
	h.add(1, kvInput{Op: "get", Key: "k"}, kvOutput{Value: "a", Rev: 1}, h.now())
	if res, _ := h.check(5 * time.Second); res != porcupine.Illegal {
		t.Fatalf("stale read judged %s", res)
	}
	h.ops[2].Value, h.ops[2].Rev = "b", 2
	if res, _ := h.check(5 * time.Second); res != porcupine.Ok {
		t.Fatalf("fresh read judged %s", res)
	}
}

// TestKVModelChecksConflicts proves a refused swap is checked against the
// revision it names.
func TestKVModelChecksConflicts(t *testing.T) {
	h := newHistory()
	h.add(0, kvInput{Op: "cas", Key: "k", Value: "a", IfRev: 5}, kvOutput{Rev: 0}, h.now()) // absent
	h.add(0, kvInput{Op: "put", Key: "k", Value: "b"}, kvOutput{Rev: 3}, h.now())
	h.add(1, kvInput{Op: "cas", Key: "k", Value: "c", IfRev: 1}, kvOutput{Rev: 3}, h.now())
	h.add(2, kvInput{Op: "put", Key: "k", Value: "d"}, kvOutput{Unknown: true}, h.now())
	if res, _ := h.check(5 * time.Second); res != porcupine.Ok {
		t.Fatalf("conflicts judged %s", res)
	}
	h.ops[2].Err = conflictText("k", 2)
	if res, _ := h.check(5 * time.Second); res != porcupine.Illegal {
		t.Fatalf("conflict naming a wrong revision judged %s", res)
	}
}
