package codec

import (
	"cmp"
	"encoding"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

// pickleBatch is how many items Marshal puts between a MARK and its
// APPENDS, SETITEMS or ADDITEMS, as Python does.
const pickleBatch = 1000

// Marshal encodes v as a protocol 4 pickle, without frames or memo:
//
//   - nil, nil pointers, slices and maps: None
//   - bool: bool
//   - signed and unsigned integers of every size, *big.Int: int
//   - float32, float64: float
//   - complex64, complex128: complex, as builtins.complex(real, imag)
//   - string: str, or bytes if it is not valid UTF-8
//   - []byte and byte arrays: bytes
//   - other slices and arrays: list
//   - maps: dict, in sorted key order; keys must be hashable in Python:
//     nil, bools, numbers, strings, byte arrays or time.Time, or
//     interfaces holding them
//   - PickleSet: set; its items must be hashable in Python
//   - PickleObject: module.name called with its arguments, so Python
//     rebuilds the instance (a namedtuple, an exception)
//   - PickleGlobal: the global itself (a class, for example)
//   - time.Time: str, in RFC 3339 format with nanoseconds
//   - structs, and types with msgpack or encoding marshalers: the plain
//     value the msgpack codec encodes them to, so structs become dicts
//     keyed by their msgpack or json tag names. Fields are encoded by the
//     msgpack codec too: a complex field is an error, and PickleObject and
//     PickleSet fields are not special there.
//
// Values nested more than 64 levels deep, which Unmarshal would refuse,
// are an error.
func (p *PickleCodec) Marshal(v any) ([]byte, error) {
	e := pickleEncoder{codec: p, buf: make([]byte, 0, 64)}
	e.buf = append(e.buf, opProto, pickleProtocol)
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	return append(e.buf, opStop), nil
}

// pickleEncoder writes one pickle.
type pickleEncoder struct {
	codec *PickleCodec
	buf   []byte
}

// Types the encoder treats specially.
var (
	pickleObjectType = reflect.TypeFor[PickleObject]()
	pickleSetType    = reflect.TypeFor[PickleSet]()
	pickleGlobalType = reflect.TypeFor[PickleGlobal]()
	bigIntType       = reflect.TypeFor[big.Int]()
	bigIntPtrType    = reflect.TypeFor[*big.Int]()
	timeType         = reflect.TypeFor[time.Time]()
)

// value encodes v, which sits inside depth containers.
func (e *pickleEncoder) value(v any, depth int) error {
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, opNone)
	case bool:
		e.bool(x)
	case int:
		e.int(int64(x))
	case int64:
		e.int(x)
	case float64:
		e.float(x)
	case string:
		e.string(x)
	case []byte:
		if x == nil {
			e.buf = append(e.buf, opNone)
			return nil
		}
		e.bytes(x)
	case time.Time:
		e.string(x.Format(time.RFC3339Nano))
	default:
		return e.reflect(reflect.ValueOf(v), depth)
	}
	return nil
}

// reflect encodes rv by its kind.
func (e *pickleEncoder) reflect(rv reflect.Value, depth int) error {
	if special, err := e.special(rv, depth); special || err != nil {
		return err
	}
	switch rv.Kind() {
	case reflect.Bool:
		e.bool(rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.int(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.uint(rv.Uint())
	case reflect.Float32, reflect.Float64:
		e.float(rv.Float())
	case reflect.Complex64, reflect.Complex128:
		e.complex(rv.Complex())
	case reflect.String:
		e.string(rv.String())
	default:
		return e.composite(rv, depth)
	}
	return nil
}

// composite encodes pointers, interfaces, slices, arrays and maps.
func (e *pickleEncoder) composite(rv reflect.Value, depth int) error {
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		return e.deref(rv, depth)
	case reflect.Slice, reflect.Map:
		if rv.IsNil() {
			e.buf = append(e.buf, opNone)
			return nil
		}
	}
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			e.bytes(byteSlice(rv))
			return nil
		}
		if err := checkDepth(depth); err != nil {
			return err
		}
		return e.list(rv, depth)
	case reflect.Map:
		if err := checkDepth(depth); err != nil {
			return err
		}
		return e.dict(rv, depth)
	}
	return fmt.Errorf("codec: pickle: cannot encode %v", rv.Type())
}

// deref encodes what a chain of pointers and interfaces leads to, or None.
// The chain is bounded, since it can be a cycle.
func (e *pickleEncoder) deref(rv reflect.Value, depth int) error {
	for hops := 0; rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface; hops++ {
		if rv.IsNil() {
			e.buf = append(e.buf, opNone)
			return nil
		}
		if hops == maxPickleDepth {
			return fmt.Errorf("codec: pickle: more than %d pointers in a row", maxPickleDepth)
		}
		rv = rv.Elem()
	}
	return e.reflect(rv, depth)
}

// checkDepth refuses a container inside maxPickleDepth others, which
// Unmarshal would refuse too.
func checkDepth(depth int) error {
	if depth >= maxPickleDepth {
		return fmt.Errorf("codec: pickle: value nests more than %d levels", maxPickleDepth)
	}
	return nil
}

// special encodes the types that are not taken by their kind, and reports
// whether rv was one of them.
func (e *pickleEncoder) special(rv reflect.Value, depth int) (bool, error) {
	if !rv.IsValid() {
		e.buf = append(e.buf, opNone)
		return true, nil
	}
	switch t := rv.Type(); {
	case t == pickleObjectType:
		return true, e.object(rv.Interface().(PickleObject), depth)
	case t == pickleSetType:
		return true, e.set(rv.Interface().(PickleSet), depth)
	case t == pickleGlobalType:
		return true, e.globalRef(rv.Interface().(PickleGlobal))
	case t == bigIntType:
		n := rv.Interface().(big.Int)
		e.bigInt(&n)
		return true, nil
	case t == bigIntPtrType && !rv.IsNil():
		e.bigInt(rv.Interface().(*big.Int))
		return true, nil
	case t == timeType:
		return true, e.value(rv.Interface(), depth)
	case t.Kind() == reflect.Struct || hasMarshaler(t):
		return true, e.viaMsgpack(rv, depth)
	}
	return false, nil
}

// hasMarshaler reports whether the msgpack codec would encode values of
// type t with a method of theirs rather than by their kind.
func hasMarshaler(t reflect.Type) bool {
	for _, m := range []reflect.Type{
		reflect.TypeFor[msgpack.CustomEncoder](),
		reflect.TypeFor[msgpack.Marshaler](),
		reflect.TypeFor[encoding.BinaryMarshaler](),
		reflect.TypeFor[encoding.TextMarshaler](),
	} {
		if t.Implements(m) {
			return true
		}
	}
	return false
}

// viaMsgpack encodes rv as the plain value the msgpack codec turns it
// into.
func (e *pickleEncoder) viaMsgpack(rv reflect.Value, depth int) error {
	if !rv.CanInterface() {
		return fmt.Errorf("codec: pickle: cannot encode unexported %v", rv.Type())
	}
	b, err := NewMsgpack().Marshal(rv.Interface())
	if err != nil {
		return fmt.Errorf("codec: pickle: %w", err)
	}
	var plain any
	if err := NewMsgpack().Unmarshal(b, &plain); err != nil {
		return fmt.Errorf("codec: pickle: %v re-read from msgpack: %w", rv.Type(), err)
	}
	return e.value(plain, depth)
}

// byteSlice returns the bytes of a byte slice or array.
func byteSlice(rv reflect.Value) []byte {
	if rv.Kind() == reflect.Slice {
		return rv.Bytes()
	}
	b := make([]byte, rv.Len())
	reflect.Copy(reflect.ValueOf(b), rv)
	return b
}

// bool writes NEWTRUE or NEWFALSE.
func (e *pickleEncoder) bool(b bool) {
	if b {
		e.buf = append(e.buf, opNewTrue)
	} else {
		e.buf = append(e.buf, opNewFalse)
	}
}

// int writes n in the shortest of the integer opcodes.
func (e *pickleEncoder) int(n int64) {
	switch {
	case n >= 0 && n <= math.MaxUint8:
		e.buf = append(e.buf, opBinInt1, byte(n))
	case n >= 0 && n <= math.MaxUint16:
		e.buf = append(e.buf, opBinInt2)
		e.buf = binary.LittleEndian.AppendUint16(e.buf, uint16(n))
	case n >= math.MinInt32 && n <= math.MaxInt32:
		e.buf = append(e.buf, opBinInt)
		e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(int32(n)))
	default:
		e.long(big.NewInt(n))
	}
}

// uint writes n, which may exceed math.MaxInt64.
func (e *pickleEncoder) uint(n uint64) {
	if n <= math.MaxInt64 {
		e.int(int64(n))
		return
	}
	e.long(new(big.Int).SetUint64(n))
}

// bigInt writes n.
func (e *pickleEncoder) bigInt(n *big.Int) {
	if n.IsInt64() {
		e.int(n.Int64())
		return
	}
	e.long(n)
}

// long writes n as LONG1 or LONG4.
func (e *pickleEncoder) long(n *big.Int) {
	b := encodeLong(n)
	if len(b) < 256 {
		e.buf = append(e.buf, opLong1, byte(len(b)))
	} else {
		e.buf = append(e.buf, opLong4)
		e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(len(b)))
	}
	e.buf = append(e.buf, b...)
}

// encodeLong returns n in little-endian two's complement in as few bytes as
// Python's pickle.encode_long uses.
func encodeLong(n *big.Int) []byte {
	if n.Sign() == 0 {
		return nil
	}
	size := n.BitLen()/8 + 1
	v := new(big.Int).Set(n)
	if n.Sign() < 0 {
		v.Add(v, new(big.Int).Lsh(big.NewInt(1), uint(8*size)))
	}
	b := v.FillBytes(make([]byte, size))
	slices.Reverse(b)
	if n.Sign() < 0 && size > 1 && b[size-1] == 0xff && b[size-2]&0x80 != 0 {
		b = b[:size-1]
	}
	return b
}

// float writes BINFLOAT.
func (e *pickleEncoder) float(f float64) {
	e.buf = append(e.buf, opBinFloat)
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
}

// complex writes builtins.complex(real, imag).
func (e *pickleEncoder) complex(c complex128) {
	e.global("builtins", "complex")
	e.float(real(c))
	e.float(imag(c))
	e.buf = append(e.buf, opTuple2, opReduce)
}

// global writes GLOBAL module name.
func (e *pickleEncoder) global(module, name string) {
	e.buf = append(e.buf, opGlobal)
	e.buf = append(e.buf, module...)
	e.buf = append(e.buf, '\n')
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, '\n')
}

// string writes s as str or, if it is not valid UTF-8 (as a bytes dict key
// decodes to), as bytes.
func (e *pickleEncoder) string(s string) {
	if utf8.ValidString(s) {
		e.counted(opShortBinUni, opBinUnicode, opBinUnicode8, len(s))
	} else {
		e.counted(opShortBinBytes, opBinBytes, opBinBytes8, len(s))
	}
	e.buf = append(e.buf, s...)
}

// bytes writes b as bytes.
func (e *pickleEncoder) bytes(b []byte) {
	e.counted(opShortBinBytes, opBinBytes, opBinBytes8, len(b))
	e.buf = append(e.buf, b...)
}

// counted writes the opcode and length for n bytes of data: short, for
// lengths below 256, 4-byte or 8-byte.
func (e *pickleEncoder) counted(short, four, eight byte, n int) {
	switch {
	case n < 256:
		e.buf = append(e.buf, short, byte(n))
	case uint64(n) <= math.MaxUint32:
		e.buf = append(e.buf, four)
		e.buf = binary.LittleEndian.AppendUint32(e.buf, uint32(n))
	default:
		e.buf = append(e.buf, eight)
		e.buf = binary.LittleEndian.AppendUint64(e.buf, uint64(n))
	}
}

// list writes a slice or array as a list.
func (e *pickleEncoder) list(rv reflect.Value, depth int) error {
	e.buf = append(e.buf, opEmptyList)
	return e.batches(rv.Len(), opAppends, func(i int) error {
		return e.reflect(rv.Index(i), depth+1)
	})
}

// batches writes n items with item, in batches between a MARK and op.
func (e *pickleEncoder) batches(n int, op byte, item func(int) error) error {
	for start := 0; start < n; start += pickleBatch {
		e.buf = append(e.buf, opMark)
		for i := start; i < min(n, start+pickleBatch); i++ {
			if err := item(i); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, op)
	}
	return nil
}

// set writes s as a set.
func (e *pickleEncoder) set(s PickleSet, depth int) error {
	if s == nil {
		e.buf = append(e.buf, opNone)
		return nil
	}
	if err := checkDepth(depth); err != nil {
		return err
	}
	e.buf = append(e.buf, opEmptySet)
	return e.batches(len(s), opAddItems, func(i int) error {
		if !hashable(reflect.ValueOf(s[i])) {
			return fmt.Errorf("codec: pickle: set item of type %T is not hashable", s[i])
		}
		return e.value(s[i], depth+1)
	})
}

// hashable reports whether rv encodes to a value Python can hash, as set
// items and dict keys must be.
func hashable(rv reflect.Value) bool {
	rv, ok := follow(rv)
	if !ok {
		return false
	}
	if !rv.IsValid() {
		return true // None
	}
	switch t := rv.Type(); {
	case t == pickleObjectType || t == bigIntType || t == bigIntPtrType || t == timeType:
		return true
	case t == pickleSetType:
		return false
	}
	switch rv.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Slice, reflect.Array:
		return rv.Type().Elem().Kind() == reflect.Uint8 // bytes
	}
	return false
}

// follow returns what a chain of pointers and interfaces leads to: an
// invalid Value for nil, and a *big.Int as is. It reports false for chains
// longer than maxPickleDepth, which may be cycles.
func follow(rv reflect.Value) (reflect.Value, bool) {
	for hops := 0; rv.Kind() == reflect.Interface || rv.Kind() == reflect.Pointer; hops++ {
		switch {
		case rv.IsNil():
			return reflect.Value{}, true
		case rv.Type() == bigIntPtrType:
			return rv, true
		case hops == maxPickleDepth:
			return rv, false
		}
		rv = rv.Elem()
	}
	return rv, true
}

// dict writes a map as a dict, in sorted key order so that equal maps give
// equal pickles.
func (e *pickleEncoder) dict(rv reflect.Value, depth int) error {
	keys := rv.MapKeys()
	for _, k := range keys {
		if !hashable(k) {
			return fmt.Errorf("codec: pickle: map key of type %v", k.Type())
		}
	}
	slices.SortFunc(keys, compareKeys)
	e.buf = append(e.buf, opEmptyDict)
	return e.batches(len(keys), opSetItems, func(i int) error {
		if err := e.reflect(keys[i], depth+1); err != nil {
			return err
		}
		return e.reflect(rv.MapIndex(keys[i]), depth+1)
	})
}

// compareKeys orders map keys: by kind of value, then by value.
func compareKeys(a, b reflect.Value) int {
	ra, va := keyRank(a)
	rb, vb := keyRank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch x := va.(type) {
	case int64:
		return cmp.Compare(x, vb.(int64))
	case uint64:
		return cmp.Compare(x, vb.(uint64))
	case float64:
		return cmp.Compare(x, vb.(float64))
	case string:
		return cmp.Compare(x, vb.(string))
	}
	return 0
}

// keyRank returns a rank for the kind of key k and a comparable form of
// its value.
func keyRank(k reflect.Value) (int, any) {
	k, _ = follow(k)
	if !k.IsValid() {
		return 0, nil
	}
	switch k.Kind() {
	case reflect.Bool:
		if k.Bool() {
			return 1, int64(1)
		}
		return 1, int64(0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return 2, k.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return 3, k.Uint()
	case reflect.Float32, reflect.Float64:
		return 4, k.Float()
	case reflect.String:
		return 5, k.String()
	}
	return 6, fmt.Sprint(k.Interface())
}

// object writes o as a call of its class with its arguments, by NEWOBJ.
func (e *pickleEncoder) object(o PickleObject, depth int) error {
	if !validPickleName(o.Module) || !validPickleName(o.Name) {
		return fmt.Errorf("codec: pickle: invalid class name %q.%q", clipName(o.Module), clipName(o.Name))
	}
	if err := checkDepth(depth); err != nil {
		return err
	}
	args, err := e.objectArgs(o)
	if err != nil {
		return err
	}
	e.global(o.Module, o.Name)
	if err := e.tuple(args, depth); err != nil {
		return err
	}
	e.buf = append(e.buf, opNewObj)
	return nil
}

// objectArgs returns o.Args or, if nil, o.Fields in the order AllowClass
// gave for the class.
func (e *pickleEncoder) objectArgs(o PickleObject) ([]any, error) {
	if o.Args != nil || len(o.Fields) == 0 {
		return o.Args, nil
	}
	c := e.codec.class(pickleName{o.Module, o.Name})
	if c == nil || c.fields == nil {
		return nil, fmt.Errorf("codec: pickle: fields of %s.%s have no known order: use Args or AllowClass", o.Module, o.Name)
	}
	args := make([]any, len(c.fields))
	for i, f := range c.fields {
		v, ok := o.Fields[f]
		if !ok {
			return nil, fmt.Errorf("codec: pickle: %s.%s lacks field %q", o.Module, o.Name, f)
		}
		args[i] = v
	}
	if len(o.Fields) != len(c.fields) {
		return nil, fmt.Errorf("codec: pickle: %s.%s has fields AllowClass did not name", o.Module, o.Name)
	}
	return args, nil
}

// tuple writes items as a tuple.
func (e *pickleEncoder) tuple(items []any, depth int) error {
	if len(items) == 0 {
		e.buf = append(e.buf, opEmptyTuple)
		return nil
	}
	if len(items) > 3 {
		e.buf = append(e.buf, opMark)
	}
	for _, it := range items {
		if err := e.value(it, depth+1); err != nil {
			return err
		}
	}
	if len(items) > 3 {
		e.buf = append(e.buf, opTuple)
	} else {
		e.buf = append(e.buf, opTuple1+byte(len(items))-1)
	}
	return nil
}
