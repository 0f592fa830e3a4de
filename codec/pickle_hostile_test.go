package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/big"
	"runtime"
	"strings"
	"testing"
)

// le32 returns n as a 4-byte little-endian length.
func le32(n uint32) string { return string(binary.LittleEndian.AppendUint32(nil, n)) }

// le64 returns n as an 8-byte little-endian length.
func le64(n uint64) string { return string(binary.LittleEndian.AppendUint64(nil, n)) }

// memoBomb returns a pickle of 41 nested lists, each holding the one below
// twice through the memo: a few hundred bytes that describe 2**41 values.
func memoBomb() string {
	var b strings.Builder
	b.WriteString("\x80\x02]K\x01aq\x00")
	for i := 1; i <= 40; i++ {
		b.WriteString("](h" + string(rune(i-1)) + "h" + string(rune(i-1)) + "eq" + string(rune(i)))
	}
	return b.String() + "."
}

// hostilePickles are inputs Unmarshal must refuse, with the error they
// must match besides ErrMalformed, if any.
var hostilePickles = []struct {
	name string
	data string
	also error
}{
	{"empty", "", nil},
	{"no STOP", "K\x01", nil},
	{"truncated BININT", "J\x01\x00", nil},
	{"BINUNICODE claims 4 GiB", "X\xff\xff\xff\xff.", nil},
	{"BINUNICODE8 claims 2**64", "\x8d" + le64(1<<64-1) + ".", nil},
	{"BINBYTES claims 4 GiB", "B\xff\xff\xff\xff.", nil},
	{"BINBYTES8 claims 4 GiB", "\x8e" + le64(1<<32) + ".", nil},
	{"BYTEARRAY8 claims 2**62", "\x96" + le64(1<<62) + ".", nil},
	{"BINSTRING negative", "T\xff\xff\xff\xff.", nil},
	{"FRAME claims 2**63", "\x80\x04\x95" + le64(1<<63-1) + "N.", nil},
	{"LONG4 claims 2 GiB", "\x8b\xff\xff\xff\x7f.", nil},
	{"LONG4 negative", "\x8b\xff\xff\xff\xff.", nil},
	{"LONG4 too long", "\x8b" + le32(maxPickleIntBytes+1) + strings.Repeat("\x01", maxPickleIntBytes+1) + ".", nil},
	{"LONG too many digits", "L" + strings.Repeat("1", maxPickleIntDigits+1) + "L\n.", nil},
	{"MARKs too deep", strings.Repeat("(", maxPickleDepth+1) + "N.", ErrTooDeep},
	{"lists too deep", strings.Repeat("]", maxPickleDepth+1) + strings.Repeat("a", maxPickleDepth) + ".", ErrTooDeep},
	{"recursive list", "\x80\x02]q\x00h\x00a.", ErrTooDeep},
	{"recursive dict", "\x80\x02}q\x00K\x01h\x00s.", ErrTooDeep},
	{"dict as its own key", "}q\x00h\x00Ns.", nil},
	{"tuple key", "}K\x01\x85Ns.", nil},
	{"memo bomb", memoBomb(), nil},
	{"undefined memo key", "h\x05.", nil},
	{"undefined text memo key", "Ng-1\n.", nil},
	{"negative PUT", "Np-1\n.", nil},
	{"bad PUT", "Np x\n.", nil},
	{"odd DICT", "(K\x01d.", nil},
	{"odd SETITEMS", "}(K\x01u.", nil},
	{"POP_MARK without MARK", "1.", nil},
	{"POP on empty stack", "0.", nil},
	{"STOP on empty stack", ".", nil},
	{"STOP under a MARK", "N(.", nil},
	{"TUPLE3 short", "NN\x87.", nil},
	{"APPEND to a dict", "}Na.", nil},
	{"APPEND to a set", "\x8fNa.", nil},
	{"APPEND to a frozenset", "(\x91Na.", nil},
	{"ADDITEMS to a list", "](N\x90.", nil},
	{"SETITEM on a list", "]NNs.", nil},
	{"OrderedDict with a bytes key", "ccollections\nOrderedDict\n)RC\x01aNs.", nil},
	{"trailing bytes", "N.x", nil},
	{"protocol 6", "\x80\x06N.", nil},
	{"opcode 0xff", "\xff", nil},
	{"PERSID", "Pfoo\n.", nil},
	{"BINPERSID", "NQ.", nil},
	{"EXT1", "\x82\x01.", nil},
	{"NEWOBJ_EX", "cbuiltins\nset\n)}\x92.", nil},
	{"NEXT_BUFFER", "\x97.", nil},
	{"READONLY_BUFFER", "N\x98.", nil},
	{"frame inside a frame", "\x80\x04\x95" + le64(10) + "\x95" + le64(1) + "N.", nil},
	{"read past a frame", "\x95" + le64(2) + "J\x01\x00\x00\x00.", nil},
	{"line past a frame", "\x95" + le64(2) + "I1\n.", nil},
	{"UNICODE bad escape", "V\\u12\n.", nil},
	{"UNICODE lone surrogate", "V\\ud800\n.", nil},
	{"UNICODE lone low surrogate", "V\\udc00x\n.", nil},
	{"UNICODE escape out of range", "V\\U00110000\n.", nil},
	{"BINUNICODE not UTF-8", "X\x01\x00\x00\x00\xff.", nil},
	{"STRING unquoted", "Sabc\n.", nil},
	{"STRING bad \\x", "S'\\x4'\n.", nil},
	{"STRING trailing backslash", "S'\\'\n.", nil},
	{"INT too big", "I99999999999999999999\n.", nil},
	{"FLOAT not a number", "Fx\n.", nil},
	{"STACK_GLOBAL from non-strings", "NN\x93.", nil},
	{"OBJ without a class", "(o.", nil},
	{"REDUCE of None", "N)R.", nil},
	{"NEWOBJ of a builtin", "cbuiltins\nset\n)\x81.", nil},
	{"set of an int", "cbuiltins\nset\nK\x01\x85R.", nil},
	{"encode of a non-latin-1 string", "c_codecs\nencode\nX\x03\x00\x00\x00\xe2\x82\xacX\x06\x00\x00\x00latin1\x86R.", nil},
	{"encode to rot13", "c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00rot13\x86R.", nil},
	{"complex of a string", "cbuiltins\ncomplex\nX\x01\x00\x00\x001\x85R.", nil},
	{"a class as a value", "cbuiltins\nset\n.", nil},
	{"an allowed class as a value", "capp\nPoint\n.", nil},
	{"BUILD with a list state", "capp\nPoint\n)\x81]b.", nil},
	{"BUILD on a big list", "](" + strings.Repeat("K\x01", 2000) + "e}b.", nil},
	{"NEWOBJ of a big list", "](" + strings.Repeat("K\x01", 2000) + "e)\x81.", nil},
	{"GLOBAL os.system", "cos\nsystem\n(S'echo hi'\ntR.", ErrPickleGlobal},
	{"STACK_GLOBAL os.system", "\x80\x04\x8c\x02os\x8c\x06system\x93.", ErrPickleGlobal},
	{"STACK_GLOBAL through the memo", "\x80\x04\x8c\x08builtins\x94\x8c\x03set\x94\x93\x94h\x00\x8c\x04eval\x93.", ErrPickleGlobal},
	{"INST os.system", "(S'ls'\nios\nsystem\n.", ErrPickleGlobal},
	{"__builtin__.object", "c__builtin__\nobject\n.", ErrPickleGlobal},
	{"copy_reg._reconstructor", "ccopy_reg\n_reconstructor\n.", ErrPickleGlobal},
	{"builtins.eval", "cbuiltins\neval\n(X\x01\x00\x00\x001tR.", ErrPickleGlobal},
	{"builtins.getattr", "cbuiltins\ngetattr\n.", ErrPickleGlobal},
	{"dotted name", "\x80\x04\x8c\x0bcollections\x8c\x14OrderedDict.fromkeys\x93.", ErrPickleGlobal},
	{"subprocess.Popen", "csubprocess\nPopen\n.", ErrPickleGlobal},
	{"class of another module", "capp.other\nPoint\n.", ErrPickleGlobal},
}

// newHostileTestPickle returns the codec the hostile tests attack.
func newHostileTestPickle() *PickleCodec {
	c := newTestPickle()
	c.AllowClass("app", "Point", nil)
	return c
}

// TestPickleHostile checks that hostile input fails with the right errors.
func TestPickleHostile(t *testing.T) {
	c := newHostileTestPickle()
	for _, tt := range hostilePickles {
		t.Run(tt.name, func(t *testing.T) {
			for _, target := range []any{new(any), new(msg), new(map[string]any)} {
				err := c.Unmarshal([]byte(tt.data), target)
				if !errors.Is(err, ErrMalformed) || tt.also != nil && !errors.Is(err, tt.also) {
					t.Fatalf("Unmarshal into %T = %v, want ErrMalformed and %v", target, err, tt.also)
				}
				if !strings.HasPrefix(err.Error(), "codec: pickle: ") || len(err.Error()) > 300 {
					t.Fatalf("error message %q", err)
				}
			}
		})
	}
}

// TestPickleHugeClaimsDoNotAllocate checks that lengths the input cannot
// back, and many small opcodes that each make gopickle allocate, fail
// before anything large is allocated.
func TestPickleHugeClaimsDoNotAllocate(t *testing.T) {
	c := NewPickle()
	for name, in := range map[string]string{
		"BINUNICODE":  "X\xff\xff\xff\xff.",
		"BINBYTES8":   "\x8e" + le64(1<<40) + ".",
		"FRAME":       "\x95" + le64(1<<40) + "N.",
		"empty dicts": strings.Repeat("}", 400_000) + ".",
		"MEMOIZE":     "N" + strings.Repeat("\x94", maxPickleMemo+1) + ".",
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var v any
		err := c.Unmarshal([]byte(in), &v)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
		if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 64 {
			t.Errorf("%s: allocated %d MiB", name, mb)
		}
	}
}

// TestPickleEdgeCases decodes unusual but valid pickles as Python does.
func TestPickleEdgeCases(t *testing.T) {
	c := newHostileTestPickle()
	for _, tt := range []struct {
		name string
		data string
		want any
	}{
		{"empty LONG1", "\x80\x02\x8a\x00.", int64(0)},
		{"empty LONG4", "\x8b\x00\x00\x00\x00.", int64(0)},
		{"non-minimal LONG1", "\x8a\x09\x05\x00\x00\x00\x00\x00\x00\x00\x00.", int64(5)},
		{"LONG text", "L-18446744073709551616L\n.", bigInt("-18446744073709551616")},
		{"LONG text small", "L12\n.", int64(12)},
		{"INT bools", "(I01\nI00\nl.", []any{true, false}},
		{"read after a used-up frame", "\x95" + le64(1) + "J\x01\x00\x00\x00.", int64(1)},
		{"frames in a row", "\x95" + le64(1) + "N\x95" + le64(1) + ".", nil},
		{"deepest MARKs", strings.Repeat("(", maxPickleDepth) + "N.", nil},
		{"deepest lists", strings.Repeat("]", maxPickleDepth) + strings.Repeat("a", maxPickleDepth-1) + ".", nest(maxPickleDepth)},
		{"STRING escapes", "S'a\\x41\\n\\'b\\101\\q'\n.", "aA\n'bA\\q"},
		{"STRING double quotes", "S\"it's\"\n.", "it's"},
		{"SHORT_BINSTRING", "U\x02hi.", "hi"},
		{"BINSTRING", "T\x02\x00\x00\x00hi.", "hi"},
		{"UNICODE surrogate pair", "V\\ud83d\\ude00\n.", "😀"},
		{"UNICODE even backslashes", "V\\\\u0041\n.", "\\\\u0041"},
		{"UNICODE latin-1 bytes", "V\xe9\xff\n.", "éÿ"},
		{"POP_MARK", "(K\x01K\x021K\x03.", int64(3)},
		{"POP", "K\x01K\x020.", int64(1)},
		{"POP of a MARK", "K\x01(0.", int64(1)},
		{"DUP", "]2K\x01a.", []any{int64(1)}},
		{"text memo", "(lp0\nI1\nag0\n.", []any{int64(1)}},
		{"LONG_BINPUT", "Nr\x00\x00\x00\x80j\x00\x00\x00\x80.", nil},
		{"dict with later duplicate", "(K\x01K\x02K\x01K\x03d.", map[any]any{int64(1): int64(3)}},
		{"set with bytes items", "\x80\x04\x8f(C\x01aC\x01b\x90.", []any{[]byte("a"), []byte("b")}},
		{"frozenset in a set", "\x8f((K\x01\x91\x90.", []any{[]any{int64(1)}}},
		{"ADDITEMS to set()", "cbuiltins\nset\n)R(K\x01\x90.", []any{int64(1)}},
		{"bytearray of latin-1", "cbuiltins\nbytearray\nX\x02\x00\x00\x00\xc3\xa9X\x07\x00\x00\x00latin-1\x86R.", []byte{0xe9}},
		{"bytes via encode utf-8", "c_codecs\nencode\nX\x02\x00\x00\x00\xc3\xa9X\x05\x00\x00\x00utf-8\x86R.", []byte{0xc3, 0xa9}},
		{"complex from ints", "cbuiltins\ncomplex\nK\x01K\x02\x86R.", complex(1, 2)},
		{"complex()", "cbuiltins\ncomplex\n)R.", complex(0, 0)},
		{"OBJ", "(capp\nPoint\nK\x01o.", PickleObject{Module: "app", Name: "Point", Args: []any{int64(1)}}},
		{"INST", "(K\x01iapp\nPoint\n.", PickleObject{Module: "app", Name: "Point", Args: []any{int64(1)}}},
		{"REDUCE of a class", "capp\nPoint\n)R.", PickleObject{Module: "app", Name: "Point", Args: []any{}}},
		{"STOP leaves the stack", "K\x01(K\x02.", int64(2)},
		{"big dict key", "}\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7fNs.", map[any]any{int64(1<<63 - 1): nil}},
		{"uint64 dict key", "}\x8a\x09\xff\xff\xff\xff\xff\xff\xff\xff\x00Ns.", map[any]any{uint64(1<<64 - 1): nil}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got any
			if err := c.Unmarshal([]byte(tt.data), &got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !pickleEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// nest returns n nested empty lists.
func nest(n int) any {
	v := []any{}
	for range n - 1 {
		v = []any{v}
	}
	return v
}

// TestPickleHugeIntKeyRefused checks that a dict key beyond 64 bits is
// refused rather than kept as a pointer, which would not compare by value.
func TestPickleHugeIntKeyRefused(t *testing.T) {
	key := append([]byte{0x8a, 9}, bytes.Repeat([]byte{0xff}, 8)...)
	key = append(key, 0x01) // 2**65 - 1
	in := append(append([]byte{'}'}, key...), 'N', 's', '.')
	var v any
	if err := NewPickle().Unmarshal(in, &v); !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, %v", v, err)
	}
	var n any
	if err := NewPickle().Unmarshal(append(key, '.'), &n); err != nil || n.(*big.Int).BitLen() != 65 {
		t.Fatalf("as a value: %v, %v", n, err)
	}
}
