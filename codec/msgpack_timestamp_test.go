package codec

import (
	"errors"
	"reflect"
	"runtime"
	"testing"
	"time"
)

// mapFields has map-typed fields, which the msgpack library decodes with
// Decoder.DecodeMapLen.
type mapFields struct {
	M map[string]any   `json:"m"`
	N map[string]int   `json:"n"`
	S map[string][]int `json:"s"`
	T time.Time        `json:"t"`
}

// riskyTimes encode as timestamps whose first data byte DecodeMapLen would
// take for a map header.
var riskyTimes = []time.Time{
	time.Unix(0x80000000, 0),          // 4-byte form, fixmap byte, in 2038
	time.Unix(0x8f000000, 0),          // 4-byte form, fixmap byte
	time.Unix(0xc0000000, 0),          // 4-byte form, nil byte
	time.Unix(0xde000000, 0),          // 4-byte form, map16 byte
	time.Unix(0xdf000000, 0),          // 4-byte form, map32 byte
	time.Unix(1700000000, 0x80<<22),   // 8-byte form, fixmap byte
	time.Unix(1700000000, 0xc0<<22),   // 8-byte form, nil byte
	time.Unix(1700000000, 0xde<<22+1), // 8-byte form, map16 byte
}

func TestTimestampInMapPositionIsRejectedCheaply(t *testing.T) {
	inputs := map[string][]byte{
		// A timestamp for map m whose data starts with a map32 header.
		"map32": {0x81, 0xa1, 'm', 0xd7, 0xff, 0xdf, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00},
		// A timestamp for map n whose data starts with a map16 header.
		"map16": {0x81, 0xa1, 'n', 0xd6, 0xff, 0xde, 0xff, 0xff, 0x00},
		// A timestamp for map s whose data reads as {"k": array32 header},
		// the header's length taken from the two entries after it.
		"fixmap then array32": {0x83, 0xa1, 's', 0xd6, 0xff, 0x81, 0xa1, 'k', 0xdd, 0xff, 0xff, 0xff, 0xff},
		// A timestamp for map n whose data starts with nil.
		"nil": {0x81, 0xa1, 'n', 0xd6, 0xff, 0xc0, 0x01, 0x01, 0x01},
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			if err := validMsgpack(in, maxMsgpackDepth); err != nil {
				t.Fatalf("input should be valid msgpack: %v", err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var out mapFields
			err := NewMsgpack().Unmarshal(in, &out)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Unmarshal = %v, want ErrMalformed", err)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n >= 1<<20 {
				t.Fatalf("Unmarshal allocated %d bytes", n)
			}
		})
	}
}

func TestRiskyTimestampsRoundTrip(t *testing.T) {
	c := NewMsgpack()
	for _, tm := range riskyTimes {
		b, err := c.Marshal(tm)
		if err != nil {
			t.Fatal(err)
		}
		widen, err := scanMsgpack(b, maxMsgpackDepth)
		if err != nil || len(widen) != 1 {
			t.Fatalf("%v (% x): scan found %v, %v; want one timestamp to widen", tm, b, widen, err)
		}
		var v any
		if err := c.Unmarshal(b, &v); err != nil {
			t.Fatalf("%v: Unmarshal into any: %v", tm, err)
		}
		if got, ok := v.(time.Time); !ok || !got.Equal(tm) {
			t.Fatalf("decoded %v, want %v", v, tm)
		}
		in := mapFields{N: map[string]int{"a": 1}, T: tm}
		b, err = c.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out mapFields
		if err := c.Unmarshal(b, &out); err != nil {
			t.Fatalf("%v: Unmarshal into struct: %v", tm, err)
		}
		if !out.T.Equal(tm) || !reflect.DeepEqual(out.N, in.N) {
			t.Fatalf("decoded %+v, want %+v", out, in)
		}
	}
}

func TestWidenTimestampsKeepsValues(t *testing.T) {
	in := []any{riskyTimes[0], "x", map[string]any{"t": riskyTimes[5], "u": time.Unix(5, 0)}, riskyTimes[3]}
	b, err := NewMsgpack().Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	widen, err := scanMsgpack(b, maxMsgpackDepth)
	if err != nil || len(widen) != 3 {
		t.Fatalf("scan found %v, %v; want three timestamps", widen, err)
	}
	wide := widenTimestamps(b, widen)
	if again, err := scanMsgpack(wide, maxMsgpackDepth); err != nil || len(again) != 0 {
		t.Fatalf("widened input: scan found %v, %v", again, err)
	}
	d := newDecoder(b)
	want, err := decodeAny(d.dec)
	if err != nil {
		t.Fatal(err)
	}
	d = newDecoder(wide)
	got, err := decodeAny(d.dec)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("widened input decodes to %v, want %v", got, want)
	}
}

func TestTimestampValidation(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"4-byte", []byte{0xd6, 0xff, 0, 0, 0, 1}, true},
		{"8-byte max nanoseconds", []byte{0xd7, 0xff, 0xee, 0x6b, 0x27, 0xfc, 0, 0, 0, 0}, true},
		{"8-byte nanoseconds too large", []byte{0xd7, 0xff, 0xee, 0x6b, 0x28, 0x00, 0, 0, 0, 0}, false},
		{"12-byte", []byte{0xc7, 12, 0xff, 0x3b, 0x9a, 0xc9, 0xff, 0, 0, 0, 0, 0, 0, 0, 1}, true},
		{"12-byte nanoseconds too large", []byte{0xc7, 12, 0xff, 0x3b, 0x9a, 0xca, 0x00, 0, 0, 0, 0, 0, 0, 0, 1}, false},
		{"ext8 with 4 bytes", []byte{0xc7, 4, 0xff, 0, 0, 0, 1}, true},
		{"empty ext8", []byte{0xc7, 0, 0xff}, false},
		{"fixext16", append([]byte{0xd8, 0xff}, make([]byte, 16)...), false},
		{"other type", []byte{0xd6, 0x05, 0, 0, 0, 1}, false},
	}
	for _, tt := range tests {
		err := validMsgpack(tt.in, maxMsgpackDepth)
		if (err == nil) != tt.ok {
			t.Errorf("%s: validMsgpack = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v does not wrap ErrMalformed", tt.name, err)
		}
	}
}
