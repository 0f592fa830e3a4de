package codec

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// pythonLoader reads hex pickles, one a line, and for each prints a JSON
// line with the repr and type of what pickle.loads makes of it, and the
// value pickled again at protocols 0 to 5. It defines pyzmp's
// ServiceRequest under a stand-in module, as a Python peer would have it.
const pythonLoader = `
import collections, json, pickle, sys, types
ServiceRequest = collections.namedtuple(
    "ServiceRequest", "service args kwargs", module="pyzmp.message")
module = types.ModuleType("pyzmp.message")
module.ServiceRequest = ServiceRequest
sys.modules["pyzmp.message"] = module
sys.modules["pyzmp"] = types.ModuleType("pyzmp")
for line in sys.stdin:
    obj = pickle.loads(bytes.fromhex(line.strip()))
    print(json.dumps({
        "repr": repr(obj),
        "type": type(obj).__name__,
        "pickles": [pickle.dumps(obj, protocol=p).hex() for p in range(6)],
    }), flush=True)
`

// pythonResult is what pythonLoader prints for one pickle.
type pythonResult struct {
	Repr    string   `json:"repr"`
	Type    string   `json:"type"`
	Pickles []string `json:"pickles"`
}

// runPython feeds pickles to pythonLoader in Debian's /usr/bin/python3,
// which the test script installs; the test fails if it is missing.
func runPython(t *testing.T, pickles [][]byte) []pythonResult {
	t.Helper()
	var in bytes.Buffer
	for _, p := range pickles {
		in.WriteString(hex.EncodeToString(p) + "\n")
	}
	cmd := exec.Command("/usr/bin/python3", "-c", pythonLoader)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr.String())
	}
	var results []pythonResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var r pythonResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("python3 output %q: %v", sc.Text(), err)
		}
		results = append(results, r)
	}
	if len(results) != len(pickles) {
		t.Fatalf("python3 answered %d of %d pickles", len(results), len(pickles))
	}
	return results
}

// pythonCase is a Go value, what Python must make of its pickle, and what
// Go must make of Python's pickles of that.
type pythonCase struct {
	name  string
	in    any
	repr  string // "" to check only the type
	typ   string
	back  any
	class bool // pickled by Python through copy_reg at protocols 0 and 1
}

func pythonCases() []pythonCase {
	type tagged struct {
		A int    `msgpack:"x" json:"y"`
		B string `json:"b"`
	}
	large := make(map[string]int, 1500)
	largeBack := make(map[string]any, 1500)
	for i := range 1500 {
		k := fmt.Sprintf("k%04d", i)
		large[k], largeBack[k] = i, int64(i)
	}
	sr := serviceRequest("demo/add", []byte("x"), []byte("y"))
	return []pythonCase{
		{"none", nil, "None", "NoneType", nil, false},
		{"true", true, "True", "bool", true, false},
		{"false", false, "False", "bool", false, false},
		{"int", 5, "5", "int", int64(5), false},
		{"negative", -300, "-300", "int", int64(-300), false},
		{"int32", int32(-70000), "-70000", "int", int64(-70000), false},
		{"int64 min", int64(math.MinInt64), "-9223372036854775808", "int", int64(math.MinInt64), false},
		{"uint64 max", uint64(math.MaxUint64), "18446744073709551615", "int", uint64(math.MaxUint64), false},
		{"big", bigInt("-123456789012345678901234567890"), "-123456789012345678901234567890", "int", bigInt("-123456789012345678901234567890"), false},
		{"huge", pow2Minus1(4000), "", "int", pow2Minus1(4000), false},
		{"float", 0.1, "0.1", "float", 0.1, false},
		{"float32", float32(1.5), "1.5", "float", 1.5, false},
		{"infinity", math.Inf(-1), "-inf", "float", math.Inf(-1), false},
		{"complex", complex(1.5, -2), "(1.5-2j)", "complex", complex(1.5, -2), false},
		{"string", "héllo € \\ \n 😀", `'héllo € \\ \n 😀'`, "str", "héllo € \\ \n 😀", false},
		{"long string", strings.Repeat("ab", 200), "", "str", strings.Repeat("ab", 200), false},
		{"string not UTF-8", "a\xff", `b'a\xff'`, "bytes", []byte("a\xff"), false},
		{"bytes", []byte{0, 1, 0xff}, `b'\x00\x01\xff'`, "bytes", []byte{0, 1, 0xff}, false},
		{"empty bytes", []byte{}, "b''", "bytes", []byte{}, false},
		{"long bytes", bytes.Repeat(byteRange(), 2), "", "bytes", bytes.Repeat(byteRange(), 2), false},
		{"list", []any{1, "a", nil, true}, "[1, 'a', None, True]", "list", []any{int64(1), "a", nil, true}, false},
		{"large list", make([]int8, 2500), "", "list", rangeZeros(2500), false},
		{"dict", map[string]any{"b": []any{2.5}, "a": 1}, "{'a': 1, 'b': [2.5]}", "dict", map[string]any{"a": int64(1), "b": []any{2.5}}, false},
		{"int keys", map[int]string{2: "b", 1: "a"}, "{1: 'a', 2: 'b'}", "dict", map[any]any{int64(1): "a", int64(2): "b"}, false},
		{"large dict", large, "", "dict", largeBack, false},
		{"set", PickleSet{3, 1, 2}, "{1, 2, 3}", "set", []any{int64(1), int64(2), int64(3)}, false},
		{"empty set", PickleSet{}, "set()", "set", []any{}, false},
		{"namedtuple", sr, "ServiceRequest(service='demo/add', args=b'x', kwargs=b'y')", "ServiceRequest", sr, true},
		{
			"namedtuple by fields",
			PickleObject{Module: "pyzmp.message", Name: "ServiceRequest", Fields: sr.Fields},
			"ServiceRequest(service='demo/add', args=b'x', kwargs=b'y')", "ServiceRequest", sr, true,
		},
		{"struct", tagged{A: 1, B: "two"}, "{'b': 'two', 'x': 1}", "dict", map[string]any{"x": int64(1), "b": "two"}, false},
		{"time", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), "'2024-05-06T07:08:09Z'", "str", "2024-05-06T07:08:09Z", false},
		{
			"nested",
			map[string]any{"m": []any{map[string]any{"n": PickleSet{complex(1, 1)}}}},
			"{'m': [{'n': {(1+1j)}}]}", "dict",
			map[string]any{"m": []any{map[string]any{"n": []any{complex(1, 1)}}}}, false,
		},
	}
}

// pow2Minus1 returns 2**n - 1.
func pow2Minus1(n int) *big.Int {
	s := big.NewInt(1)
	s.Lsh(s, uint(n))
	return s.Sub(s, big.NewInt(1))
}

// rangeZeros returns n decoded zeros.
func rangeZeros(n int) []any {
	s := make([]any, n)
	for i := range s {
		s[i] = int64(0)
	}
	return s
}

// TestPicklePython has Python load what Marshal writes, and Unmarshal load
// what Python writes back at every protocol.
func TestPicklePython(t *testing.T) {
	c := newTestPickle()
	cases := pythonCases()
	pickles := make([][]byte, len(cases))
	for i, tc := range cases {
		b, err := c.Marshal(tc.in)
		if err != nil {
			t.Fatalf("%s: Marshal: %v", tc.name, err)
		}
		pickles[i] = b
	}
	for i, r := range runPython(t, pickles) {
		tc := cases[i]
		t.Run(tc.name, func(t *testing.T) {
			if r.Type != tc.typ || tc.repr != "" && r.Repr != tc.repr {
				t.Fatalf("Python loaded %s %s, want %s %s", r.Type, r.Repr, tc.typ, tc.repr)
			}
			for p, h := range r.Pickles {
				checkPythonPickle(t, c, tc, p, h)
			}
		})
	}
}

// checkPythonPickle decodes Python's protocol p pickle h of tc's value.
func checkPythonPickle(t *testing.T, c *PickleCodec, tc pythonCase, p int, h string) {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var got any
	err = c.Unmarshal(b, &got)
	if tc.class && p < 2 {
		if !errors.Is(err, ErrPickleGlobal) {
			t.Fatalf("p%d: %v, want ErrPickleGlobal for copy_reg", p, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("p%d: Unmarshal(%s): %v", p, h, err)
	}
	if !pickleEqual(got, tc.back) {
		t.Fatalf("p%d: got %#v\nwant %#v", p, got, tc.back)
	}
}
