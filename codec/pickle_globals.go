package codec

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/nlpodyssey/gopickle/types"
)

// pickleBuiltin is a built-in global that Unmarshal resolves.
type pickleBuiltin uint8

const (
	builtinSet pickleBuiltin = iota + 1
	builtinFrozenSet
	builtinBytearray
	builtinBytes
	builtinComplex
	builtinEncode
	builtinOrderedDict
)

// pickleBuiltins is the built-in part of the allow-list. Python writes the
// __builtin__ names at protocols 0 to 2; the objects are the same.
var pickleBuiltins = map[pickleName]pickleBuiltin{
	{"builtins", "set"}:            builtinSet,
	{"__builtin__", "set"}:         builtinSet,
	{"builtins", "frozenset"}:      builtinFrozenSet,
	{"__builtin__", "frozenset"}:   builtinFrozenSet,
	{"builtins", "bytearray"}:      builtinBytearray,
	{"__builtin__", "bytearray"}:   builtinBytearray,
	{"builtins", "bytes"}:          builtinBytes,
	{"__builtin__", "bytes"}:       builtinBytes,
	{"builtins", "complex"}:        builtinComplex,
	{"__builtin__", "complex"}:     builtinComplex,
	{"_codecs", "encode"}:          builtinEncode,
	{"collections", "OrderedDict"}: builtinOrderedDict,
}

// builtinNames names each builtin for error messages.
var builtinNames = [...]string{
	builtinSet:         "builtins.set",
	builtinFrozenSet:   "builtins.frozenset",
	builtinBytearray:   "builtins.bytearray",
	builtinBytes:       "builtins.bytes",
	builtinComplex:     "builtins.complex",
	builtinEncode:      "_codecs.encode",
	builtinOrderedDict: "collections.OrderedDict",
}

// isHardwired reports whether gopickle resolves n itself, without asking
// FindClass. The scan must refuse these unless they are on the allow-list.
func isHardwired(n pickleName) bool {
	switch n {
	case pickleName{"collections", "OrderedDict"},
		pickleName{"__builtin__", "object"},
		pickleName{"copy_reg", "_reconstructor"}:
		return true
	}
	return false
}

// resolve looks n up in the allow-list. It returns the builtin n names,
// or 0 for an application class.
func (p *PickleCodec) resolve(n pickleName) (pickleBuiltin, bool) {
	if b, ok := pickleBuiltins[n]; ok {
		return b, true
	}
	return 0, p.class(n) != nil
}

// findClass is gopickle's FindClass callback. gopickle calls it for every
// global except the hardwired ones, which the scan has already vetted.
func (p *PickleCodec) findClass(module, name string) (any, error) {
	n := pickleName{module, name}
	if b, ok := pickleBuiltins[n]; ok {
		if b == builtinOrderedDict {
			return &types.OrderedDictClass{}, nil
		}
		return builtinCallable{b}, nil
	}
	if c := p.class(n); c != nil {
		return c, nil
	}
	return nil, globalNotAllowed(n)
}

// builtinCallable stands in for an allowed Python builtin in gopickle's
// machine. It builds Go values and never runs Python code.
type builtinCallable struct{ b pickleBuiltin }

var _ types.Callable = builtinCallable{}

// Call applies the builtin to args, as REDUCE, INST and OBJ do.
func (c builtinCallable) Call(args ...any) (any, error) {
	switch c.b {
	case builtinSet, builtinFrozenSet:
		return callSet(args)
	case builtinBytearray:
		return callBytearray(args)
	case builtinBytes:
		return callBytes(args)
	case builtinComplex:
		return callComplex(args)
	case builtinEncode:
		return callEncode(args)
	}
	return nil, malformed("%s cannot be called", builtinNames[c.b])
}

// callSet builds a set or frozenset from an optional list or tuple. Sets
// become lists, in the order the pickle gives their items.
func callSet(args []any) (any, error) {
	if len(args) == 0 {
		return types.NewList(), nil
	}
	if len(args) != 1 {
		return nil, malformed("set takes at most 1 argument, got %d", len(args))
	}
	switch it := args[0].(type) {
	case *types.List:
		return types.NewListFromSlice(slices.Clone(*it)), nil
	case *types.Tuple:
		return types.NewListFromSlice(slices.Clone(*it)), nil
	}
	return nil, malformed("set from %T", args[0])
}

// callBytearray builds a bytearray from nothing, bytes, or a string and an
// encoding.
func callBytearray(args []any) (any, error) {
	if len(args) == 1 {
		switch b := args[0].(type) {
		case []byte:
			return types.NewByteArrayFromSlice(slices.Clone(b)), nil
		case *types.ByteArray:
			return types.NewByteArrayFromSlice(slices.Clone(*b)), nil
		}
	}
	b, err := callBytes(args)
	if err != nil {
		return nil, err
	}
	return types.NewByteArrayFromSlice(b.([]byte)), nil
}

// callBytes builds bytes from nothing (Python pickles b"" at protocols 0 to
// 2 as bytes()) or from a string and an encoding.
func callBytes(args []any) (any, error) {
	if len(args) == 0 {
		return []byte{}, nil
	}
	return callEncode(args)
}

// callComplex builds a complex number from up to two real numbers.
func callComplex(args []any) (any, error) {
	if len(args) > 2 {
		return nil, malformed("complex takes at most 2 arguments, got %d", len(args))
	}
	var parts [2]float64
	for i, a := range args {
		f, ok := pickleReal(a)
		if !ok {
			return nil, malformed("complex from %T", a)
		}
		parts[i] = f
	}
	return complex(parts[0], parts[1]), nil
}

// pickleReal returns a decoded int or float as a float64.
func pickleReal(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case bool:
		if n {
			return 1, true
		}
		return 0, true
	case *big.Int:
		f, _ := new(big.Float).SetInt(n).Float64()
		return f, true
	}
	return 0, false
}

// callEncode is _codecs.encode(str, encoding[, errors]), with which Python
// pickles bytes at protocols 0 to 2: a string of code points below 256 and
// the encoding "latin1". UTF-8 is accepted too.
func callEncode(args []any) (any, error) {
	if len(args) < 1 || len(args) > 3 {
		return nil, malformed("encode takes 1 to 3 arguments, got %d", len(args))
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, malformed("encode of %T", args[0])
	}
	enc, errs := "utf-8", "strict"
	if len(args) > 1 {
		enc, ok = args[1].(string)
	}
	if len(args) > 2 && ok {
		errs, ok = args[2].(string)
	}
	if !ok || errs != "strict" {
		return nil, malformed("encode with non-string or non-strict arguments")
	}
	return encodeString(s, enc)
}

// encodeString encodes s in the named encoding, latin-1 or UTF-8.
func encodeString(s, enc string) ([]byte, error) {
	switch strings.ReplaceAll(strings.ToLower(enc), "-", "_") {
	case "latin1", "latin_1", "iso8859_1", "iso_8859_1", "l1":
		return encodeLatin1(s)
	case "utf_8", "utf8":
		return []byte(s), nil
	}
	return nil, malformed("encode to unsupported encoding %q", clipName(enc))
}

// encodeLatin1 encodes s, which must be UTF-8 holding only code points
// below 256.
func encodeLatin1(s string) ([]byte, error) {
	b := make([]byte, 0, len(s))
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		if r > 0xff || r == utf8.RuneError && size == 1 {
			return nil, malformed("latin-1 encode of %q", s[:size])
		}
		b = append(b, byte(r))
		s = s[size:]
	}
	return b, nil
}

var (
	_ types.PyNewable = (*pickleClass)(nil)
	_ types.Callable  = (*pickleClass)(nil)
)

// PyNew creates an instance, as NEWOBJ does for namedtuples.
func (c *pickleClass) PyNew(args ...any) (any, error) {
	return &pickleInstance{class: c, args: args}, nil
}

// Call creates an instance, as REDUCE, INST and OBJ do.
func (c *pickleClass) Call(args ...any) (any, error) {
	return c.PyNew(args...)
}

// pickleInstance is an instance of an application class, as gopickle
// builds it; conversion turns it into a PickleObject.
type pickleInstance struct {
	class *pickleClass
	args  []any
	state any // from BUILD, nil if none
}

var _ types.PyStateSettable = (*pickleInstance)(nil)

// PySetState records the state BUILD gives; conversion checks it.
func (o *pickleInstance) PySetState(state any) error {
	o.state = state
	return nil
}

// String names the class, for error messages.
func (o *pickleInstance) String() string { return o.class.String() }

// errNotValue is returned when a pickle's result holds a class or function
// itself rather than something built from it.
func errNotValue(v any) error {
	return malformed("%s is not a value", describeGlobal(v))
}

// describeGlobal names a global object from gopickle's machine.
func describeGlobal(v any) string {
	switch g := v.(type) {
	case *pickleClass:
		return "class " + g.String()
	case builtinCallable:
		return builtinNames[g.b]
	case *types.OrderedDictClass:
		return builtinNames[builtinOrderedDict]
	}
	return fmt.Sprintf("%T", v)
}
