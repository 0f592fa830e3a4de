// Package codec turns Go values into payload bytes and back.
//
// Every payload on the pyros wire carries the name of the codec that encoded
// it. A receiver looks that name up in its own Registry, so peers built with
// different codecs still interoperate: a peer that prefers msgpack can answer
// a peer that only speaks json, as long as both know the name.
//
// Three codecs ship with the package: msgpack (compact, the default for
// pyros traffic), json (for debugging and for peers without msgpack) and
// pickle (for Python processes that use pickle as their native
// serialization). Default returns a fresh Registry holding all three; there
// is no package-level registry to mutate.
//
// Sending side:
//
//	reg := codec.Default()
//	c, err := reg.Lookup(codec.Msgpack)
//	if err != nil {
//		return err
//	}
//	payload, err := c.Marshal(msg)
//	if err != nil {
//		return err
//	}
//	// Put c.Name() and payload on the wire.
//
// Receiving side, with name and payload read from the wire:
//
//	c, err := reg.Lookup(name)
//	if err != nil {
//		return err // wraps ErrUnknownCodec
//	}
//	if err := c.Unmarshal(payload, &msg); err != nil {
//		return err // wraps ErrMalformed for corrupt or hostile input
//	}
//
// Unmarshal treats its input as untrusted. The msgpack codec checks the
// structure of the whole payload before decoding, so a few bytes that claim a
// huge array or string fail fast with ErrMalformed instead of allocating, and
// nesting deeper than 64 arrays or maps fails with ErrTooDeep. Of the msgpack
// extension types only timestamps (type -1, which time.Time encodes to) are
// accepted, and map keys must not be arrays or maps.
//
// Decoding msgpack into *any, *map[string]any or *[]any yields JSON-like
// values: map[string]any (map[any]any when some key is not a string),
// []any, int64 (uint64 only above math.MaxInt64), float64, string, bool,
// nil, []byte and time.Time. Structs are encoded by their msgpack tags and
// fall back to their json tags, so one struct definition serves both codecs.
//
// The pickle codec reads protocols 0 to 5 and writes protocol 4. Unpickling
// never runs code: only a fixed allow-list of Python globals (set,
// frozenset, bytearray, bytes, complex, _codecs.encode and
// collections.OrderedDict) and the application classes named with
// PickleCodec.AllowClass, such as namedtuples, are resolved; any other
// global fails with ErrPickleGlobal. Instances of allowed classes decode to
// PickleObject. Pickles decode to the same JSON-like values as msgpack,
// plus complex128, *big.Int for integers beyond 64 bits, and PickleObject;
// sets and tuples become []any. The codec bounds lengths, nesting (64
// levels), memo entries and the memory decoding may take, so hostile input
// fails with ErrMalformed. Structs are encoded as the msgpack codec sees
// them, as dicts keyed by tag names:
//
//	c, _ := reg.Lookup(codec.Pickle)
//	c.(*codec.PickleCodec).AllowClass("pyzmp.message", "ServiceRequest",
//		[]string{"service", "args", "kwargs"})
package codec
