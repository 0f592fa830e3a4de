package mesh

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
)

// ZMTP 3 framing, as far as the guard needs it.
const (
	zmtpGreetingLen = 64
	zmtpFlagMore    = 0x01
	zmtpFlagLong    = 0x02
	zmtpFlagCommand = 0x04
)

// errGuard is returned by a guarded connection's Read when the peer breaks
// the framing rules; it is a net.Error that is not a timeout, so the ZMTP
// layer treats the connection as dead.
type errGuard struct{ msg string }

func (e *errGuard) Error() string   { return "mesh: " + e.msg }
func (e *errGuard) Timeout() bool   { return false }
func (e *errGuard) Temporary() bool { return false }
func (e *errGuard) Unwrap() error   { return ErrProtocol }

var _ net.Error = (*errGuard)(nil)

// guardConn wraps a connection under zmq4's ZMTP layer. On the read side it
// follows the ZMTP frame headers as the bytes pass and fails the connection
// when a frame announces more than max bytes (zmq4 would allocate whatever a
// header claims) or, after the handshake, when a command frame arrives (zmq4
// would answer a PING from its reader and interleave with our writer). On the
// write side it writes through during the handshake and buffers afterwards,
// so a frame's header and body leave in one syscall (or one TLS record) at
// Flush.
type guardConn struct {
	net.Conn          // what the ZMTP bytes go through: raw, or TLS over it
	raw      net.Conn // the transport; closing it ends the connection at once
	sealed   bool     // Conn is TLS over raw
	r        *bufio.Reader
	max      uint64
	first    byte // the first byte received (tells a TLS peer from a ZMTP one)

	// read-side parser state, owned by the single reader
	greetLeft int
	hdr       [9]byte
	hdrHave   int
	bodyLeft  uint64
	msgSize   uint64 // bytes announced so far by the frames of one message
	msgFrames int    // frames so far in one message
	ready     bool   // handshake done: command frames are refused
	err       error

	wmu      sync.Mutex // serialises writers after the handshake
	wbuf     []byte     // small writes waiting for Flush
	buffered bool
}

const (
	// guardReadBuf is the read-ahead for frame headers and small frames;
	// larger frame bodies are read straight into their buffer (a larger
	// read-ahead would copy every byte of them once more).
	guardReadBuf = 4 << 10
	// directWrite is the write size from which bytes are not copied into
	// the write buffer but sent along with it in one writev.
	directWrite = 4 << 10
	// maxWriteBuf is the most the write buffer holds before it is sent.
	maxWriteBuf         = 64 << 10
	maxFramesPerMessage = 16
)

func newGuardConn(c net.Conn, maxFrame uint64) *guardConn {
	return &guardConn{
		Conn:      c,
		raw:       c,
		r:         bufio.NewReaderSize(c, guardReadBuf),
		max:       maxFrame,
		greetLeft: zmtpGreetingLen,
	}
}

// newSealedGuardConn guards a TLS connection tc running over raw.
func newSealedGuardConn(tc *tls.Conn, raw net.Conn, maxFrame uint64) *guardConn {
	g := newGuardConn(tc, maxFrame)
	g.raw, g.sealed = raw, true
	return g
}

// close closes the transport. Under TLS it sends no close_notify, which
// could wait up to 5 s on a peer that stopped reading; the ZMTP layer
// needs none.
func (g *guardConn) close() error { return g.raw.Close() }

// handshakeDone switches the guard to data mode: writes are buffered and
// command frames refused. Call it after the ZMTP handshake, before any other
// goroutine uses the connection.
func (g *guardConn) handshakeDone() {
	g.ready = true
	g.buffered = true
}

func (g *guardConn) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	if n > 0 {
		if g.greetLeft == zmtpGreetingLen {
			g.first = p[0]
		}
		if gerr := g.scan(p[:n]); gerr != nil {
			g.err = gerr
			g.close()
			return 0, gerr
		}
	}
	return n, err
}

// scan advances the frame parser over bytes the ZMTP layer is about to see.
func (g *guardConn) scan(b []byte) error {
	for len(b) > 0 {
		switch {
		case g.greetLeft > 0:
			k := min(g.greetLeft, len(b))
			g.greetLeft -= k
			b = b[k:]
		case g.bodyLeft > 0:
			k := uint64(len(b))
			if k > g.bodyLeft {
				k = g.bodyLeft
			}
			g.bodyLeft -= k
			b = b[k:]
		default:
			g.hdr[g.hdrHave] = b[0]
			g.hdrHave++
			b = b[1:]
			if err := g.header(); err != nil {
				return err
			}
		}
	}
	return nil
}

// header checks a frame header once it is complete.
func (g *guardConn) header() error {
	flags := g.hdr[0]
	if flags&^(zmtpFlagMore|zmtpFlagLong|zmtpFlagCommand) != 0 {
		return &errGuard{fmt.Sprintf("bad ZMTP frame flags %#x", flags)}
	}
	need := 2
	if flags&zmtpFlagLong != 0 {
		need = 9
	}
	if g.hdrHave < need {
		return nil
	}
	var size uint64
	if need == 2 {
		size = uint64(g.hdr[1])
	} else {
		for _, c := range g.hdr[1:9] {
			size = size<<8 | uint64(c)
		}
	}
	g.hdrHave = 0
	if flags&zmtpFlagCommand != 0 && g.ready {
		return &errGuard{"unexpected ZMTP command after handshake"}
	}
	g.msgSize += size
	g.msgFrames++
	if size > g.max || g.msgSize > g.max {
		return &errGuard{fmt.Sprintf("ZMTP message of %d bytes exceeds the %d byte limit", g.msgSize, g.max)}
	}
	if g.msgFrames > maxFramesPerMessage {
		return &errGuard{"too many frames in one ZMTP message"}
	}
	if flags&zmtpFlagMore == 0 {
		g.msgSize, g.msgFrames = 0, 0
	}
	g.bodyLeft = size
	return nil
}

// Write writes through during the handshake. After it, small writes (frame
// headers, small frames) wait in a buffer for Flush, and a large write goes
// out at once together with what waits, in one writev and with no copy
// (over TLS, see writeSealed).
func (g *guardConn) Write(p []byte) (int, error) {
	switch {
	case !g.buffered:
		return g.Conn.Write(p)
	case g.sealed:
		return g.writeSealed(p)
	}
	if len(p) < directWrite {
		g.wbuf = append(g.wbuf, p...)
		if len(g.wbuf) >= maxWriteBuf {
			return len(p), g.Flush()
		}
		return len(p), nil
	}
	bufs := net.Buffers{g.wbuf, p}
	_, err := bufs.WriteTo(g.Conn)
	g.wbuf = g.wbuf[:0]
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeSealed is Write over TLS, where a writev does not help: each Write
// of a tls.Conn makes at least one record and one syscall. So writes are
// gathered up to maxWriteBuf, and what remains of a larger write goes
// through with no copy here (TLS copies it into its records anyway).
func (g *guardConn) writeSealed(p []byte) (int, error) {
	n := len(p)
	for len(g.wbuf)+len(p) >= maxWriteBuf {
		if len(g.wbuf) == 0 {
			if _, err := g.Conn.Write(p); err != nil {
				return 0, err
			}
			return n, nil
		}
		k := maxWriteBuf - len(g.wbuf)
		g.wbuf = append(g.wbuf, p[:k]...)
		p = p[k:]
		if err := g.Flush(); err != nil {
			return 0, err
		}
	}
	g.wbuf = append(g.wbuf, p...)
	return n, nil
}

// Flush sends buffered writes.
func (g *guardConn) Flush() error {
	if len(g.wbuf) == 0 {
		return nil
	}
	_, err := g.Conn.Write(g.wbuf)
	g.wbuf = g.wbuf[:0]
	return err
}

// readFrame reads one single-part ZMTP data frame into buf (grown if too
// small) once the handshake is done, checking what scan checks: known flags,
// no command, no multi-part message, no frame over the limit. Reading here
// rather than through zmq4 lets the link reuse its frame buffer.
func (g *guardConn) readFrame(buf []byte) ([]byte, error) {
	var hdr [9]byte
	if _, err := io.ReadFull(g.r, hdr[:2]); err != nil {
		return nil, err
	}
	flags := hdr[0]
	switch {
	case flags&^(zmtpFlagMore|zmtpFlagLong|zmtpFlagCommand) != 0:
		return nil, &errGuard{fmt.Sprintf("bad ZMTP frame flags %#x", flags)}
	case flags&zmtpFlagCommand != 0:
		return nil, &errGuard{"unexpected ZMTP command after handshake"}
	case flags&zmtpFlagMore != 0:
		return nil, &errGuard{"multi-part ZMTP message"}
	}
	size := uint64(hdr[1])
	if flags&zmtpFlagLong != 0 {
		if _, err := io.ReadFull(g.r, hdr[2:9]); err != nil {
			return nil, err
		}
		size = binary.BigEndian.Uint64(hdr[1:9])
	}
	if size > g.max {
		return nil, &errGuard{fmt.Sprintf("ZMTP frame of %d bytes exceeds the %d byte limit", size, g.max)}
	}
	if uint64(cap(buf)) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := io.ReadFull(g.r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}
