package discovery

import (
	"bufio"
	"bytes"
	"compress/lzw"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/memberlist"
)

// memberlist's message types (memberlist net.go), mirrored to inspect its
// traffic before memberlist parses it.
const (
	mlPing     = 0
	mlAckResp  = 2
	mlAlive    = 4
	mlPushPull = 6
	mlCompound = 7
	mlUser     = 8
	mlCompress = 9
	mlEncrypt  = 10
	mlHasCrc   = 12
	mlErr      = 13
	mlHasLabel = 244
)

// Limits of the screener. memberlist v0.6.0 allocates whatever a stream
// header claims before reading the data (a user message of 1<<62 bytes
// panics the process), caps push/pull at 1M nodes and 20 MB of user state
// allocated up front, and decompresses LZW payloads without any bound.
const (
	maxUserMsgLen    = MaxStateSize + 4096 // one state document plus framing
	maxUserStateLen  = 20 << 20            // memberlist's own push/pull cap
	maxPushNodes     = MaxMembers
	maxStreamPayload = maxUserStateLen + maxPushNodes*1024 // a push/pull, decompressed
	// maxStreamBytes bounds what is read from one stream; LZW may expand
	// incompressible data by half.
	maxStreamBytes = maxStreamPayload * 3 / 2
	// maxPacketPayload bounds a decompressed UDP payload: no legitimate
	// packet exceeds the largest UDP datagram.
	maxPacketPayload = 64 << 10
	// maxSmallStream bounds streams carrying pings, acks and errors, which
	// memberlist decodes itself after screening.
	maxSmallStream = 64 << 10
)

// screener validates memberlist traffic before memberlist parses it. With
// memberlist encryption enabled, sealed traffic is authenticated with the
// keyring first (only key holders can produce it, so bytes from anyone else
// never reach memberlist, nor its logs) and its plaintext is then screened
// like unencrypted traffic, so that a faulty key holder cannot crash a member
// either.
type screener struct {
	// keys, when set, returns memberlist's keyring (memberlist.Keyring's
	// GetKeys); encryption is enabled while it returns keys.
	keys func() [][]byte
	// acceptPlain admits unencrypted traffic while encryption is enabled
	// (memberlist's GossipVerifyIncoming off).
	acceptPlain bool
	// label is memberlist's Label, authenticated with sealed traffic.
	label string
	// inflate, when not nil, bounds the streams being decompressed at
	// once, and so the memory a burst of compression bombs can claim; a
	// stream waits at most inflateWait for its turn.
	inflate     chan struct{}
	inflateWait time.Duration
	done        <-chan struct{} // closed on shutdown: stop waiting
}

// maxInflating is the number of streams decompressed at once.
const maxInflating = 2

// mirrors of memberlist's msgpack-encoded headers.
type (
	mlUserHeader struct {
		UserMsgLen int
	}
	mlPushPullHeader struct {
		Nodes        int
		UserStateLen int
		Join         bool
	}
	mlPushNode struct {
		Name        string
		Addr        []byte
		Port        uint16
		Meta        []byte
		Incarnation uint32
		State       int
		Vsn         []uint8
	}
	mlCompressed struct {
		Algo int
		Buf  []byte
	}
	mlAliveMsg struct {
		Incarnation uint32
		Node        string
		Addr        []byte
		Port        uint16
		Meta        []byte
		Vsn         []uint8
	}
)

// validVsn checks a node's protocol versions (pmin, pmax, pcur, dmin, dmax,
// dcur) as memberlist would when merging them: one hostile node with a
// bad range in a member's list makes every later join to it fail.
func validVsn(v []uint8) error {
	if len(v) == 0 {
		return nil // memberlist fills in its defaults
	}
	if len(v) < 6 || v[0] > v[2] || v[2] > v[1] || v[3] > v[5] || v[5] > v[4] ||
		v[0] < memberlist.ProtocolVersionMin || v[1] > memberlist.ProtocolVersionMax {
		return fmt.Errorf("%w: protocol versions %v", errMalformed, v)
	}
	return nil
}

// stream screens the first message of a stream. inbound streams (accepted by
// the listener) may start with a label header and carry ping, push/pull or
// user messages; answers on streams this member dialed carry acks, errors or
// push/pull. Messages whose header memberlist trusts (user, push/pull) are
// read to their end here, so memory follows the bytes actually received
// rather than the lengths claimed. Sealed messages are authenticated and
// their plaintext screened. The returned reader replays the stream for
// memberlist, decompressed if it was compressed (sealed ones as they came).
func (s screener) stream(conn io.Reader, inbound bool) (r io.Reader, err error) {
	defer recoverInto(&err)
	limit := &io.LimitedReader{R: conn, N: maxStreamBytes}
	rec := &recorder{src: bufio.NewReader(limit)}
	t, err := rec.ReadByte()
	if err != nil {
		return nil, err
	}
	if inbound && t == mlHasLabel {
		if t, err = skipLabel(rec); err != nil {
			return nil, err
		}
	}
	keys := s.sealKeys()
	switch {
	case t == mlEncrypt:
		if len(keys) == 0 {
			return nil, fmt.Errorf("%w: encrypted stream without encryption configured", errMalformed)
		}
		if err := s.sealedStream(keys, rec, inbound); err != nil {
			return nil, err
		}
		return rec.replay(), nil
	case len(keys) > 0 && !s.acceptPlain:
		return nil, fmt.Errorf("%w: plaintext stream while encryption is required", errMalformed)
	case t == mlCompress:
		labelHeader := bytes.Clone(rec.buf[:len(rec.buf)-1])
		payload, err := s.compressedStream(rec, inbound)
		if err != nil {
			return nil, err
		}
		return io.MultiReader(bytes.NewReader(labelHeader), bytes.NewReader(payload)), nil
	}
	if t == mlPing || t == mlAckResp || t == mlErr {
		limit.N = min(limit.N, maxSmallStream)
	}
	if err := screenStreamBody(t, rec, inbound); err != nil {
		return nil, err
	}
	return rec.replay(), nil
}

// compressedStream decodes memberlist's compress envelope from r (its type
// byte already read), inflates it and screens the message inside, which it
// returns.
func (s screener) compressedStream(r io.Reader, inbound bool) ([]byte, error) {
	compressed, err := decodeCompressed(codec.NewDecoder(r, &codec.MsgpackHandle{}))
	if err != nil {
		return nil, err
	}
	// Only inflating takes a slot: a peer trickling its bytes in must not
	// hold one.
	release, err := s.acquireInflate()
	if err != nil {
		return nil, err
	}
	defer release()
	payload, err := inflate(compressed, maxStreamPayload)
	if err != nil {
		return nil, err
	}
	if err := screenStreamBody(payload[0], bytes.NewReader(payload[1:]), inbound); err != nil {
		return nil, err
	}
	return payload, nil
}

// sealKeys returns the keys of memberlist's keyring; none without
// encryption.
func (s screener) sealKeys() [][]byte {
	if s.keys == nil {
		return nil
	}
	return s.keys()
}

func (s screener) acquireInflate() (release func(), err error) {
	if s.inflate == nil {
		return func() {}, nil
	}
	t := time.NewTimer(s.inflateWait)
	defer t.Stop()
	select {
	case s.inflate <- struct{}{}:
		return func() { <-s.inflate }, nil
	case <-t.C:
		return nil, fmt.Errorf("%w: no decompression slot within %v", errMalformed, s.inflateWait)
	case <-s.done:
		return nil, errTransportDown
	}
}

func skipLabel(r *recorder) (byte, error) {
	n, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
		return 0, err
	}
	return r.ReadByte()
}

// screenStreamBody reads the message of type t from r up to its end, checking
// every length memberlist would allocate.
func screenStreamBody(t byte, r io.Reader, inbound bool) error {
	dec := codec.NewDecoder(r, &codec.MsgpackHandle{})
	switch {
	case t == mlUser && inbound:
		var h mlUserHeader
		if err := dec.Decode(&h); err != nil {
			return err
		}
		if h.UserMsgLen < 0 || h.UserMsgLen > maxUserMsgLen {
			return fmt.Errorf("%w: user message of %d bytes", errMalformed, h.UserMsgLen)
		}
		_, err := io.CopyN(io.Discard, r, int64(h.UserMsgLen))
		return err
	case t == mlPushPull:
		var h mlPushPullHeader
		if err := dec.Decode(&h); err != nil {
			return err
		}
		if h.Nodes < 0 || h.Nodes > maxPushNodes || h.UserStateLen < 0 || h.UserStateLen > maxUserStateLen {
			return fmt.Errorf("%w: push/pull of %d nodes and %d bytes", errMalformed, h.Nodes, h.UserStateLen)
		}
		for range h.Nodes {
			var n mlPushNode
			if err := dec.Decode(&n); err != nil {
				return err
			}
			if err := validVsn(n.Vsn); err != nil {
				return err
			}
		}
		_, err := io.CopyN(io.Discard, r, int64(h.UserStateLen))
		return err
	case t == mlPing && inbound, (t == mlAckResp || t == mlErr) && !inbound:
		// Small structs memberlist decodes incrementally; bounded by
		// maxStreamBytes and the stream deadline.
		return nil
	}
	return fmt.Errorf("%w: unexpected stream message type %d", errMalformed, t)
}

// packet screens a UDP packet: label header, encryption when enabled,
// checksum header, then at most one compression layer around at most one
// compound layer. Every compressed
// payload must decompress within maxPacketPayload.
func (s screener) packet(buf []byte) (err error) {
	defer recoverInto(&err)
	b, _, err := memberlist.RemoveLabelHeaderFromPacket(buf)
	if err != nil {
		return err
	}
	if keys := s.sealKeys(); len(keys) > 0 {
		plain, err := s.sealedPacket(keys, b)
		switch {
		case err == nil:
			b = plain
		case !s.acceptPlain:
			return err
		}
	}
	if len(b) >= 5 && b[0] == mlHasCrc {
		b = b[5:]
	}
	return screenCommand(b, true, true)
}

func screenCommand(b []byte, allowCompress, allowCompound bool) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty packet", errMalformed)
	}
	switch b[0] {
	case mlAlive:
		var a mlAliveMsg
		if err := codec.NewDecoderBytes(b[1:], &codec.MsgpackHandle{}).Decode(&a); err != nil {
			return fmt.Errorf("%w: alive: %w", errMalformed, err)
		}
		return validVsn(a.Vsn)
	case mlCompress:
		if !allowCompress {
			return fmt.Errorf("%w: nested compression", errMalformed)
		}
		compressed, err := decodeCompressed(codec.NewDecoderBytes(b[1:], &codec.MsgpackHandle{}))
		if err != nil {
			return err
		}
		payload, err := inflate(compressed, maxPacketPayload)
		if err != nil {
			return err
		}
		return screenCommand(payload, false, allowCompound)
	case mlCompound:
		if !allowCompound {
			return fmt.Errorf("%w: nested compound message", errMalformed)
		}
		parts, err := splitCompound(b[1:])
		if err != nil {
			return err
		}
		for _, p := range parts {
			if err := screenCommand(p, false, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// splitCompound mirrors memberlist's compound framing: a part count, that
// many big-endian uint16 lengths, then the parts. Truncated trailing parts
// are left for memberlist to report.
func splitCompound(b []byte) ([][]byte, error) {
	if len(b) < 1 {
		return nil, fmt.Errorf("%w: compound without count", errMalformed)
	}
	n := int(b[0])
	b = b[1:]
	if len(b) < 2*n {
		return nil, fmt.Errorf("%w: truncated compound lengths", errMalformed)
	}
	lens, b := b[:2*n], b[2*n:]
	var parts [][]byte
	for i := range n {
		l := int(binary.BigEndian.Uint16(lens[2*i:]))
		if l > len(b) {
			break
		}
		parts = append(parts, b[:l])
		b = b[l:]
	}
	return parts, nil
}

// decodeCompressed decodes memberlist's compress envelope and returns the
// LZW data.
func decodeCompressed(dec *codec.Decoder) ([]byte, error) {
	var c mlCompressed
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	if c.Algo != 0 {
		return nil, fmt.Errorf("%w: unknown compression %d", errMalformed, c.Algo)
	}
	return c.Buf, nil
}

// inflate decompresses LZW data, failing once the output would exceed limit
// bytes or when it is empty.
func inflate(compressed []byte, limit int64) ([]byte, error) {
	// Measure first, so that a bomb is refused without storing its output,
	// then inflate into a buffer of the exact size.
	n, err := io.Copy(io.Discard, io.LimitReader(lzwReader(compressed), limit+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	case n > limit:
		return nil, fmt.Errorf("%w: decompresses beyond %d bytes", errMalformed, limit)
	case n == 0:
		return nil, fmt.Errorf("%w: empty compressed payload", errMalformed)
	}
	out := make([]byte, n)
	if _, err := io.ReadFull(lzwReader(compressed), out); err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	return out, nil
}

func lzwReader(p []byte) io.Reader {
	return lzw.NewReader(bytes.NewReader(p), lzw.LSB, 8)
}

// recorder reads through a buffered source and keeps every byte consumed, so
// that the stream can be replayed to memberlist from its first byte.
type recorder struct {
	src *bufio.Reader
	buf []byte
}

var _ io.ByteScanner = (*recorder)(nil)

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.src.Read(p)
	r.buf = append(r.buf, p[:n]...)
	return n, err
}

func (r *recorder) ReadByte() (byte, error) {
	b, err := r.src.ReadByte()
	if err == nil {
		r.buf = append(r.buf, b)
	}
	return b, err
}

func (r *recorder) UnreadByte() error {
	if err := r.src.UnreadByte(); err != nil {
		return err
	}
	r.buf = r.buf[:len(r.buf)-1]
	return nil
}

// replay returns the consumed bytes followed by the rest of the stream.
func (r *recorder) replay() io.Reader {
	return io.MultiReader(bytes.NewReader(r.buf), r.src)
}

func recoverInto(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: panic: %v", errMalformed, r)
	}
}
