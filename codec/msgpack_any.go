package codec

import (
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// maxMapHint caps the size hint for a decoded map: duplicate keys can make
// a map header overstate how many entries the map ends up with.
const maxMapHint = 1024

// decodeAny decodes one value into the JSON-like types listed in the package
// doc. It expects input already accepted by validMsgpack, whose depth limit
// bounds the recursion here.
func decodeAny(d *msgpack.Decoder) (any, error) {
	c, err := d.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case msgpcode.IsFixedNum(c):
		return d.DecodeInt64()
	case msgpcode.IsFixedMap(c):
		return decodeMap(d)
	case msgpcode.IsFixedArray(c):
		return decodeArray(d)
	case msgpcode.IsString(c):
		return d.DecodeString()
	case msgpcode.IsBin(c):
		return decodeBytes(d)
	case msgpcode.IsExt(c):
		return d.DecodeTime() // validMsgpack admits only timestamp extensions.
	}
	switch c {
	case msgpcode.Nil:
		return nil, d.DecodeNil()
	case msgpcode.False, msgpcode.True:
		return d.DecodeBool()
	case msgpcode.Int8, msgpcode.Int16, msgpcode.Int32, msgpcode.Int64:
		return d.DecodeInt64()
	case msgpcode.Uint8, msgpcode.Uint16, msgpcode.Uint32, msgpcode.Uint64:
		return decodeUint(d)
	case msgpcode.Float, msgpcode.Double:
		return d.DecodeFloat64()
	case msgpcode.Array16, msgpcode.Array32:
		return decodeArray(d)
	case msgpcode.Map16, msgpcode.Map32:
		return decodeMap(d)
	}
	return nil, fmt.Errorf("msgpack: unexpected code %#x", c)
}

// decodeUint returns int64 when the value fits, so integers have one type
// whichever encoding the sender picked.
func decodeUint(d *msgpack.Decoder) (any, error) {
	n, err := d.DecodeUint64()
	if err != nil || n > math.MaxInt64 {
		return n, err
	}
	return int64(n), nil
}

// decodeBytes returns a non-nil slice for an empty bin, so it encodes back
// as bin rather than nil.
func decodeBytes(d *msgpack.Decoder) (any, error) {
	b, err := d.DecodeBytes()
	if err != nil {
		return nil, err
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

func decodeArray(d *msgpack.Decoder) (any, error) {
	n, err := d.DecodeArrayLen()
	if err != nil || n < 0 {
		return nil, err
	}
	s := make([]any, n)
	for i := range s {
		if s[i], err = decodeAny(d); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// decodeMap decodes a map as map[string]any while its keys are strings (or
// bin, taken as strings) and switches to map[any]any at the first other key.
// It is also installed as the library's map decoder, so maps inside
// interface-typed struct fields decode the same way.
func decodeMap(d *msgpack.Decoder) (any, error) {
	n, err := d.DecodeMapLen()
	if err != nil || n < 0 {
		return nil, err
	}
	m := make(map[string]any, min(n, maxMapHint))
	for i := range n {
		c, err := d.PeekCode()
		if err != nil {
			return nil, err
		}
		if !msgpcode.IsString(c) && !msgpcode.IsBin(c) {
			return decodeMixedMap(d, m, n-i)
		}
		k, err := d.DecodeString()
		if err != nil {
			return nil, err
		}
		if m[k], err = decodeAny(d); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// decodeMixedMap decodes the remaining n entries of a map whose keys are not
// all strings, after the entries already decoded into m.
func decodeMixedMap(d *msgpack.Decoder, m map[string]any, n int) (any, error) {
	out := make(map[any]any, len(m)+min(n, maxMapHint))
	for k, v := range m {
		out[k] = v
	}
	for range n {
		k, err := decodeMapKey(d)
		if err != nil {
			return nil, err
		}
		if out[k], err = decodeAny(d); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeMapKey decodes a key that must be usable in a Go map.
func decodeMapKey(d *msgpack.Decoder) (any, error) {
	k, err := decodeAny(d)
	if err != nil {
		return nil, err
	}
	switch k := k.(type) {
	case []byte:
		return string(k), nil
	case []any, map[string]any, map[any]any:
		return nil, fmt.Errorf("msgpack: map key of type %T", k)
	}
	return k, nil
}

// decodeInto decodes into a *map[string]any or *[]any with the same value
// types as decodeAny. Nil input leaves a nil map or slice.
func decodeInto[T map[string]any | []any](d *msgpack.Decoder, p *T) error {
	v, err := decodeAny(d)
	if err != nil {
		return err
	}
	if v == nil {
		*p = nil
		return nil
	}
	t, ok := v.(T)
	if !ok {
		return fmt.Errorf("msgpack: cannot decode %T into %T", v, *p)
	}
	*p = t
	return nil
}
