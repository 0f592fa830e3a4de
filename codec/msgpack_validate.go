package codec

import (
	"encoding/binary"
	"fmt"
)

// timestampExt is the msgpack extension type of timestamps, the only
// extension validMsgpack accepts: others would need decoders registered
// process-wide with the msgpack library, and no other pyros codec has them.
const timestampExt = 0xff // -1 as a byte

// validMsgpack checks that data holds exactly one well-formed msgpack value
// and nothing after it, without allocating on success. Every length header
// is checked against the bytes that remain, so no header can make the
// decoder allocate more than the input could fill. Arrays and maps may nest
// maxDepth levels. Map keys must not be arrays or maps, and extensions must
// be valid timestamps. Errors match ErrMalformed, and ErrTooDeep where it
// applies.
func validMsgpack(data []byte, maxDepth int) error {
	_, err := scanMsgpack(data, maxDepth)
	return err
}

// scanMsgpack is validMsgpack that also returns the offsets of timestamps
// that widenTimestamps must rewrite. It allocates only when there are some.
func scanMsgpack(data []byte, maxDepth int) (widen []int, err error) {
	v := validator{data: data, maxDepth: maxDepth}
	if err := v.value(0); err != nil {
		return nil, err
	}
	if v.off != len(data) {
		return nil, v.fail("trailing bytes after value")
	}
	return v.widen, nil
}

// validator walks one msgpack value in data from off.
type validator struct {
	data     []byte
	off      int
	maxDepth int
	widen    []int // offsets of timestamps for widenTimestamps
}

// value checks one value. depth counts the arrays and maps around it.
func (v *validator) value(depth int) error {
	if v.off >= len(v.data) {
		return v.fail("truncated: value expected")
	}
	c := v.data[v.off]
	v.off++
	switch {
	case c <= 0x7f || c >= 0xe0: // positive and negative fixint
		return nil
	case c <= 0x8f:
		return v.mapBody(uint64(c&0x0f), depth)
	case c <= 0x9f:
		return v.arrayBody(uint64(c&0x0f), depth)
	case c <= 0xbf:
		return v.skip(uint64(c & 0x1f))
	}
	return v.tagged(c, depth)
}

// tagged checks a value whose first byte is in 0xc0-0xdf.
func (v *validator) tagged(c byte, depth int) error {
	start := v.off - 1
	switch c {
	case 0xc0, 0xc2, 0xc3: // nil, false, true
		return nil
	case 0xc1:
		v.off = start
		return v.fail("reserved type byte 0xc1")
	case 0xcc, 0xd0: // uint8, int8
		return v.skip(1)
	case 0xcd, 0xd1: // uint16, int16
		return v.skip(2)
	case 0xca, 0xce, 0xd2: // float32, uint32, int32
		return v.skip(4)
	case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
		return v.skip(8)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
		return v.ext(start, 1<<(c-0xd4))
	}
	n, err := v.length(c)
	if err != nil {
		return err
	}
	switch c {
	case 0xc7, 0xc8, 0xc9: // ext 8, 16, 32
		return v.ext(start, n)
	case 0xdc, 0xdd: // array 16, 32
		return v.arrayBody(n, depth)
	case 0xde, 0xdf: // map 16, 32
		return v.mapBody(n, depth)
	}
	return v.skip(n) // bin and str 8, 16, 32
}

// length reads the big-endian length that follows type byte c.
func (v *validator) length(c byte) (uint64, error) {
	width := 4 // bin32, ext32, str32, array32, map32
	switch c {
	case 0xc4, 0xc7, 0xd9: // bin8, ext8, str8
		width = 1
	case 0xc5, 0xc8, 0xda, 0xdc, 0xde: // bin16, ext16, str16, array16, map16
		width = 2
	}
	if len(v.data)-v.off < width {
		return 0, v.fail("truncated length")
	}
	b := v.data[v.off : v.off+width]
	v.off += width
	switch width {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), nil
	}
	return uint64(binary.BigEndian.Uint32(b)), nil
}

// remaining returns how many bytes are left after off.
func (v *validator) remaining() uint64 {
	return uint64(len(v.data) - v.off)
}

// skip steps over n payload bytes.
func (v *validator) skip(n uint64) error {
	if n > v.remaining() {
		return v.fail("length exceeds input")
	}
	v.off += int(n)
	return nil
}

// ext checks the type byte and n data bytes of the extension value that
// starts at start.
func (v *validator) ext(start int, n uint64) error {
	if n+1 > v.remaining() {
		return v.fail("extension length exceeds input")
	}
	if v.data[v.off] != timestampExt {
		return v.fail("extension is not a timestamp")
	}
	payload := v.data[v.off+1 : v.off+1+int(n)]
	if !validTimestamp(payload) {
		return v.fail("invalid timestamp")
	}
	if misreadAsMap(payload[0]) {
		v.widen = append(v.widen, start)
	}
	v.off += int(n) + 1
	return nil
}

// arrayBody checks n elements. Each takes at least one byte.
func (v *validator) arrayBody(n uint64, depth int) error {
	if n > v.remaining() {
		return v.fail("array length exceeds input")
	}
	if err := v.enter(depth); err != nil {
		return err
	}
	for ; n > 0; n-- {
		if err := v.value(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// mapBody checks n key/value pairs. Each takes at least two bytes.
func (v *validator) mapBody(n uint64, depth int) error {
	if 2*n > v.remaining() {
		return v.fail("map length exceeds input")
	}
	if err := v.enter(depth); err != nil {
		return err
	}
	for ; n > 0; n-- {
		if v.off < len(v.data) && isContainer(v.data[v.off]) {
			return v.fail("map key is an array or map")
		}
		if err := v.value(depth + 1); err != nil {
			return err
		}
		if err := v.value(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// enter checks that a container at depth may open another level.
func (v *validator) enter(depth int) error {
	if depth >= v.maxDepth {
		return &formatError{offset: v.off, limit: v.maxDepth, tooDeep: true}
	}
	return nil
}

// isContainer reports whether c starts an array or a map.
func isContainer(c byte) bool {
	return c >= 0x80 && c <= 0x9f || c >= 0xdc && c <= 0xdf
}

func (v *validator) fail(reason string) error {
	return &formatError{offset: v.off, reason: reason}
}

// formatError says where and why validMsgpack rejected its input.
type formatError struct {
	offset  int
	reason  string
	limit   int
	tooDeep bool
}

func (e *formatError) Error() string {
	if e.tooDeep {
		return fmt.Sprintf("%v: msgpack nests more than %d levels at offset %d", ErrTooDeep, e.limit, e.offset)
	}
	return fmt.Sprintf("%v: msgpack %s at offset %d", ErrMalformed, e.reason, e.offset)
}

// Is makes every formatError match ErrMalformed, and depth errors also
// match ErrTooDeep.
func (e *formatError) Is(target error) bool {
	return target == ErrMalformed || e.tooDeep && target == ErrTooDeep
}
