package experiment

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/pyros-mesh/pyros/peer"
)

func TestOutcomeOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, OK},
		{fmt.Errorf("%w: %q", peer.ErrNotFound, "k"), OK},
		{fmt.Errorf("%w: %q is at revision 3", peer.ErrConflict, "k"), Fail},
		{peer.ErrNoStateServer, Fail},
		{errors.New("boom"), Fail},
		{fmt.Errorf("wrapped: %w", peer.ErrUnknownOutcome), Unknown},
		{context.DeadlineExceeded, Unknown},
		{fmt.Errorf("call: %w", context.Canceled), Unknown},
	} {
		if got := OutcomeOf(c.err); got != c.want {
			t.Errorf("OutcomeOf(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestDone(t *testing.T) {
	op := Op{Kind: "cas", Key: "k", Start: atMS(0)}
	done := op.Done(fmt.Errorf("%w: %q is at revision 7", peer.ErrConflict, "k"))
	if done.Outcome != Fail || !done.conflict() || done.End.IsZero() {
		t.Fatalf("conflict recorded as %+v", done)
	}
	if rev, ok := conflictRev(done); !ok || rev != 7 {
		t.Fatalf("conflict revision %d, %v; want 7", rev, ok)
	}
	if ok := op.Done(nil); ok.Outcome != OK || ok.Err != "" {
		t.Fatalf("success recorded as %+v", ok)
	}
}

func TestConflictRev(t *testing.T) {
	for _, c := range []struct {
		op    Op
		rev   int64
		known bool
	}{
		{conflicted(cas("c", "k", 1, "v", 0, 0, 1), 9), 9, true},
		{conflicted(cas("c", "k", 1, "v", 0, 0, 1), 0), 0, true},
		{Op{Kind: "cas", Outcome: Fail, Err: peer.ErrConflict.Error()}, 0, false},
		{Op{Kind: "cas", Outcome: Fail, Err: peer.ErrConflict.Error(), Rev: 4}, 4, true},
		{Op{Kind: "cas", Outcome: Fail, Err: "peer: revision conflict: \"k\" is at revision 4 (retried)"}, 0, false},
	} {
		rev, known := conflictRev(c.op)
		if rev != c.rev || known != c.known {
			t.Errorf("conflictRev(%q, rev %d) = %d, %v; want %d, %v", c.op.Err, c.op.Rev, rev, known, c.rev, c.known)
		}
	}
}
