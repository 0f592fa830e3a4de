package codec

import "encoding/binary"

// The msgpack library's Decoder.DecodeMapLen, used for every map-typed
// destination, skips an extension header and reads the extension's first
// data byte as a map header. A timestamp sent where a map is expected then
// sets the decoder parsing the timestamp's bytes, and whatever follows, as
// msgpack that validMsgpack never checked, with headers that can claim
// gigabytes. Such a timestamp is still valid msgpack, so validMsgpack keeps
// it and notes where it is, and Unmarshal rewrites it with widenTimestamps
// into the 12-byte form. That form starts with the nanoseconds' high byte,
// at most 0x3b, which DecodeMapLen rejects.

// maxNanos is the largest nanoseconds field the timestamp spec allows.
const maxNanos = 999_999_999

// validTimestamp reports whether payload is the data of a timestamp
// extension: 4, 8 or 12 bytes, with nanoseconds in range.
func validTimestamp(payload []byte) bool {
	switch len(payload) {
	case 4:
		return true
	case 8:
		return binary.BigEndian.Uint64(payload)>>34 <= maxNanos
	case 12:
		return binary.BigEndian.Uint32(payload) <= maxNanos
	}
	return false
}

// misreadAsMap reports whether DecodeMapLen would take c, the first data
// byte of an extension, for a map header: a fixmap, nil, map16 or map32.
func misreadAsMap(c byte) bool {
	return c >= 0x80 && c <= 0x8f || c == 0xc0 || c == 0xde || c == 0xdf
}

// widenTimestamps returns a copy of data with the timestamps that start at
// the offsets in at, in increasing order, rewritten in the 12-byte form.
// Data must have passed validMsgpack.
func widenTimestamps(data []byte, at []int) []byte {
	// The 12-byte form takes 15 bytes, at most 9 more than before.
	out := make([]byte, 0, len(data)+9*len(at))
	prev := 0
	for _, off := range at {
		payload, end := extPayload(data, off)
		sec, nsec := timestampParts(payload)
		out = append(out, data[prev:off]...)
		out = append(out, 0xc7, 12, timestampExt)
		out = binary.BigEndian.AppendUint32(out, nsec)
		out = binary.BigEndian.AppendUint64(out, sec)
		prev = end
	}
	return append(out, data[prev:]...)
}

// extPayload returns the data of the extension value at off, and the offset
// just past it.
func extPayload(data []byte, off int) (payload []byte, end int) {
	var n, header int
	switch c := data[off]; c {
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
		n, header = 1<<(c-0xd4), 2
	case 0xc7: // ext8
		n, header = int(data[off+1]), 3
	case 0xc8: // ext16
		n, header = int(binary.BigEndian.Uint16(data[off+1:])), 4
	default: // ext32
		n, header = int(binary.BigEndian.Uint32(data[off+1:])), 6
	}
	start := off + header
	return data[start : start+n], start + n
}

// timestampParts decodes a timestamp's seconds (as the unsigned bits of
// the 12-byte form) and nanoseconds.
func timestampParts(payload []byte) (sec uint64, nsec uint32) {
	switch len(payload) {
	case 4:
		return uint64(binary.BigEndian.Uint32(payload)), 0
	case 8:
		v := binary.BigEndian.Uint64(payload)
		return v & (1<<34 - 1), uint32(v >> 34)
	}
	return binary.BigEndian.Uint64(payload[4:]), binary.BigEndian.Uint32(payload)
}
