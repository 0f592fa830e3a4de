package codec

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Pickle is the wire name of the pickle codec.
const Pickle = "pickle"

// ErrPickleGlobal is returned when a pickle refers to a Python global (a
// class or function) that is not on the codec's allow-list. An error that
// matches ErrPickleGlobal also matches ErrMalformed.
var ErrPickleGlobal = errors.New("codec: pickle: global not allowed")

// Limits on what Unmarshal accepts. Pickles from Python stay far below them.
const (
	// maxPickleDepth is how deeply containers may nest, and how many MARK
	// opcodes may be open at once. It matches the msgpack codec.
	maxPickleDepth = 64
	// maxPickleMemo is how many memo entries one pickle may define.
	maxPickleMemo = 1 << 20
	// maxPickleIntBytes bounds LONG1 and LONG4 integers: gopickle decodes
	// them in time quadratic in their length.
	maxPickleIntBytes = 2048
	// maxPickleIntDigits bounds decimal LONG integers, as Python's own
	// default int_max_str_digits does.
	maxPickleIntDigits = 4300
	// maxPickleNameLen bounds the module and class names of a global.
	maxPickleNameLen = 256
	// pickleBudgetBase is the estimated memory, in bytes, that gopickle may
	// allocate beyond four times the input size: it bounds the objects that
	// one-byte opcodes make it allocate.
	pickleBudgetBase = 64 << 20
	// pickleTreeBase and pickleTreeFactor bound, in estimated bytes, the
	// plain value that Unmarshal builds: a memo reference copies what it
	// refers to, so a few bytes can describe a huge tree. Pickles from
	// Python share memoized dict keys and the like, which expands them
	// some 20 times.
	pickleTreeBase   = 4 << 20
	pickleTreeFactor = 32
)

// pickleProtocol is the protocol Marshal writes. Python 3.4 and later read
// it; it has opcodes for sets and short strings that protocol 3 lacks.
const pickleProtocol = 4

// PickleCodec encodes and decodes Python pickles, so Python processes can
// use pickle as their native serialization. Create one with NewPickle; it
// is safe for concurrent use.
//
// Unmarshal never runs Python code: it decodes with gopickle and resolves
// only allow-listed globals. Built in are builtins.set, builtins.frozenset,
// builtins.bytearray, builtins.bytes (to build an empty bytes object),
// builtins.complex, _codecs.encode and collections.OrderedDict, with the
// Python 2 names (__builtin__.set...) that Python writes at protocols 0-2.
// AllowClass adds classes of the application. Any other global fails with
// an error matching ErrPickleGlobal.
//
// Decoding into *any yields: nil, bool, int64 (uint64 above math.MaxInt64,
// *big.Int beyond uint64), float64, string, []byte (for bytes and
// bytearray), []any (for list, tuple, set and frozenset, in pickle order),
// map[string]any (map[any]any when some key is not a string; bytes keys are
// taken as strings), complex128 and PickleObject. Dict keys must be None,
// bool, numbers that fit 64 bits or strings: tuple keys, for example, are
// refused. *map[string]any, *[]any and *PickleObject are filled with these
// values too, a PickleObject going into *map[string]any as its Fields and
// into *[]any as its Args. Other targets are filled as the msgpack codec
// fills them from those values, with a PickleObject taken as its Fields
// (its Args if it has none), a complex number as [real, imag] and a big
// integer as its decimal string, which *big.Int fields accept.
//
// Python pickles a namedtuple through copy_reg._reconstructor at protocols
// 0 and 1, a global this codec does not resolve: use protocol 2 or later.
//
// Marshal writes protocol 4; see its documentation for the mapping.
type PickleCodec struct {
	mu      sync.RWMutex
	classes map[pickleName]*pickleClass
}

var _ Codec = (*PickleCodec)(nil)

// NewPickle returns a pickle codec that allows no application classes yet.
func NewPickle() *PickleCodec {
	return &PickleCodec{classes: make(map[pickleName]*pickleClass)}
}

// Name returns "pickle".
func (*PickleCodec) Name() string { return Pickle }

// PickleObject is an instance of a Python class allowed with AllowClass,
// such as a namedtuple. Unmarshal fills Args with the arguments the class
// was called with and, when AllowClass named the fields, Fields with the
// same values by field name, plus any attributes the pickle set afterwards.
// Marshal writes a PickleObject as a call of module.name with Args, or with
// Fields in the order AllowClass gave when Args is nil, so Python rebuilds
// the instance.
type PickleObject struct {
	Module string         `json:"module" msgpack:"module"`
	Name   string         `json:"name" msgpack:"name"`
	Fields map[string]any `json:"fields,omitempty" msgpack:"fields,omitempty"`
	Args   []any          `json:"args,omitempty" msgpack:"args,omitempty"`
}

// PickleSet is a Go value that Marshal writes as a Python set. Its items
// must be hashable in Python: not slices, maps or sets.
type PickleSet []any

// pickleName is a Python global: a module and a name within it.
type pickleName struct{ module, name string }

func (n pickleName) String() string { return clipName(n.module) + "." + clipName(n.name) }

// pickleClass is an application class allowed with AllowClass.
type pickleClass struct {
	pickleName
	fields []string // nil when the application named none
}

// AllowClass lets Unmarshal resolve the Python class module.name, which
// decodes to a PickleObject. Fields, if not nil, are the names of the
// positional arguments the class takes, as for a namedtuple: instances must
// then have exactly that many arguments. Calling AllowClass again for the
// same class replaces its fields.
//
// AllowClass panics if module or name is empty, too long or contains a
// newline, if fields repeats or has an empty name, or if the class is one
// of the built-in globals, since those are programming errors.
func (p *PickleCodec) AllowClass(module, name string, fields []string) {
	n := pickleName{module, name}
	if err := checkClass(n, fields); err != nil {
		panic(err)
	}
	c := &pickleClass{pickleName: n, fields: slices.Clone(fields)}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.classes[n] = c
}

// checkClass reports why n and fields cannot be registered, if they cannot.
func checkClass(n pickleName, fields []string) error {
	for _, s := range []string{n.module, n.name} {
		if !validPickleName(s) {
			return fmt.Errorf("codec: pickle: AllowClass: invalid name %q", clipName(s))
		}
	}
	if _, ok := pickleBuiltins[n]; ok || isHardwired(n) {
		return fmt.Errorf("codec: pickle: AllowClass: %v is built in", n)
	}
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if f == "" || seen[f] {
			return fmt.Errorf("codec: pickle: AllowClass: empty or repeated field %q", f)
		}
		seen[f] = true
	}
	return nil
}

// validPickleName reports whether s can be a module or class name in a
// GLOBAL opcode: 1 to maxPickleNameLen bytes of UTF-8 without newlines.
func validPickleName(s string) bool {
	return s != "" && len(s) <= maxPickleNameLen && utf8.ValidString(s) &&
		!strings.ContainsAny(s, "\n\r\x00")
}

// class returns the application class registered as n, or nil.
func (p *PickleCodec) class(n pickleName) *pickleClass {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.classes[n]
}

// clipName bounds a name from the wire before it goes into an error.
func clipName(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// pickleError is a decoding failure. It matches ErrMalformed and, when it
// has one, its more specific cause ErrTooDeep or ErrPickleGlobal.
type pickleError struct {
	msg  string
	also error
}

func (e *pickleError) Error() string {
	if e.also == ErrPickleGlobal {
		return ErrPickleGlobal.Error() + ": " + e.msg
	}
	return "codec: pickle: " + e.msg
}

// Is makes every pickleError match ErrMalformed, and its cause if any.
func (e *pickleError) Is(target error) bool {
	return target == ErrMalformed || e.also != nil && target == e.also
}

// malformed returns a pickleError matching only ErrMalformed.
func malformed(format string, args ...any) error {
	return &pickleError{msg: fmt.Sprintf(format, args...)}
}

// globalNotAllowed returns the error for a global off the allow-list.
func globalNotAllowed(n pickleName) error {
	return &pickleError{msg: n.String(), also: ErrPickleGlobal}
}

// tooDeep returns the error for nesting beyond maxPickleDepth.
func tooDeep(where string) error {
	return &pickleError{
		msg:  fmt.Sprintf("nests more than %d levels %s", maxPickleDepth, where),
		also: ErrTooDeep,
	}
}
