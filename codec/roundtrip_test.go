package codec

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

// msg is a struct as pyros packages define them: json tags only.
type msg struct {
	ID      string            `json:"id"`
	Seq     uint64            `json:"seq"`
	Score   float64           `json:"score"`
	Tags    []string          `json:"tags,omitempty"`
	Labels  map[string]string `json:"labels"`
	Body    []byte            `json:"body"`
	Inner   *inner            `json:"inner"`
	Skipped string            `json:"-"`
}

type inner struct {
	OK   bool  `json:"ok"`
	Hops []int `json:"hops"`
}

func sampleMsg() msg {
	return msg{
		ID:     "n1",
		Seq:    math.MaxUint64,
		Score:  0.25,
		Tags:   []string{"a", "b"},
		Labels: map[string]string{"dc": "eu-1"},
		Body:   []byte{0, 1, 2, 0xff},
		Inner:  &inner{OK: true, Hops: []int{1, -2, 300}},
	}
}

func TestRoundTripStructs(t *testing.T) {
	for _, c := range []Codec{NewMsgpack(), NewJSON(), NewPickle()} {
		t.Run(c.Name(), func(t *testing.T) {
			in := sampleMsg()
			in.Skipped = "not sent"
			b, err := c.Marshal(in)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			var out msg
			if err := c.Unmarshal(b, &out); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			want := sampleMsg()
			if !reflect.DeepEqual(out, want) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", out, want)
			}
		})
	}
}

func TestMsgpackUsesJSONTagNames(t *testing.T) {
	c := NewMsgpack()
	b, err := c.Marshal(sampleMsg())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := c.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "seq", "score", "tags", "labels", "body", "inner"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing from %v", k, m)
		}
	}
	if _, ok := m["-"]; ok || len(m) != 7 {
		t.Errorf("unexpected keys in %v", m)
	}
}

func TestMsgpackTagWinsOverJSONTag(t *testing.T) {
	type both struct {
		A int `msgpack:"x" json:"y"`
	}
	c := NewMsgpack()
	b, err := c.Marshal(both{A: 7})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := c.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, map[string]any{"x": int64(7)}) {
		t.Fatalf("decoded %v", m)
	}
}

func TestMsgpackRoundTripAny(t *testing.T) {
	tests := []struct {
		name    string
		in, out any
	}{
		{"nil", nil, nil},
		{"true", true, true},
		{"false", false, false},
		{"int", 5, int64(5)},
		{"negative", -33, int64(-33)},
		{"int64 min", int64(math.MinInt64), int64(math.MinInt64)},
		{"small uint64", uint64(200), int64(200)},
		{"max int64 as uint64", uint64(math.MaxInt64), int64(math.MaxInt64)},
		{"large uint64", uint64(math.MaxUint64), uint64(math.MaxUint64)},
		{"float32", float32(1.5), float64(1.5)},
		{"float64", 0.1, 0.1},
		{"whole float stays float", 2.0, 2.0},
		{"string", "héllo", "héllo"},
		{"empty string", "", ""},
		{"bytes", []byte{1, 2, 3}, []byte{1, 2, 3}},
		{"empty bytes", []byte{}, []byte{}},
		{"array", []any{1, "a", nil, true}, []any{int64(1), "a", nil, true}},
		{"empty array", []any{}, []any{}},
		{"typed slice", []int{1, 2}, []any{int64(1), int64(2)}},
		{"map", map[string]any{"a": 1, "b": []any{2.5}}, map[string]any{"a": int64(1), "b": []any{2.5}}},
		{"empty map", map[string]any{}, map[string]any{}},
		{
			"nested",
			map[string]any{"m": map[string]any{"n": map[string]any{"x": []any{map[string]any{}}}}},
			map[string]any{"m": map[string]any{"n": map[string]any{"x": []any{map[string]any{}}}}},
		},
		{"int keys", map[int]string{1: "a"}, map[any]any{int64(1): "a"}},
	}
	c := NewMsgpack()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := c.Marshal(tt.in)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			var out any
			if err := c.Unmarshal(b, &out); err != nil {
				t.Fatalf("Unmarshal(% x): %v", b, err)
			}
			if !reflect.DeepEqual(out, tt.out) {
				t.Fatalf("got %#v, want %#v", out, tt.out)
			}
		})
	}
}

func TestMsgpackMapKeys(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want any
	}{
		{"bin key becomes string", []byte{0x81, 0xc4, 0x01, 'k', 0x01}, map[string]any{"k": int64(1)}},
		{
			"mixed keys",
			[]byte{0x83, 0xa1, 'a', 0x01, 0x02, 0x02, 0xc4, 0x01, 'b', 0x03},
			map[any]any{"a": int64(1), int64(2): int64(2), "b": int64(3)},
		},
		{"nil key", []byte{0x81, 0xc0, 0x01}, map[any]any{nil: int64(1)}},
		{"duplicate keys", []byte{0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02}, map[string]any{"a": int64(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out any
			if err := NewMsgpack().Unmarshal(tt.in, &out); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out, tt.want) {
				t.Fatalf("got %#v, want %#v", out, tt.want)
			}
		})
	}
}

func TestMsgpackTime(t *testing.T) {
	c := NewMsgpack()
	for _, tm := range []time.Time{
		time.Unix(1700000000, 0),
		time.Unix(1700000000, 123456789),
		time.Unix(-1, 0),
		time.Date(3000, 1, 1, 0, 0, 0, 1, time.UTC),
	} {
		b, err := c.Marshal(tm)
		if err != nil {
			t.Fatal(err)
		}
		var out any
		if err := c.Unmarshal(b, &out); err != nil {
			t.Fatalf("Unmarshal(% x): %v", b, err)
		}
		if got, ok := out.(time.Time); !ok || !got.Equal(tm) {
			t.Fatalf("got %v, want %v", out, tm)
		}
	}
}

func TestMsgpackDecodeIntoContainers(t *testing.T) {
	c := NewMsgpack()
	b, _ := c.Marshal(map[string]any{"n": 1})
	var m map[string]any
	if err := c.Unmarshal(b, &m); err != nil || !reflect.DeepEqual(m, map[string]any{"n": int64(1)}) {
		t.Fatalf("map: %v, %v", m, err)
	}
	b, _ = c.Marshal([]any{1, "x"})
	var s []any
	if err := c.Unmarshal(b, &s); err != nil || !reflect.DeepEqual(s, []any{int64(1), "x"}) {
		t.Fatalf("slice: %v, %v", s, err)
	}
	m = map[string]any{"old": 1}
	if err := c.Unmarshal([]byte{0xc0}, &m); err != nil || m != nil {
		t.Fatalf("nil into map: %v, %v", m, err)
	}
	if err := c.Unmarshal([]byte{0x91, 0x01}, &m); !errors.Is(err, ErrMalformed) {
		t.Fatalf("array into map: %v, want ErrMalformed", err)
	}
}

func TestMsgpackInterfaceFieldMaps(t *testing.T) {
	type env struct {
		Meta any `json:"meta"`
	}
	c := NewMsgpack()
	b, err := c.Marshal(env{Meta: map[string]any{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	var out env
	if err := c.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if _, ok := out.Meta.(map[string]any); !ok {
		t.Fatalf("Meta decoded as %T, want map[string]any", out.Meta)
	}
}

func TestMsgpackDecodesThroughPointerInInterface(t *testing.T) {
	c := NewMsgpack()
	b, _ := c.Marshal(sampleMsg())
	var m msg
	var v any = &m
	if err := c.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if m.ID != "n1" || v != &m {
		t.Fatalf("decoded %+v into %T", m, v)
	}
}

func TestUnmarshalRejectsBadTargets(t *testing.T) {
	for _, c := range []Codec{NewMsgpack(), NewJSON(), NewPickle()} {
		var n int
		var nilPtr *int
		for _, target := range []any{nil, n, nilPtr} {
			err := c.Unmarshal([]byte("1"), target)
			if err == nil || errors.Is(err, ErrMalformed) {
				t.Errorf("%s: Unmarshal into %T = %v, want a non-ErrMalformed error", c.Name(), target, err)
			}
		}
	}
}

func TestUnmarshalTypeMismatchIsMalformed(t *testing.T) {
	for _, c := range []Codec{NewMsgpack(), NewJSON(), NewPickle()} {
		b, _ := c.Marshal("text")
		var n int
		if err := c.Unmarshal(b, &n); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", c.Name(), err)
		}
	}
}

func TestJSONMalformed(t *testing.T) {
	for _, in := range []string{"", "{", `{"a":}`, "[1,2", "nul", `{"a":1} x`} {
		var v any
		if err := NewJSON().Unmarshal([]byte(in), &v); !errors.Is(err, ErrMalformed) {
			t.Errorf("Unmarshal(%q) = %v, want ErrMalformed", in, err)
		}
	}
}

func TestMarshalUnsupportedValue(t *testing.T) {
	for _, c := range []Codec{NewMsgpack(), NewJSON(), NewPickle()} {
		if _, err := c.Marshal(make(chan int)); err == nil {
			t.Errorf("%s: Marshal(chan) succeeded", c.Name())
		}
	}
}

func TestMarshalResultIsNotShared(t *testing.T) {
	c := NewMsgpack()
	a, _ := c.Marshal("first")
	want := string(a)
	for range 10 {
		if _, err := c.Marshal("second value"); err != nil {
			t.Fatal(err)
		}
	}
	if string(a) != want {
		t.Fatalf("earlier Marshal result changed to % x", a)
	}
}
