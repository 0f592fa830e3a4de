package codec

import (
	"bytes"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
)

// hostileInputs are payloads that upstream msgpack decodes badly: huge
// headers, runaway nesting, truncation and trailing bytes.
var hostileInputs = []struct {
	name string
	data []byte
}{
	{"empty", nil},
	{"array32 claims 4G elements", []byte{0xdd, 0xff, 0xff, 0xff, 0xff}},
	{"map32 claims 4G pairs", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}},
	{"bin32 claims 4 GiB", []byte{0xc6, 0xff, 0xff, 0xff, 0xff}},
	{"str32 claims 4 GiB", []byte{0xdb, 0xff, 0xff, 0xff, 0xff}},
	{"ext32 claims 4 GiB", []byte{0xc9, 0xff, 0xff, 0xff, 0xff, 0x01}},
	{"array16 longer than input", []byte{0xdc, 0xff, 0xff, 0x01, 0x02}},
	{"map16 needs two bytes a pair", []byte{0xde, 0x00, 0x02, 0xa0, 0x01, 0xa1}},
	{"str8 longer than input", []byte{0xd9, 0x05, 'a', 'b'}},
	{"fixarray short", []byte{0x93, 0x01, 0x02}},
	{"fixmap missing value", []byte{0x81, 0xa1, 'k'}},
	{"truncated uint64", []byte{0xcf, 0x00, 0x00}},
	{"truncated length", []byte{0xdb, 0x00, 0x00}},
	{"reserved 0xc1", []byte{0xc1}},
	{"reserved 0xc1 nested", []byte{0x91, 0xc1}},
	{"trailing garbage", []byte{0x01, 0x02}},
	{"two values", []byte{0xa1, 'a', 0xa1, 'b'}},
	{"unknown ext type", []byte{0xd4, 0x01, 0x00}},
	{"timestamp with bad length", []byte{0xd5, 0xff, 0x00, 0x00}},
	{"array as map key", []byte{0x81, 0x90, 0x01}},
	{"map as map key", []byte{0x81, 0x80, 0x01}},
	{"nested 100000 fixarrays", bytes.Repeat([]byte{0x91}, 100000)},
	{"nested fixmaps", bytes.Repeat([]byte{0x81, 0xa0}, 1000)},
	{"nested array32 headers", bytes.Repeat([]byte{0xdd, 0x00, 0x00, 0x00, 0x01}, 1000)},
}

func TestMsgpackRejectsHostileInput(t *testing.T) {
	c := NewMsgpack()
	for _, tt := range hostileInputs {
		t.Run(tt.name, func(t *testing.T) {
			targets := []any{new(any), new(msg), new([]int), new(map[string]any), new(string)}
			for _, target := range targets {
				start := time.Now()
				err := c.Unmarshal(tt.data, target)
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Unmarshal into %T = %v, want ErrMalformed", target, err)
				}
				if d := time.Since(start); d > time.Second {
					t.Fatalf("Unmarshal into %T took %v", target, d)
				}
			}
		})
	}
}

func TestValidMsgpackDepth(t *testing.T) {
	nest := func(open []byte, depth int, leaf byte) []byte {
		return append(bytes.Repeat(open, depth), leaf)
	}
	for _, open := range [][]byte{{0x91}, {0x81, 0xa0}, {0xdc, 0x00, 0x01}} {
		if err := validMsgpack(nest(open, maxMsgpackDepth, 0x01), maxMsgpackDepth); err != nil {
			t.Errorf("% x at depth %d: %v", open, maxMsgpackDepth, err)
		}
		err := validMsgpack(nest(open, maxMsgpackDepth+1, 0x01), maxMsgpackDepth)
		if !errors.Is(err, ErrTooDeep) || !errors.Is(err, ErrMalformed) {
			t.Errorf("% x at depth %d: %v, want ErrTooDeep and ErrMalformed", open, maxMsgpackDepth+1, err)
		}
	}
	var v any
	err := NewMsgpack().Unmarshal(bytes.Repeat([]byte{0x91}, 100000), &v)
	if !errors.Is(err, ErrTooDeep) {
		t.Fatalf("Unmarshal(deep) = %v, want ErrTooDeep", err)
	}
}

func TestValidMsgpackAcceptsEncoderOutput(t *testing.T) {
	values := []any{
		nil, true, 0, -1, -32, -33, 127, 128, 255, 256, 65535, 65536, uint32(math.MaxUint32),
		int64(math.MinInt64), uint64(math.MaxUint64), float32(1.5), 2.5,
		"", "short", strings.Repeat("s", 31), strings.Repeat("s", 32), strings.Repeat("s", 256),
		strings.Repeat("s", 65536), []byte{}, bytes.Repeat([]byte{1}, 256), bytes.Repeat([]byte{1}, 65536),
		[]any{}, make([]any, 16), make([]any, 65536), map[string]any{}, sampleMsg(),
		time.Unix(0, 0), time.Unix(1<<33, 5), time.Unix(1<<40, 5), map[int]bool{1: true, -5: false},
	}
	m16 := make(map[string]int, 16)
	for i := range 16 {
		m16[strings.Repeat("k", i+1)] = i
	}
	values = append(values, m16)
	for _, v := range values {
		b, err := NewMsgpack().Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%T): %v", v, err)
		}
		if err := validMsgpack(b, maxMsgpackDepth); err != nil {
			t.Errorf("validMsgpack(Marshal(%T)) = %v", v, err)
		}
	}
}

func TestMsgpackRejectsTruncation(t *testing.T) {
	b, err := NewMsgpack().Marshal(sampleMsg())
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(b) {
		var v any
		if err := NewMsgpack().Unmarshal(b[:i], &v); !errors.Is(err, ErrMalformed) {
			t.Fatalf("prefix of %d/%d bytes: %v, want ErrMalformed", i, len(b), err)
		}
	}
	for _, extra := range [][]byte{{0x00}, {0xc0}, {0xff, 0xff}} {
		var v any
		if err := NewMsgpack().Unmarshal(append(bytes.Clone(b), extra...), &v); !errors.Is(err, ErrMalformed) {
			t.Fatalf("trailing % x: %v, want ErrMalformed", extra, err)
		}
	}
}

func TestMsgpackRecoversDecoderPanic(t *testing.T) {
	// The library panics putting a []byte key into a map[any]any.
	var m map[any]any
	err := NewMsgpack().Unmarshal([]byte{0x81, 0xc4, 0x01, 'a', 0x01}, &m)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("Unmarshal = %v, want ErrMalformed", err)
	}
}

func TestMsgpackHostileHeaderAllocatesLittle(t *testing.T) {
	const runs = 100
	c := NewMsgpack()
	for _, tt := range hostileInputs[1:6] {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range runs {
			var v any
			if err := c.Unmarshal(tt.data, &v); err == nil {
				t.Fatalf("%s: accepted", tt.name)
			}
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / runs; per >= 1<<20 {
			t.Errorf("%s: %d bytes allocated per Unmarshal", tt.name, per)
		}
	}
}

func TestValidMsgpackDoesNotAllocate(t *testing.T) {
	b, err := NewMsgpack().Marshal(sampleMsg())
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := validMsgpack(b, maxMsgpackDepth); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("validMsgpack allocates %v times per run", allocs)
	}
}
