package mesh

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Wire format. A ZMTP frame carries a batch:
//
//	frame   = version:byte message*
//	message = length:uvarint kind:byte body            (length counts kind+body)
//	request = id:uvarint timeout_us:uvarint service:str codec:str payload:rest
//	ack     = id:uvarint
//	reply   = id:uvarint codec:str payload:rest
//	error   = id:uvarint code:byte message:rest
//	cancel  = id:uvarint
//	open    = id:uvarint publisher:uvarint stream:str codec:str   (stream id on this link)
//	data    = id:uvarint seq:uvarint payload:rest
//	close   = id:uvarint
//	str     = length:uvarint bytes
//
// timeout_us is the time the caller will still wait, in microseconds (0 = no
// deadline); a relative time keeps clock skew between hosts out of it.
const wireVersion = 1

type kind uint8

const (
	kindRequest kind = 1
	kindAck     kind = 2
	kindReply   kind = 3
	kindError   kind = 4
	kindCancel  kind = 5
	kindOpen    kind = 6
	kindData    kind = 7
	kindClose   kind = 8
)

// maxNameLen bounds service and codec names on the wire.
const maxNameLen = 255

// message is one decoded wire message. Slices alias the frame.
type message struct {
	kind    kind
	id      uint64
	timeout time.Duration
	service string
	codec   string
	code    Code
	pub     uint64 // open: publisher id
	seq     uint64 // data: sequence number
	payload []byte
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func strLen(s string) int { return uvarintLen(uint64(len(s))) + len(s) }

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendMessage appends m, length-prefixed, to a batch.
func appendMessage(b []byte, m *message) []byte {
	n := 1 + uvarintLen(m.id)
	switch m.kind {
	case kindRequest:
		n += uvarintLen(uint64(m.timeout/time.Microsecond)) + strLen(m.service) + strLen(m.codec) + len(m.payload)
	case kindReply:
		n += strLen(m.codec) + len(m.payload)
	case kindError:
		n += 1 + len(m.payload)
	case kindOpen:
		n += uvarintLen(m.pub) + strLen(m.service) + strLen(m.codec)
	case kindData:
		n += uvarintLen(m.seq) + len(m.payload)
	}
	b = binary.AppendUvarint(b, uint64(n))
	b = append(b, byte(m.kind))
	b = binary.AppendUvarint(b, m.id)
	switch m.kind {
	case kindRequest:
		b = binary.AppendUvarint(b, uint64(m.timeout/time.Microsecond))
		b = appendStr(b, m.service)
		b = appendStr(b, m.codec)
		b = append(b, m.payload...)
	case kindReply:
		b = appendStr(b, m.codec)
		b = append(b, m.payload...)
	case kindError:
		b = append(b, byte(m.code))
		b = append(b, m.payload...)
	case kindOpen:
		b = binary.AppendUvarint(b, m.pub)
		b = appendStr(b, m.service)
		b = appendStr(b, m.codec)
	case kindData:
		b = binary.AppendUvarint(b, m.seq)
		b = append(b, m.payload...)
	}
	return b
}

// batchReader walks the messages of one frame.
type batchReader struct {
	buf []byte
}

func newBatchReader(frame []byte) (batchReader, error) {
	if len(frame) == 0 || frame[0] != wireVersion {
		return batchReader{}, fmt.Errorf("%w: unknown frame version", ErrProtocol)
	}
	return batchReader{buf: frame[1:]}, nil
}

// next decodes the next message; ok is false at the end of the batch.
func (r *batchReader) next(m *message) (ok bool, err error) {
	if len(r.buf) == 0 {
		return false, nil
	}
	n, k := binary.Uvarint(r.buf)
	if k <= 0 || n == 0 || n > uint64(len(r.buf)-k) {
		return false, fmt.Errorf("%w: bad message length", ErrProtocol)
	}
	body := r.buf[k : k+int(n)]
	r.buf = r.buf[k+int(n):]
	return true, decodeMessage(body, m)
}

func decodeMessage(b []byte, m *message) error {
	*m = message{kind: kind(b[0])}
	d := decoder{buf: b[1:]}
	m.id = d.uvarint()
	switch m.kind {
	case kindRequest:
		us := d.uvarint()
		if us > uint64(365*24*time.Hour/time.Microsecond) {
			us = 0
		}
		m.timeout = time.Duration(us) * time.Microsecond
		m.service = d.str()
		m.codec = d.str()
		m.payload = d.rest()
	case kindReply:
		m.codec = d.str()
		m.payload = d.rest()
	case kindError:
		m.code = Code(d.byte())
		m.payload = d.rest()
	case kindData:
		m.seq = d.uvarint()
		m.payload = d.rest()
	case kindOpen:
		m.pub = d.uvarint()
		m.service = d.str()
		m.codec = d.str()
		if len(d.buf) != 0 {
			d.fail()
		}
	case kindAck, kindCancel, kindClose:
		if len(d.buf) != 0 {
			d.fail()
		}
	default:
		return fmt.Errorf("%w: unknown message kind %d", ErrProtocol, m.kind)
	}
	if d.bad {
		return fmt.Errorf("%w: truncated %d message", ErrProtocol, m.kind)
	}
	return nil
}

// decoder reads fields, remembering the first failure.
type decoder struct {
	buf []byte
	bad bool
}

func (d *decoder) fail() { d.bad = true; d.buf = nil }

func (d *decoder) uvarint() uint64 {
	v, k := binary.Uvarint(d.buf)
	if k <= 0 {
		d.fail()
		return 0
	}
	d.buf = d.buf[k:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.buf) == 0 {
		d.fail()
		return 0
	}
	c := d.buf[0]
	d.buf = d.buf[1:]
	return c
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > maxNameLen || n > uint64(len(d.buf)) {
		d.fail()
		return ""
	}
	s := string(d.buf[:n])
	d.buf = d.buf[n:]
	return s
}

func (d *decoder) rest() []byte {
	r := d.buf
	d.buf = nil
	return r
}
