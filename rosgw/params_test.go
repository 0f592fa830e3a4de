package rosgw

import (
	"context"
	"log/slog"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestParamValue: values decoded from the shared state are brought to what
// the parameter server gives back, and what it cannot hold is refused.
func TestParamValue(t *testing.T) {
	when := time.Date(2024, 5, 6, 7, 8, 9, 500, time.UTC)
	ok := []struct {
		name    string
		in, out any
	}{
		{"int64", int64(3), 3},
		{"int64 over 32 bits", int64(5_000_000_000), 5e9},
		{"uint64", uint64(7), 7},
		{"uint64 over 63 bits", uint64(math.MaxUint64), float64(math.MaxUint64)},
		{"float32", float32(0.25), 0.25},
		{"float64", 4.5, 4.5},
		{"string", "auto", "auto"},
		{"bool", true, true},
		{"bytes", []byte("x"), []byte("x")},
		{"time", when, "2024-05-06T07:08:09.0000005Z"},
		{"list", []any{int64(1), 2.5, "x"}, []any{1, 2.5, "x"}},
		{"map", map[string]any{"a": int64(1), "b": []any{true, false}}, map[string]any{"a": 1, "b": []any{true, false}}},
		{"map any", map[any]any{"a": map[any]any{"b": int64(2)}}, map[string]any{"a": map[string]any{"b": 2}}},
		{"list of dicts, any keys", []any{map[string]any{"a/b": 1, "": 2}}, []any{map[string]any{"a/b": 1, "": 2}}},
	}
	for _, c := range ok {
		got, err := paramValue(c.in)
		if err != nil || !reflect.DeepEqual(got, c.out) {
			t.Errorf("%s: %#v, %v; want %#v", c.name, got, err, c.out)
			continue
		}
		// What is sent comes back as itself: no copy back and forth.
		b, err := encodeXMLRPCValue(got)
		if err != nil {
			t.Errorf("%s: encode: %v", c.name, err)
			continue
		}
		back, err := decodeXMLRPCValue(b)
		if err != nil || fingerprint(back) != fingerprint(got) {
			t.Errorf("%s: %#v comes back as %#v, %v", c.name, got, back, err)
		}
	}
	deep := any(1)
	for range maxXMLRPCDepth + 1 {
		deep = []any{deep}
	}
	bad := map[string]any{
		"null":                nil,
		"null in a list":      []any{1, nil},
		"key with a slash":    map[string]any{"a/b": 1},
		"empty key":           map[string]any{"": 1},
		"nested key slash":    map[string]any{"a": map[string]any{"b/c": 1}},
		"non-string key":      map[any]any{1: "a"},
		"unsupported type":    struct{}{},
		"nested unsupported":  map[string]any{"a": []any{make(chan int)}},
		"nested deeper than ": deep,
	}
	for name, v := range bad {
		if got, err := paramValue(v); err == nil {
			t.Errorf("%s: accepted as %#v", name, got)
		}
	}
}

// TestLeaves: a parameter tree flattens to the names rosmaster's
// getParamNames lists (rosparam list): dictionaries are not parameters of
// their own, empty ones have none, lists are values.
func TestLeaves(t *testing.T) {
	tree := map[string]any{
		"pid":   map[string]any{"kp": 1.0, "gains": []any{1, 2, 3}, "name": "arm", "sub": map[string]any{"x": 1}},
		"empty": map[string]any{},
		"list":  []any{map[string]any{"a": 1}},
		"speed": 3,
	}
	out := map[string]any{}
	leaves("", tree, out)
	names := slices.Sorted(maps.Keys(out))
	want := []string{"/list", "/pid/gains", "/pid/kp", "/pid/name", "/pid/sub/x", "/speed"}
	if !slices.Equal(names, want) {
		t.Fatalf("leaves %v, want %v", names, want)
	}
	if !reflect.DeepEqual(out["/pid/gains"], []any{1, 2, 3}) {
		t.Fatalf("/pid/gains is %#v", out["/pid/gains"])
	}
	one := map[string]any{}
	leaves("/cfg", 5, one)
	if !reflect.DeepEqual(one, map[string]any{"/cfg": 5}) {
		t.Fatalf("a scalar's leaves: %v", one)
	}
}

// TestHolds: a restarted master holds a name when it has a parameter at
// it, above it or below it, and the restore leaves those alone.
func TestHolds(t *testing.T) {
	vals := map[string]any{"/pid/kp": 1, "/robot": "x", "/cfgx": 1}
	for name, want := range map[string]bool{
		"/pid/kp":     true,  // itself
		"/pid":        true,  // a dictionary of it
		"/robot/mode": true,  // below a value
		"/cfg":        false, // a prefix, not a parent
		"/cfgx/a":     true,
		"/other":      false,
	} {
		if got := holds(vals, name); got != want {
			t.Errorf("holds %s = %v, want %v", name, got, want)
		}
	}
	if strings.Contains(fingerprint(map[string]any{"b": 1, "a": 2}), "<name>b</name><value><int>1</int></value></member><member><name>a") {
		t.Fatal("fingerprint does not sort members")
	}
}

// TestReadOneByOne: when the master cannot send its whole tree (rosmaster
// holding an integer over 32 bits faults), the parameters are read one by
// one, and only the one it cannot send is left out.
func TestReadOneByOne(t *testing.T) {
	tree := map[string]any{"pid": map[string]any{"kp": 1.5, "gains": []any{1, 2}}, "speed": 3}
	fault := "<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member>" +
		"<member><name>faultString</name><value>int exceeds XML-RPC limits</value></member></struct></value></fault></methodResponse>"
	ok := func(v any) string {
		b, err := encodeXMLRPCValue([]any{1, "ok", v})
		if err != nil {
			t.Fatal(err)
		}
		return response(string(b))
	}
	c := fakeServer(t, func(c methodCall, args []any) string {
		switch {
		case c.Method == "getParamNames":
			return ok([]any{"/pid/kp", "/pid/gains", "/speed", "/big"})
		case c.Method == "getParam" && args[1] == "/pid/kp":
			return ok(1.5)
		case c.Method == "getParam" && args[1] == "/pid/gains":
			return ok([]any{1, 2})
		case c.Method == "getParam" && args[1] == "/speed":
			return ok(3)
		}
		return fault // the tree, and /big
	})
	pm := &params{g: &Gateway{log: slog.New(slog.DiscardHandler)}, ps: paramServer{c: c, caller: "/x"}}
	got, whole, err := pm.read(context.Background())
	want := map[string]any{}
	leaves("", tree, want)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("read: %v, %v; want %v", got, err, want)
	}
	if whole {
		t.Error("a read that skipped /big says it read every parameter: a deletion in ROS would be guessed")
	}
}
