package mesh

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
)

// link is one ZMTP connection to another node. Both ends can send requests
// and serve them; a node sends its own requests on the links it dialed and
// answers on the link a request came from.
type link struct {
	n      *Node
	remote string // the other node's name (its ZMTP identity)
	g      *guardConn
	z      *zmq4.Conn

	q sendQueue

	pmu     sync.Mutex
	nextID  uint64
	pending map[uint64]*call
	written atomic.Uint64 // sequence number of the last message written

	smu     sync.Mutex
	serving map[uint64]context.CancelFunc

	reqs   []message // requests of the frame being dispatched (reader-owned)
	rbuf   []byte    // the last frame read, reused for the next (reader-owned)
	retain bool      // a message of the last frame keeps pointing into it

	nextStream atomic.Uint64 // last stream id opened on this link by this side
	in         inbounds      // streams opened toward this side

	forgotten atomic.Bool // discovery said the peer is gone

	writerIdle atomic.Bool  // the writer goroutine waits for work
	lastDirect atomic.Int64 // when a stream message was last written directly (unix ns)

	readerDone chan struct{} // closed when the reader has returned
	done       chan struct{} // closed when the link is dead
	once       sync.Once
	failErr    error // why; set before done is closed
}

func newLink(n *Node, g *guardConn, z *zmq4.Conn, remote string) *link {
	l := &link{
		n:          n,
		remote:     remote,
		g:          g,
		z:          z,
		pending:    make(map[uint64]*call),
		serving:    make(map[uint64]context.CancelFunc),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	l.q.init(n.cfg.MaxQueuedBytes, n.cfg.Faults)
	return l
}

// start runs the reader and writer; the node's WaitGroup owns them.
func (l *link) start() {
	l.n.wg.Add(2)
	go l.readLoop()
	go l.writeLoop()
}

// fail marks the link dead, closes the connection and fails waiting calls.
func (l *link) fail(err error) {
	l.once.Do(func() {
		l.failErr = err
		close(l.done)
		l.g.close()
		l.q.close()
		l.smu.Lock()
		for _, cancel := range l.serving {
			cancel()
		}
		l.smu.Unlock()
		l.n.dropLink(l)
		l.n.wg.Add(1)
		go func() { // after the reader stops: sinks are told once, in order
			defer l.n.wg.Done()
			<-l.readerDone
			l.closeAllInbound()
		}()
	})
}

func (l *link) alive() bool {
	select {
	case <-l.done:
		return false
	default:
		return true
	}
}

func (l *link) readLoop() {
	defer l.n.wg.Done()
	defer close(l.readerDone)
	for {
		frame, err := l.recv()
		if err == nil {
			err = l.n.partitioned(l.remote) // nothing is read from a partitioned peer
		}
		if err != nil {
			if l.forgotten.Load() {
				err = fmt.Errorf("mesh: %s left the mesh", l.remote)
			}
			l.fail(err)
			return
		}
		if err := l.dispatch(frame); err != nil {
			l.n.log.Warn("closing link after protocol error", "peer", l.remote, "err", err)
			l.fail(err)
			return
		}
	}
}

// maxReusedFrame bounds the frame buffer a link keeps for the next frame.
const maxReusedFrame = 1 << 20

// recv reads one single-frame ZMTP message, reusing the previous frame's
// buffer unless a message of it was kept (see dispatch).
func (l *link) recv() ([]byte, error) {
	if l.retain || cap(l.rbuf) > maxReusedFrame {
		l.rbuf = nil
	}
	l.retain = false
	frame, err := l.g.readFrame(l.rbuf)
	l.rbuf = frame
	return frame, err
}

// dispatch handles every message of one frame. Requests are acknowledged,
// the acknowledgements written, and only then are the handlers started: a
// handler never runs for a request its caller may believe undelivered.
func (l *link) dispatch(frame []byte) error {
	br, err := newBatchReader(frame)
	if err != nil {
		return err
	}
	l.reqs = l.reqs[:0]
	var m message
	for {
		ok, err := br.next(&m)
		if err != nil {
			l.releaseReqs()
			return err
		}
		if !ok {
			break
		}
		switch m.kind {
		case kindRequest:
			l.retain = true // the handler keeps the payload
			l.admit(m)
		case kindAck:
			l.acked(m.id)
		case kindReply, kindError:
			l.retain = true // the caller keeps the payload
			l.complete(m)
		case kindCancel:
			l.cancelServing(m.id)
		case kindOpen:
			err = l.openInbound(m)
		case kindData:
			err = l.data(m)
		case kindClose:
			l.closeInbound(m.id)
		}
		if err != nil {
			l.deliver()
			l.releaseReqs()
			return err
		}
	}
	l.deliver()
	if len(l.reqs) == 0 {
		return nil
	}
	// Under a fault delay the acknowledgements wait in the queue like
	// everything else: the handlers start first (a caller whose request
	// left still never sees ErrNotDelivered, see Call).
	wait, err := l.flush()
	if err != nil {
		l.releaseReqs()
		return err
	}
	if wait > 0 {
		l.q.wakeWriter()
	}
	for _, r := range l.reqs {
		go l.serve(r)
	}
	return nil
}

// releaseReqs gives back the handler slots of admitted requests that will
// not run.
func (l *link) releaseReqs() {
	for range l.reqs {
		l.n.release()
	}
	l.reqs = l.reqs[:0]
}

// send queues m and writes it now if no other goroutine is writing;
// otherwise the writer goroutine sends it with whatever else is queued.
func (l *link) send(ctx context.Context, m *message) error {
	_, err := l.sendSeq(ctx, m)
	return err
}

// sendSeq is send that also returns m's sequence number in the queue (0 if
// it was not queued): once l.written reaches it, m has left, and may have
// arrived even if the link fails. A message lost to a fault drop is not
// queued and reports no error, as if lost on the way.
func (l *link) sendSeq(ctx context.Context, m *message) (uint64, error) {
	if l.n.lost(m) {
		return 0, nil
	}
	seq, err := l.q.putSeq(ctx, m, l.done)
	if err != nil {
		return 0, err
	}
	if l.g.wmu.TryLock() {
		wait, err := l.flushLocked()
		l.g.wmu.Unlock()
		if wait > 0 {
			l.q.wakeWriter() // to write it when due
		}
		return seq, err
	}
	l.q.wakeWriter()
	return seq, nil
}

// left reports whether the message of sequence number seq was written to
// the connection.
func (l *link) left(seq uint64) bool { return seq > 0 && l.written.Load() >= seq }

// writeLoop writes what others queued and did not write themselves. It
// alone waits for batches held back by a fault delay, on a timer made the
// first time one is.
func (l *link) writeLoop() {
	defer l.n.wg.Done()
	var delayed *time.Timer
	var due <-chan time.Time
	defer func() {
		if delayed != nil {
			delayed.Stop()
		}
	}()
	for {
		l.writerIdle.Store(true)
		select {
		case <-l.q.wake:
		case <-due:
		case <-l.done:
			return
		}
		l.writerIdle.Store(false)
		wait, err := l.flush()
		if err != nil {
			l.fail(err)
			return
		}
		switch {
		case wait == 0:
		case delayed == nil:
			delayed = time.NewTimer(wait)
			due = delayed.C
		default:
			delayed.Reset(wait)
		}
	}
}

// flush writes everything queued that is due, in queue order; see
// flushLocked.
func (l *link) flush() (time.Duration, error) {
	l.g.wmu.Lock()
	defer l.g.wmu.Unlock()
	return l.flushLocked()
}

// flushLocked writes the queued batches that are due, in queue order, and
// returns how long until the next one is due when a fault delay holds it
// back (0: nothing left). Callers other than the writer wake the writer
// when it is not 0.
func (l *link) flushLocked() (time.Duration, error) {
	wrote := false
	var wait time.Duration
	for {
		frame, end, w := l.q.take()
		if frame == nil {
			wait = w
			break
		}
		if !wrote {
			l.g.SetWriteDeadline(time.Now().Add(l.n.cfg.WriteTimeout))
			wrote = true
		}
		err := l.z.SendMsg(zmq4.NewMsg(frame))
		l.q.recycle(frame)
		if err != nil {
			l.fail(err)
			return 0, err
		}
		l.written.Store(end)
	}
	if !wrote {
		return wait, nil
	}
	if err := l.g.Flush(); err != nil {
		l.fail(err)
		return 0, err
	}
	return wait, nil
}

// closeGracefully writes what is queued, held back by a fault delay or
// not, then closes the link.
func (l *link) closeGracefully(err error) {
	l.q.release()
	l.flush()
	l.fail(err)
}

func (l *link) String() string { return fmt.Sprintf("link(%s)", l.remote) }

var _ net.Conn = (*guardConn)(nil)

// deadlineOf converts a context deadline into the wire's relative timeout.
func deadlineOf(ctx context.Context) time.Duration {
	d, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	if t := time.Until(d); t > time.Microsecond {
		return t
	}
	return time.Microsecond
}
