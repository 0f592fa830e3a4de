package mesh

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Streams: a publisher opens a stream toward each node that subscribes
// (OpenStream gives a StreamOut) and sends numbered messages; the receiving
// node hands each frame's messages, per stream, to the StreamSink its
// StreamHandler chose. Data never waits: when a link's queue holds more
// than MaxQueuedData bytes, Send drops the message and says so.

// maxStreamsPerLink bounds the stream ids a peer may open on one link.
const maxStreamsPerLink = 1 << 16

// StreamOpen describes a stream a publisher opened toward this node.
type StreamOpen struct {
	From      string // the publishing node (set by the receiver)
	Stream    string // the stream's name
	Codec     string // codec of every payload
	Publisher uint64 // identifies the publisher: one sequence of messages
}

// DataMsg is one stream message. Payload points into the link's frame
// buffer: it is valid only during Deliver.
type DataMsg struct {
	Seq     uint64
	Payload []byte
}

// StreamSink receives a stream's messages. Deliver is called from a link's
// reader with the messages of one frame in order; it must not block and must
// keep neither msgs nor the payloads (both are reused: copy what you keep).
// Closed is called once when the stream ends (closed by the publisher or
// link lost).
type StreamSink interface {
	Deliver(msgs []DataMsg)
	Closed()
}

// StreamHandler picks the sink for a stream opened by a publisher; nil
// refuses it (its messages are discarded).
type StreamHandler func(StreamOpen) StreamSink

// HandleStreams installs the handler for incoming streams.
func (n *Node) HandleStreams(h StreamHandler) { n.streams.Store(&h) }

// StreamOut sends one publisher's stream to one node.
type StreamOut struct {
	l      *link
	id     uint64
	closed atomic.Bool
}

// OpenStream opens a stream toward t, dialing a link if needed.
func (n *Node) OpenStream(ctx context.Context, t Target, o StreamOpen) (*StreamOut, error) {
	if len(o.Stream) > maxNameLen || len(o.Codec) > maxNameLen {
		return nil, fmt.Errorf("%w: stream or codec name longer than %d bytes", ErrTooLarge, maxNameLen)
	}
	l, err := n.linkTo(ctx, t)
	if err != nil {
		return nil, err
	}
	id := l.nextStream.Add(1)
	if id > maxStreamsPerLink {
		return nil, fmt.Errorf("mesh: more than %d streams opened toward %s", maxStreamsPerLink, t.Name)
	}
	m := message{kind: kindOpen, id: id, pub: o.Publisher, service: o.Stream, codec: o.Codec}
	if err := l.q.put(ctx, &m, l.done); err != nil {
		return nil, fmt.Errorf("%w: open stream to %s: %v", ErrNotDelivered, t.Name, err)
	}
	l.q.wakeWriter()
	return &StreamOut{l: l, id: id}, nil
}

// Send queues one message without waiting. It reports false when the
// message was dropped: the link's queue is full or the link is gone. A
// message lost to a fault drop (Config.Faults) reports true, as one lost on
// the way would.
func (o *StreamOut) Send(seq uint64, payload []byte) bool {
	if len(payload) > o.l.n.cfg.MaxMessageSize || o.closed.Load() {
		return false
	}
	m := message{kind: kindData, id: o.id, seq: seq, payload: payload}
	if o.l.n.lost(&m) {
		return o.l.alive()
	}
	if !o.l.q.putData(&m, o.l.n.cfg.MaxQueuedData) {
		return false
	}
	if !o.l.writeDirect() {
		o.l.q.wakeWriter()
	}
	return true
}

// directGap is the quiet time after which a stream message is written by
// its sender rather than handed to the link's writer goroutine.
const directGap = 200 * time.Microsecond

// writeDirect writes what is queued from the calling goroutine when the
// writer is idle and no message was written this way within directGap: at
// low rates this saves waking the writer (tens of microseconds), while at
// high rates messages still pile up behind the writer and share frames.
func (l *link) writeDirect() bool {
	if !l.writerIdle.Load() {
		return false
	}
	now := time.Now().UnixNano()
	if now-l.lastDirect.Load() < int64(directGap) || !l.g.wmu.TryLock() {
		return false
	}
	l.lastDirect.Store(now)
	wait, _ := l.flushLocked()
	l.g.wmu.Unlock()
	if wait > 0 {
		l.q.wakeWriter() // to write it when due
	}
	return true
}

// Alive reports whether the stream can still carry messages.
func (o *StreamOut) Alive() bool { return !o.closed.Load() && o.l.alive() }

// Peer names the node the stream goes to.
func (o *StreamOut) Peer() string { return o.l.remote }

// Close ends the stream; the receiver's sink is told.
func (o *StreamOut) Close() {
	if o.closed.Swap(true) {
		return
	}
	m := message{kind: kindClose, id: o.id}
	if o.l.q.putData(&m, o.l.n.cfg.MaxQueuedData+batchLimit) {
		o.l.q.wakeWriter()
	}
}

// inbound is a stream opened toward this node on one link.
type inbound struct {
	sink    StreamSink
	pending []DataMsg // messages of the frame being dispatched
	touched bool
}

// inbounds is a link's table of incoming streams, owned by its reader.
type inbounds struct {
	mu      sync.Mutex // guards m against close from another goroutine
	m       map[uint64]*inbound
	touched []*inbound
}

func (l *link) openInbound(m message) error {
	if m.id == 0 || m.id > maxStreamsPerLink {
		return fmt.Errorf("%w: stream id %d", ErrProtocol, m.id)
	}
	var sink StreamSink
	if h := l.n.streams.Load(); h != nil {
		sink = (*h)(StreamOpen{From: l.remote, Stream: m.service, Codec: m.codec, Publisher: m.pub})
	}
	l.in.mu.Lock()
	defer l.in.mu.Unlock()
	if l.in.m == nil {
		l.in.m = make(map[uint64]*inbound)
	}
	if old := l.in.m[m.id]; old != nil && old.sink != nil {
		old.sink.Closed()
	}
	l.in.m[m.id] = &inbound{sink: sink}
	return nil
}

// data buffers one message for its sink until the frame is dispatched.
func (l *link) data(m message) error {
	in := l.in.m[m.id]
	if in == nil {
		return fmt.Errorf("%w: data for unopened stream %d", ErrProtocol, m.id)
	}
	if in.sink == nil {
		return nil
	}
	in.pending = append(in.pending, DataMsg{Seq: m.seq, Payload: m.payload})
	if !in.touched {
		in.touched = true
		l.in.touched = append(l.in.touched, in)
	}
	return nil
}

// deliver hands each stream its messages of the frame.
func (l *link) deliver() {
	for _, in := range l.in.touched {
		in.sink.Deliver(in.pending)
		in.pending = in.pending[:0]
		in.touched = false
	}
	l.in.touched = l.in.touched[:0]
}

func (l *link) closeInbound(id uint64) {
	l.in.mu.Lock()
	in := l.in.m[id]
	delete(l.in.m, id)
	l.in.mu.Unlock()
	if in != nil && in.sink != nil {
		in.sink.Closed()
	}
}

// closeAllInbound tells every sink of the link that its stream ended.
func (l *link) closeAllInbound() {
	l.in.mu.Lock()
	ins := l.in.m
	l.in.m = nil
	l.in.mu.Unlock()
	for _, in := range ins {
		if in.sink != nil {
			in.sink.Closed()
		}
	}
}
