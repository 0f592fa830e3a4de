package mesh

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/pyros-mesh/pyros/fault"
)

// batchLimit is the size at which a batch is closed and a new one started.
// Larger batches cost latency for the messages at their end; 64 KiB keeps a
// frame within one socket buffer while amortising per-frame costs.
const batchLimit = 64 << 10

// errLinkDown is returned when a message is queued on a dead link.
var errLinkDown = errors.New("mesh: link down")

// sendQueue collects encoded messages into batches (one batch = one frame).
// Producers append under a mutex; whoever writes takes whole batches. The
// queue is bounded in bytes for requests; acks, replies and cancels always
// fit, since they answer requests that were bounded.
type sendQueue struct {
	mu      sync.Mutex
	cur     []byte   // batch being filled; starts with the version byte
	full    [][]byte // closed batches, oldest first
	fullEnd []uint64 // the sequence number of each closed batch's last message
	seq     uint64   // messages appended so far: the last one's sequence number
	bytes   int      // bytes queued
	limit   int
	spare   [][]byte
	space   chan struct{} // closed when a waiting producer may retry
	waiting bool
	closed  bool
	wake    chan struct{} // wakes the writer goroutine

	// With a fault delay, each batch is due (may be written) once the
	// delay has passed since its last message was queued: a monotime,
	// 0 for at once. A batch collects delayed messages for at most
	// delaySpan.
	faults  *fault.Injector
	curDue  int64
	curFrom int64   // when the current batch's first delayed message came
	fullDue []int64 // the due time of each closed batch
}

func (q *sendQueue) init(limit int, faults *fault.Injector) {
	q.limit = limit
	q.faults = faults
	q.space = make(chan struct{})
	q.wake = make(chan struct{}, 1)
}

// put appends m, waiting for space if it is a request and the queue is full.
func (q *sendQueue) put(ctx context.Context, m *message, dead <-chan struct{}) error {
	_, err := q.putSeq(ctx, m, dead)
	return err
}

// putSeq is put that also returns m's sequence number: m has left once a
// batch ending at or after it is written (see take).
func (q *sendQueue) putSeq(ctx context.Context, m *message, dead <-chan struct{}) (uint64, error) {
	q.mu.Lock()
	for m.kind == kindRequest && q.bytes >= q.limit && !q.closed {
		q.waiting = true
		space := q.space
		q.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-dead:
			return 0, errLinkDown
		}
		q.mu.Lock()
	}
	if q.closed {
		q.mu.Unlock()
		return 0, errLinkDown
	}
	q.appendLocked(m)
	seq := q.seq
	q.mu.Unlock()
	return seq, nil
}

// appendLocked adds m to the current batch, closing the batch first when m
// would take it past batchLimit or, under a fault delay, when the batch
// began more than delaySpan ago. Callers hold mu.
func (q *sendQueue) appendLocked(m *message) {
	var now, due int64
	if d := q.faults.Delay(); d > 0 {
		now = monotime()
		due = now + int64(d)
		if len(q.cur) > 1 && now-q.curFrom > int64(delaySpan) {
			q.closeBatch()
		}
	}
	if len(q.cur) > 1 && len(q.cur)+len(m.payload)+len(m.service)+32 > batchLimit {
		q.closeBatch()
	}
	if len(q.cur) <= 1 {
		q.curFrom = now // m starts the batch
	}
	if q.cur == nil {
		q.cur = q.buffer()
	}
	if len(q.cur) == 0 {
		q.cur = append(q.cur, wireVersion)
	}
	before := len(q.cur)
	q.cur = appendMessage(q.cur, m)
	q.bytes += len(q.cur) - before
	q.seq++
	q.curDue = max(q.curDue, due)
}

// closeBatch moves the current batch to the closed ones. Callers hold mu.
func (q *sendQueue) closeBatch() {
	q.full = append(q.full, q.cur)
	q.fullEnd = append(q.fullEnd, q.seq)
	q.fullDue = append(q.fullDue, q.curDue)
	q.cur, q.curDue = q.buffer(), 0
}

// putData appends a stream message unless more than limit bytes are
// queued or the queue is closed; it never waits.
func (q *sendQueue) putData(m *message, limit int) bool {
	q.mu.Lock()
	if q.closed || q.bytes >= limit {
		q.mu.Unlock()
		return false
	}
	q.appendLocked(m)
	q.mu.Unlock()
	return true
}

// take removes the oldest batch, or returns nil when nothing is queued,
// with the sequence number of the batch's last message. When the oldest
// batch is held back by a fault delay, it returns nil and how long until
// the batch is due.
func (q *sendQueue) take() ([]byte, uint64, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var b []byte
	var end uint64
	switch {
	case len(q.full) > 0:
		if wait := untilDue(q.fullDue[0]); wait > 0 {
			return nil, 0, wait
		}
		b, end = q.full[0], q.fullEnd[0]
		q.full[0] = nil
		q.full, q.fullEnd, q.fullDue = q.full[1:], q.fullEnd[1:], q.fullDue[1:]
	case len(q.cur) > 1:
		if wait := untilDue(q.curDue); wait > 0 {
			return nil, 0, wait
		}
		b, end = q.cur, q.seq
		q.cur, q.curDue = q.buffer(), 0
	default:
		return nil, 0, 0
	}
	q.bytes -= len(b) - 1
	if q.waiting && q.bytes < q.limit {
		close(q.space)
		q.space = make(chan struct{})
		q.waiting = false
	}
	return b, end, 0
}

// untilDue returns how long until a batch due at due may be written.
func untilDue(due int64) time.Duration {
	if due == 0 {
		return 0
	}
	return max(time.Duration(due-monotime()), 0)
}

// release makes every queued batch due now: a closing link writes what it
// holds at once.
func (q *sendQueue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.curDue = 0
	clear(q.fullDue)
}

// maxSpares bounds the recycled batch buffers a link keeps (2 MiB).
const maxSpares = 32

// buffer returns an empty batch buffer, reusing a recycled one, else a new
// one with room for a full batch (growing a batch by appends would copy it
// over and over). Callers hold mu.
func (q *sendQueue) buffer() []byte {
	if n := len(q.spare); n > 0 {
		b := q.spare[n-1]
		q.spare = q.spare[:n-1]
		return b
	}
	return make([]byte, 0, batchLimit+256)
}

// recycle returns a written batch's buffer for reuse.
func (q *sendQueue) recycle(b []byte) {
	if cap(b) > 4*batchLimit {
		return
	}
	q.mu.Lock()
	if len(q.spare) < maxSpares {
		q.spare = append(q.spare, b[:0])
	}
	q.mu.Unlock()
}

func (q *sendQueue) wakeWriter() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close refuses further messages and releases waiting producers.
func (q *sendQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		q.waiting = false
		close(q.space)
	}
}
