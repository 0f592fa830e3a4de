package discovery

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Messages of this package, carried as memberlist user messages (gossip and
// SendReliable) and as push/pull user state. Each starts with a one-byte
// type; integers are big-endian; a name is a one-byte length (1..255) and its
// bytes; a state document is a four-byte length (<= MaxStateSize) and its
// bytes.
//
//	msgState    name inc:u64 ver:u64 state   gossip, relayed
//	msgNotice   name inc:u64 ver:u64         gossip, relayed; state too big to gossip
//	msgFetch    from:name to:name            SendReliable to the owner
//	msgReply    name inc:u64 ver:u64 state   SendReliable answer to msgFetch
//	msgPushPull count:u32 entry*             push/pull user state
//	msgLeave    name inc:u64                 gossip, relayed; sent by Close before leaving
//	entry       flags:u8 name inc:u64 ver:u64 [state if flags&entryHasState]
type msgType uint8

const (
	msgState    msgType = 1
	msgNotice   msgType = 2
	msgFetch    msgType = 3
	msgReply    msgType = 4
	msgPushPull msgType = 5
	msgLeave    msgType = 6
)

const entryHasState = 1 << 0

// stamp orders the state documents of one member: incarnation first (chosen
// when the member starts), then the version within the incarnation.
type stamp struct {
	inc, ver uint64
}

// next is the stamp following s: the next version, or the first version of
// the next incarnation once versions run out.
func (s stamp) next() stamp {
	if s.ver == math.MaxUint64 {
		return stamp{inc: s.inc + 1, ver: 1}
	}
	return stamp{inc: s.inc, ver: s.ver + 1}
}

func (s stamp) less(o stamp) bool {
	if s.inc != o.inc {
		return s.inc < o.inc
	}
	return s.ver < o.ver
}

// stateMsg is one member's state announcement. Without hasState it only says
// that the version exists (a notice or a push/pull digest).
type stateMsg struct {
	name     string
	st       stamp
	state    []byte
	hasState bool
}

func encodeState(t msgType, name string, st stamp, state []byte) []byte {
	b := make([]byte, 0, 1+1+len(name)+16+4+len(state))
	b = append(b, byte(t))
	b = appendHead(b, name, st)
	b = binary.BigEndian.AppendUint32(b, uint32(len(state)))
	return append(b, state...)
}

func encodeNotice(name string, st stamp) []byte {
	b := make([]byte, 0, 1+1+len(name)+16)
	b = append(b, byte(msgNotice))
	return appendHead(b, name, st)
}

func encodeFetch(from, to string) []byte {
	b := make([]byte, 0, 3+len(from)+len(to))
	b = append(b, byte(msgFetch), byte(len(from)))
	b = append(b, from...)
	b = append(b, byte(len(to)))
	return append(b, to...)
}

func encodeLeave(name string, inc uint64) []byte {
	b := make([]byte, 0, 2+len(name)+8)
	b = append(b, byte(msgLeave), byte(len(name)))
	b = append(b, name...)
	return binary.BigEndian.AppendUint64(b, inc)
}

// pushPullEncoder builds a msgPushPull payload.
type pushPullEncoder struct {
	buf   []byte
	count uint32
}

func newPushPullEncoder() *pushPullEncoder {
	return &pushPullEncoder{buf: []byte{byte(msgPushPull), 0, 0, 0, 0}}
}

// entrySize is the encoded size of an entry for name carrying state (or a
// digest when withState is false).
func entrySize(name string, state []byte, withState bool) int {
	n := 1 + 1 + len(name) + 16
	if withState {
		n += 4 + len(state)
	}
	return n
}

func (e *pushPullEncoder) add(name string, st stamp, state []byte, withState bool) {
	var flags byte
	if withState {
		flags = entryHasState
	}
	e.buf = append(e.buf, flags)
	e.buf = appendHead(e.buf, name, st)
	if withState {
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(len(state)))
		e.buf = append(e.buf, state...)
	}
	e.count++
}

func (e *pushPullEncoder) bytes() []byte {
	binary.BigEndian.PutUint32(e.buf[1:5], e.count)
	return e.buf
}

func appendHead(b []byte, name string, st stamp) []byte {
	b = append(b, byte(len(name)))
	b = append(b, name...)
	b = binary.BigEndian.AppendUint64(b, st.inc)
	return binary.BigEndian.AppendUint64(b, st.ver)
}

// decodeState decodes msgState, msgNotice and msgReply. The returned state
// aliases buf.
func decodeState(buf []byte) (msgType, stateMsg, error) {
	r := wireReader{b: buf}
	t := msgType(r.u8())
	var m stateMsg
	switch t {
	case msgState, msgReply:
		m = r.head()
		m.state, m.hasState = r.blob(), true
	case msgNotice:
		m = r.head()
	default:
		return 0, m, fmt.Errorf("%w: type %d is not a state message", errMalformed, t)
	}
	return t, m, r.finish()
}

// decodeFetch decodes msgFetch.
func decodeFetch(buf []byte) (from, to string, err error) {
	r := wireReader{b: buf}
	if t := msgType(r.u8()); r.err == nil && t != msgFetch {
		return "", "", fmt.Errorf("%w: type %d is not a fetch", errMalformed, t)
	}
	from, to = r.name(), r.name()
	return from, to, r.finish()
}

// decodeLeave decodes msgLeave.
func decodeLeave(buf []byte) (name string, inc uint64, err error) {
	r := wireReader{b: buf}
	if t := msgType(r.u8()); r.err == nil && t != msgLeave {
		return "", 0, fmt.Errorf("%w: type %d is not a leave", errMalformed, t)
	}
	name, inc = r.name(), r.u64()
	return name, inc, r.finish()
}

// decodePushPull decodes msgPushPull. The returned states alias buf.
func decodePushPull(buf []byte) ([]stateMsg, error) {
	r := wireReader{b: buf}
	if t := msgType(r.u8()); r.err == nil && t != msgPushPull {
		return nil, fmt.Errorf("%w: type %d is not a push/pull", errMalformed, t)
	}
	count := r.u32()
	if r.err == nil && count > MaxMembers {
		return nil, fmt.Errorf("%w: %d entries, limit %d", errMalformed, count, MaxMembers)
	}
	var out []stateMsg
	for i := uint32(0); i < count && r.err == nil; i++ {
		flags := r.u8()
		m := r.head()
		if flags&entryHasState != 0 {
			m.state, m.hasState = r.blob(), true
		}
		out = append(out, m)
	}
	return out, r.finish()
}

// wireReader consumes a buffer with bounds checks; the first failure sticks
// and later reads return zero values.
type wireReader struct {
	b   []byte
	err error
}

func (r *wireReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = fmt.Errorf("%w: truncated", errMalformed)
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *wireReader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *wireReader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *wireReader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *wireReader) name() string {
	n := int(r.u8())
	if r.err == nil && n == 0 {
		r.err = fmt.Errorf("%w: empty name", errMalformed)
	}
	return string(r.take(n))
}

func (r *wireReader) blob() []byte {
	n := r.u32()
	if r.err == nil && n > MaxStateSize {
		r.err = fmt.Errorf("%w: state of %d bytes, limit %d", errMalformed, n, MaxStateSize)
	}
	return r.take(int(n))
}

func (r *wireReader) head() stateMsg {
	name := r.name()
	inc := r.u64()
	return stateMsg{name: name, st: stamp{inc: inc, ver: r.u64()}}
}

func (r *wireReader) finish() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", errMalformed, len(r.b))
	}
	return r.err
}
