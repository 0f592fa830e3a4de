package experiment

import (
	"context"
	"errors"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

// Outcomes of an Op.
const (
	// OK: the operation happened, and its result is in the Op.
	OK = "ok"
	// Fail: the operation certainly did not happen (nothing was written).
	Fail = "fail"
	// Unknown: the operation may or may not have happened, now or later.
	Unknown = "unknown"
)

// Op is one operation of a history, as the client that issued it saw it.
//
// How each kind is recorded:
//
//   - "put": Key, Value written; Rev the revision Put returned.
//   - "get": Key; Value and Rev the entry read. A key that does not exist
//     is an ok read with Rev 0 (OutcomeOf maps peer.ErrNotFound to OK).
//     Record only linearizable reads: a Stale read is not one.
//   - "cas": Key, Value, Prev the expected revision (0: absent); Rev the
//     new revision. A swap refused for a revision conflict is Outcome Fail
//     with Err the error's text (it matches peer.ErrConflict): the checks
//     read the key's current revision from it, or from Rev if set.
//   - "delete": Key; Value "true" or "false" as Delete reported that the
//     key existed (strconv.FormatBool), or empty if not recorded.
//   - "call": Key the service name.
//   - "publish": Client the publisher, Key the stream, Value a message id
//     unique in the stream, Seq the publisher's sequence number (1, 2, ...;
//     0: numbered by Start).
//   - "receive": Client the subscriber, Key the stream, Value the id of
//     the message received. Start and End: when it was received.
//
// The state checks assume keys that did not exist when the history began
// and are not Ephemeral.
type Op struct {
	Client  string    `json:"client"`          // who issued it
	Kind    string    `json:"kind"`            // "put","get","cas","delete" (state), "call" (a service call), "publish","receive" (streams)
	Key     string    `json:"key,omitempty"`   // state key, service or stream name
	Value   string    `json:"value,omitempty"` // written/read value (state), message id (streams)
	Prev    int64     `json:"prev,omitempty"`  // cas: expected revision
	Rev     int64     `json:"rev,omitempty"`   // revision returned
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Outcome string    `json:"outcome"`       // "ok", "fail" (certainly did not happen), "unknown" (may have happened)
	Err     string    `json:"err,omitempty"` // the error's text
	Seq     uint64    `json:"seq,omitempty"` // stream message sequence per publisher
}

// Fault is a window during which the runner injected a fault.
type Fault struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"` // zero: until the end of the history
}

// OutcomeOf classifies the error a pyros call returned: nil and
// peer.ErrNotFound (a read that found nothing) are OK; peer.ErrUnknownOutcome
// and an ended context are Unknown (the request may have run); anything
// else, peer.ErrConflict included, is Fail. Ops that the runner's own
// shutdown cut short are best left out of the history: they would count
// as failures.
func OutcomeOf(err error) string {
	switch {
	case err == nil, errors.Is(err, peer.ErrNotFound):
		return OK
	case errors.Is(err, peer.ErrUnknownOutcome),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return Unknown
	}
	return Fail
}

// Done returns op as it ends now with err: End set to now, and Outcome
// and Err from err.
//
//	op := experiment.Op{Client: "c1", Kind: "put", Key: k, Value: v, Start: time.Now()}
//	op.Rev, err = st.Put(ctx, k, v)
//	rec.Add(op.Done(err))
func (op Op) Done(err error) Op {
	op.End = time.Now()
	op.Outcome = OutcomeOf(err)
	if op.Outcome != OK {
		op.Err = err.Error()
	}
	return op
}

// request reports whether op is a request a client waits on, as opposed to
// stream traffic: overall latency, throughput and recovery count these.
func (op Op) request() bool { return op.Kind != "publish" && op.Kind != "receive" }

// answered reports whether the system answered op: it succeeded, or a
// swap was refused because the key had moved on, which is an answer too.
func (op Op) answered() bool { return op.Outcome == OK || op.conflict() }

func (op Op) duration() time.Duration {
	return max(op.End.Sub(op.Start), 0)
}
