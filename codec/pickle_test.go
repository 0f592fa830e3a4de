package codec

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// newTestPickle returns a pickle codec that allows pyzmp's ServiceRequest
// namedtuple.
func newTestPickle() *PickleCodec {
	c := NewPickle()
	c.AllowClass("pyzmp.message", "ServiceRequest", []string{"service", "args", "kwargs"})
	return c
}

// bigInt parses a decimal integer for expected values.
func bigInt(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return n
}

// pickleEqual is reflect.DeepEqual, except that big integers compare by
// value.
func pickleEqual(a, b any) bool {
	if x, ok := a.(*big.Int); ok {
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	}
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		return ok && len(x) == len(y) && equalSlices(x, y)
	case map[string]any:
		y, ok := b.(map[string]any)
		return ok && equalMaps(x, y)
	case map[any]any:
		y, ok := b.(map[any]any)
		return ok && equalMaps(x, y)
	case PickleObject:
		y, ok := b.(PickleObject)
		return ok && x.Module == y.Module && x.Name == y.Name &&
			pickleEqual(x.Args, y.Args) && (x.Fields == nil) == (y.Fields == nil) && equalMaps(x.Fields, y.Fields)
	}
	return reflect.DeepEqual(a, b)
}

func equalSlices(x, y []any) bool {
	for i := range x {
		if !pickleEqual(x[i], y[i]) {
			return false
		}
	}
	return true
}

func equalMaps[K comparable](x, y map[K]any) bool {
	if len(x) != len(y) {
		return false
	}
	for k, v := range x {
		w, ok := y[k]
		if !ok || !pickleEqual(v, w) {
			return false
		}
	}
	return true
}

// rangeList returns [0, n) as decoded values.
func rangeList(n int) []any {
	s := make([]any, n)
	for i := range s {
		s[i] = int64(i)
	}
	return s
}

// fixtureValues holds what each fixture in testdata/pickle, written by
// gen.py there, decodes to. Fixtures named with a nil value are checked
// separately.
func fixtureValues() map[string]any {
	large := make(map[string]any, 1100)
	for i := range 1100 {
		large[strconv.Itoa(i)] = int64(i)
	}
	return map[string]any{
		"none":            nil,
		"true":            true,
		"false":           false,
		"int_small":       int64(7),
		"int_neg":         int64(-1),
		"int_byte":        int64(255),
		"int_short":       int64(65535),
		"int_i32min":      int64(math.MinInt32),
		"int_i32max":      int64(math.MaxInt32),
		"int_i64max":      int64(math.MaxInt64),
		"int_i64min":      int64(math.MinInt64),
		"int_u64":         uint64(1 << 63),
		"int_u64max":      uint64(math.MaxUint64),
		"int_big":         bigInt("18446744073709551616"),
		"int_bigneg":      bigInt("-1180591620717411303424"),
		"float":           0.1,
		"float_neg":       -2.5e300,
		"float_inf":       math.Inf(1),
		"str_empty":       "",
		"str_ascii":       "hello",
		"str_unicode":     "h\u00e9\u20ac\U0001f600",
		"str_escapes":     "\\ \n \r \x00 \x1a \\u0041 \\\\u0042",
		"str_long":        strings.Repeat("x", 300),
		"bytes_empty":     []byte{},
		"bytes":           []byte{0, 1, 0xfe, 0xff},
		"bytes_long":      slices.Repeat(byteRange(), 2),
		"bytearray_empty": []byte{},
		"bytearray":       []byte("\x00ab\xff"),
		"list_empty":      []any{},
		"list":            []any{int64(1), "a", nil, true, 2.5},
		"list_large":      rangeList(1200),
		"tuple_empty":     []any{},
		"tuple":           []any{int64(1), "two", []byte("3")},
		"tuple_long":      rangeList(5),
		"dict_empty":      map[string]any{},
		"dict":            map[string]any{"a": int64(1), "b": []any{int64(2), int64(3)}},
		"dict_intkeys":    map[any]any{int64(1): "a", int64(2): "b"},
		"dict_mixed": map[any]any{
			"a": int64(1), int64(2): "b", "k": int64(3), nil: int64(4), true: int64(5), 1.5: int64(6),
		},
		"dict_byteskeys":  map[string]any{"a": int64(1)},
		"dict_large":      large,
		"nested":          map[string]any{"l": []any{[]any{int64(1), []any{int64(2), map[string]any{"x": []any{int64(3)}}}}}, "s": map[string]any{"t": "u"}},
		"shared":          []any{[]any{int64(1)}, []any{int64(1)}},
		"set_empty":       []any{},
		"set":             []any{int64(1), int64(2), int64(3)},
		"set_bytes":       []any{[]byte("a")},
		"frozenset_empty": []any{},
		"frozenset":       []any{int64(4), int64(5)},
		"complex":         complex(1.5, -2),
		"complex_list":    []any{complex(0, 1), complex(0, 0)},
		"ordereddict":     map[string]any{"z": int64(1), "a": int64(2)},
		"namedtuple":      nil, // TestPickleNamedTuple
		"namedtuple_list": []any{
			serviceRequest("a", []byte{}, []byte{}),
			serviceRequest("b", []byte("1"), []byte("2")),
		},
	}
}

// byteRange returns the bytes 0 to 255.
func byteRange() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// serviceRequest returns a decoded pyzmp ServiceRequest.
func serviceRequest(service string, args, kwargs []byte) PickleObject {
	return PickleObject{
		Module: "pyzmp.message",
		Name:   "ServiceRequest",
		Fields: map[string]any{"service": service, "args": args, "kwargs": kwargs},
		Args:   []any{service, args, kwargs},
	}
}

// readFixture returns testdata/pickle/NAME_pP.pickle.
func readFixture(t *testing.T, name string, protocol int) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "pickle", fmt.Sprintf("%s_p%d.pickle", name, protocol)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPickleFixtures decodes pickles Python wrote, at every protocol.
func TestPickleFixtures(t *testing.T) {
	c := newTestPickle()
	for name, want := range fixtureValues() {
		if want == nil && name != "none" {
			continue
		}
		for p := range 6 {
			if strings.HasPrefix(name, "namedtuple") && p < 2 {
				continue // TestPickleNamedTupleOldProtocols
			}
			t.Run(fmt.Sprintf("%s/p%d", name, p), func(t *testing.T) {
				var got any
				if err := c.Unmarshal(readFixture(t, name, p), &got); err != nil {
					t.Fatalf("Unmarshal: %v", err)
				}
				if !pickleEqual(got, want) {
					t.Fatalf("got %#v\nwant %#v", got, want)
				}
			})
		}
	}
}

// TestPickleFixturesAllChecked fails if gen.py writes a fixture the test
// table does not know.
func TestPickleFixturesAllChecked(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "pickle", "*.pickle"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	values := fixtureValues()
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".pickle")
		name = name[:strings.LastIndex(name, "_p")]
		if _, ok := values[name]; !ok {
			t.Errorf("fixture %s has no expected value", f)
		}
	}
	if len(files) != 6*len(values) {
		t.Errorf("%d fixtures for %d values: run gen.py", len(files), len(values))
	}
}

// TestPickleNamedTuple decodes pyzmp's ServiceRequest, whose args and
// kwargs are pickles themselves.
func TestPickleNamedTuple(t *testing.T) {
	c := newTestPickle()
	for p := 2; p <= 5; p++ {
		var got any
		if err := c.Unmarshal(readFixture(t, "namedtuple", p), &got); err != nil {
			t.Fatalf("p%d: %v", p, err)
		}
		obj, ok := got.(PickleObject)
		if !ok || obj.Module != "pyzmp.message" || obj.Name != "ServiceRequest" || obj.Fields["service"] != "demo/add" {
			t.Fatalf("p%d: got %#v", p, got)
		}
		var args, kwargs any
		if err := c.Unmarshal(obj.Fields["args"].([]byte), &args); err != nil || !pickleEqual(args, []any{int64(1), int64(2)}) {
			t.Fatalf("p%d: args %#v, %v", p, args, err)
		}
		if err := c.Unmarshal(obj.Fields["kwargs"].([]byte), &kwargs); err != nil || !pickleEqual(kwargs, map[string]any{}) {
			t.Fatalf("p%d: kwargs %#v, %v", p, kwargs, err)
		}
		if !pickleEqual(obj.Args, []any{"demo/add", obj.Fields["args"], obj.Fields["kwargs"]}) {
			t.Fatalf("p%d: Args %#v", p, obj.Args)
		}
	}
}

// TestPickleNamedTupleIntoStruct fills a Go struct from a namedtuple's
// fields, by their json tags.
func TestPickleNamedTupleIntoStruct(t *testing.T) {
	type serviceRequest struct {
		Service string `json:"service"`
		Args    []byte `json:"args"`
		Kwargs  []byte `json:"kwargs"`
	}
	var req serviceRequest
	if err := newTestPickle().Unmarshal(readFixture(t, "namedtuple", 4), &req); err != nil {
		t.Fatal(err)
	}
	if req.Service != "demo/add" || len(req.Args) == 0 || len(req.Kwargs) == 0 {
		t.Fatalf("got %+v", req)
	}
	var obj PickleObject
	if err := newTestPickle().Unmarshal(readFixture(t, "namedtuple", 3), &obj); err != nil || obj.Fields["service"] != "demo/add" {
		t.Fatalf("into PickleObject: %+v, %v", obj, err)
	}
}

// TestPickleNamedTupleNotAllowed checks that a class needs AllowClass.
func TestPickleNamedTupleNotAllowed(t *testing.T) {
	var v any
	err := NewPickle().Unmarshal(readFixture(t, "namedtuple", 4), &v)
	if !errors.Is(err, ErrPickleGlobal) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("got %v, want ErrPickleGlobal and ErrMalformed", err)
	}
	if want := "codec: pickle: global not allowed: pyzmp.message.ServiceRequest"; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
}

// TestPickleNamedTupleOldProtocols documents that protocols 0 and 1 pickle
// a namedtuple through copy_reg._reconstructor, which is not allowed.
func TestPickleNamedTupleOldProtocols(t *testing.T) {
	for p := range 2 {
		var v any
		err := newTestPickle().Unmarshal(readFixture(t, "namedtuple", p), &v)
		if !errors.Is(err, ErrPickleGlobal) || !strings.Contains(err.Error(), "copy_reg._reconstructor") {
			t.Fatalf("p%d: got %v, want ErrPickleGlobal for copy_reg._reconstructor", p, err)
		}
	}
}

// goValues are Go values with what Marshal then Unmarshal gives back.
func goValues() []struct {
	name    string
	in, out any
} {
	type tagged struct {
		A int    `msgpack:"x" json:"y"`
		B string `json:"b"`
		C []byte `json:"c,omitempty"`
	}
	tm := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	return []struct {
		name    string
		in, out any
	}{
		{"nil", nil, nil},
		{"true", true, true},
		{"false", false, false},
		{"int", 5, int64(5)},
		{"int8", int8(-8), int64(-8)},
		{"int16", int16(-300), int64(-300)},
		{"int32 min", int32(math.MinInt32), int64(math.MinInt32)},
		{"int64 min", int64(math.MinInt64), int64(math.MinInt64)},
		{"int64 max", int64(math.MaxInt64), int64(math.MaxInt64)},
		{"uint8", uint8(255), int64(255)},
		{"uint16", uint16(65535), int64(65535)},
		{"uint32", uint32(math.MaxUint32), int64(math.MaxUint32)},
		{"uint64 small", uint64(200), int64(200)},
		{"uint64 max", uint64(math.MaxUint64), uint64(math.MaxUint64)},
		{"big", bigInt("-123456789012345678901234567890"), bigInt("-123456789012345678901234567890")},
		{"big value", *bigInt("123456789012345678901234567890"), bigInt("123456789012345678901234567890")},
		{"small big", big.NewInt(-5), int64(-5)},
		{"nil big", (*big.Int)(nil), nil},
		{"float32", float32(1.5), 1.5},
		{"float64", 0.1, 0.1},
		{"infinity", math.Inf(-1), math.Inf(-1)},
		{"complex128", complex(1.5, -2), complex(1.5, -2)},
		{"complex64", complex64(complex(0.5, 4)), complex(0.5, 4)},
		{"string", "héllo €", "héllo €"},
		{"empty string", "", ""},
		{"string not UTF-8", "a\xff", []byte("a\xff")},
		{"map key not UTF-8", map[string]int{"\xff": 1}, map[string]any{"\xff": int64(1)}},
		{"long string", strings.Repeat("é", 200), strings.Repeat("é", 200)},
		{"bytes", []byte{0, 1, 0xff}, []byte{0, 1, 0xff}},
		{"empty bytes", []byte{}, []byte{}},
		{"nil bytes", []byte(nil), nil},
		{"long bytes", slices.Repeat(byteRange(), 3), slices.Repeat(byteRange(), 3)},
		{"byte array", [3]byte{1, 2, 3}, []byte{1, 2, 3}},
		{"list", []any{1, "a", nil, true}, []any{int64(1), "a", nil, true}},
		{"empty list", []any{}, []any{}},
		{"nil list", []int(nil), nil},
		{"typed slice", []int{1, 2}, []any{int64(1), int64(2)}},
		{"array", [2]string{"a", "b"}, []any{"a", "b"}},
		{"large list", make([]int, 2500), slices.Repeat([]any{int64(0)}, 2500)},
		{"map", map[string]any{"a": 1, "b": []any{2.5}}, map[string]any{"a": int64(1), "b": []any{2.5}}},
		{"empty map", map[string]int{}, map[string]any{}},
		{"int keys", map[int]string{2: "b", 1: "a"}, map[any]any{int64(1): "a", int64(2): "b"}},
		{"mixed keys", map[any]any{"a": 1, 2: "b", nil: true, 1.5: false}, map[any]any{"a": int64(1), int64(2): "b", nil: true, 1.5: false}},
		{"set", PickleSet{1, "a", []byte("b")}, []any{int64(1), "a", []byte("b")}},
		{"empty set", PickleSet{}, []any{}},
		{"pointer", &[]int{7}, []any{int64(7)}},
		{"time", tm, "2024-05-06T07:08:09.123456789Z"},
		{"struct", tagged{A: 1, B: "two"}, map[string]any{"x": int64(1), "b": "two"}},
		{"struct pointer", &tagged{A: 2, C: []byte{9}}, map[string]any{"x": int64(2), "b": "", "c": []byte{9}}},
		{"structs in list", []tagged{{A: 3}}, []any{map[string]any{"x": int64(3), "b": ""}}},
		{"object", serviceRequest("s", []byte("a"), []byte("k")), serviceRequest("s", []byte("a"), []byte("k"))},
		{
			"object by fields",
			PickleObject{Module: "pyzmp.message", Name: "ServiceRequest", Fields: map[string]any{"service": "s", "args": []byte{}, "kwargs": []byte{}}},
			serviceRequest("s", []byte{}, []byte{}),
		},
		{"nested", map[string]any{"m": []any{map[string]any{"n": PickleSet{complex(1, 1)}}}}, map[string]any{"m": []any{map[string]any{"n": []any{complex(1, 1)}}}}},
	}
}

// TestPickleRoundTripGo encodes Go values and decodes them again.
func TestPickleRoundTripGo(t *testing.T) {
	c := newTestPickle()
	for _, tt := range goValues() {
		t.Run(tt.name, func(t *testing.T) {
			b, err := c.Marshal(tt.in)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			var out any
			if err := c.Unmarshal(b, &out); err != nil {
				t.Fatalf("Unmarshal(% x): %v", b, err)
			}
			if !pickleEqual(out, tt.out) {
				t.Fatalf("got %#v\nwant %#v", out, tt.out)
			}
		})
	}
}

// TestPickleDeterministic checks that maps encode in one order.
func TestPickleDeterministic(t *testing.T) {
	m := map[any]any{"b": 1, "a": 2, 3: 4, 1: 5, true: 6, nil: 7, 2.5: 8, uint64(math.MaxUint64): 9}
	first, err := NewPickle().Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, _ := NewPickle().Marshal(m)
		if string(again) != string(first) {
			t.Fatalf("Marshal gave % x, then % x", first, again)
		}
	}
}

// TestPickleUnmarshalTargets fills the targets Unmarshal handles itself and
// those it leaves to the msgpack decoder.
func TestPickleUnmarshalTargets(t *testing.T) {
	c := newTestPickle()
	b, _ := c.Marshal(map[string]any{"n": 1})
	var m map[string]any
	if err := c.Unmarshal(b, &m); err != nil || !pickleEqual(m, map[string]any{"n": int64(1)}) {
		t.Fatalf("map: %v, %v", m, err)
	}
	b, _ = c.Marshal([]any{1, "x"})
	var s []any
	if err := c.Unmarshal(b, &s); err != nil || !pickleEqual(s, []any{int64(1), "x"}) {
		t.Fatalf("slice: %v, %v", s, err)
	}
	none, _ := c.Marshal(nil)
	m = map[string]any{"old": 1}
	if err := c.Unmarshal(none, &m); err != nil || m != nil {
		t.Fatalf("None into map: %v, %v", m, err)
	}
	if err := c.Unmarshal(b, &m); !errors.Is(err, ErrMalformed) {
		t.Fatalf("list into map: %v, want ErrMalformed", err)
	}
	b, _ = c.Marshal(map[int]int{1: 2})
	if err := c.Unmarshal(b, &m); !errors.Is(err, ErrMalformed) {
		t.Fatalf("int-keyed dict into map[string]any: %v, want ErrMalformed", err)
	}
}

// TestPickleIntoTypedTargets fills typed Go values through msgpack.
func TestPickleIntoTypedTargets(t *testing.T) {
	type target struct {
		Big     *big.Int   `json:"big"`
		Complex [2]float64 `json:"complex"`
		Set     []int      `json:"set"`
		U       uint64     `json:"u"`
		Meta    any        `json:"meta"`
	}
	c := NewPickle()
	b, err := c.Marshal(map[string]any{
		"big": bigInt("99999999999999999999999"), "complex": complex(1, 2),
		"set": PickleSet{3, 4}, "u": uint64(math.MaxUint64), "meta": map[any]any{1: "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got target
	if err := c.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := target{bigInt("99999999999999999999999"), [2]float64{1, 2}, []int{3, 4}, math.MaxUint64, map[any]any{int64(1): "x"}}
	if got.Big.Cmp(want.Big) != 0 || got.Complex != want.Complex || !slices.Equal(got.Set, want.Set) ||
		got.U != want.U || !pickleEqual(got.Meta, want.Meta) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	var v any = &got
	if err := c.Unmarshal(b, &v); err != nil || v != &got {
		t.Fatalf("through a pointer in an interface: %v", err)
	}
}

// TestPickleMarshalErrors checks values Marshal refuses.
func TestPickleMarshalErrors(t *testing.T) {
	deep := any(1)
	for range maxPickleDepth + 1 {
		deep = []any{deep}
	}
	cyclic := []any{nil}
	cyclic[0] = cyclic
	var loop any
	loop = &loop
	for name, v := range map[string]any{
		"chan":                make(chan int),
		"func":                func() {},
		"unhashable set item": PickleSet{[]int{1}},
		"set in set":          PickleSet{PickleSet{}},
		"slice key":           map[[2]int]int{{1, 2}: 3},
		"unknown field order": PickleObject{Module: "m", Name: "C", Fields: map[string]any{"a": 1}},
		"missing field":       PickleObject{Module: "pyzmp.message", Name: "ServiceRequest", Fields: map[string]any{"service": "s"}},
		"bad class name":      PickleObject{Module: "os\nsystem", Name: "x"},
		"too deep":            deep,
		"cycle":               cyclic,
		"pointer loop":        loop,
		"pointer loop key":    map[any]int{loop: 1},
		"pointer loop in set": PickleSet{loop},
	} {
		if b, err := newTestPickle().Marshal(v); err == nil || errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Marshal = % x, %v; want an error not matching ErrMalformed", name, b, err)
		}
	}
	deep = any(1)
	for range maxPickleDepth {
		deep = []any{deep}
	}
	if _, err := NewPickle().Marshal(deep); err != nil {
		t.Errorf("%d levels: %v", maxPickleDepth, err)
	}
}

// TestPickleAllowClassPanics checks AllowClass's argument checks.
func TestPickleAllowClassPanics(t *testing.T) {
	for _, tt := range []struct {
		module, name string
		fields       []string
	}{
		{"", "C", nil},
		{"m", "", nil},
		{"m\nos", "C", nil},
		{"builtins", "set", nil},
		{"__builtin__", "object", nil},
		{"copy_reg", "_reconstructor", nil},
		{"collections", "OrderedDict", nil},
		{"m", "C", []string{"a", "a"}},
		{"m", "C", []string{""}},
		{strings.Repeat("m", maxPickleNameLen+1), "C", nil},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AllowClass(%q, %q, %q) did not panic", tt.module, tt.name, tt.fields)
				}
			}()
			NewPickle().AllowClass(tt.module, tt.name, tt.fields)
		}()
	}
}

// TestPickleClassWithoutFields decodes a class allowed without field
// names, and one whose attributes BUILD sets.
func TestPickleClassWithoutFields(t *testing.T) {
	c := NewPickle()
	c.AllowClass("app", "Point", nil)
	in := []byte("\x80\x02capp\nPoint\nK\x01K\x02\x86\x81}X\x01\x00\x00\x00zK\x03sb.")
	var v any
	if err := c.Unmarshal(in, &v); err != nil {
		t.Fatal(err)
	}
	want := PickleObject{Module: "app", Name: "Point", Args: []any{int64(1), int64(2)}, Fields: map[string]any{"z": int64(3)}}
	if !pickleEqual(v, want) {
		t.Fatalf("got %#v, want %#v", v, want)
	}
	var args []any
	if err := c.Unmarshal([]byte("\x80\x02capp\nPoint\nK\x01\x85\x81."), &args); err != nil || !pickleEqual(args, []any{int64(1)}) {
		t.Fatalf("into []any: %#v, %v", args, err)
	}
	c.AllowClass("app", "Pair", []string{"a", "b"})
	if err := c.Unmarshal([]byte("\x80\x02capp\nPair\nK\x01\x85\x81."), &v); !errors.Is(err, ErrMalformed) {
		t.Fatalf("wrong argument count: %v", err)
	}
}

// TestPickleConcurrentUse runs Unmarshal and AllowClass at once.
func TestPickleConcurrentUse(t *testing.T) {
	c := newTestPickle()
	data := readFixture(t, "namedtuple_list", 4)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				c.AllowClass("m", fmt.Sprintf("C%d_%d", i, j), nil)
				var v any
				if err := c.Unmarshal(data, &v); err != nil {
					t.Error(err)
					return
				}
				if _, err := c.Marshal(v); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
