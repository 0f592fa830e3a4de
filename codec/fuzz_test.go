package codec

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// FuzzMsgpackUnmarshal decodes arbitrary bytes. Seeds live in
// testdata/fuzz/FuzzMsgpackUnmarshal.
func FuzzMsgpackUnmarshal(f *testing.F) {
	c := NewMsgpack()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, target := range []any{new(msg), new(mapFields)} {
			if err := c.Unmarshal(data, target); err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Unmarshal into %T: %v does not wrap ErrMalformed", target, err)
			}
		}
		var v any
		err := c.Unmarshal(data, &v)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Unmarshal: %v does not wrap ErrMalformed", err)
			}
			return
		}
		b, err := c.Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%#v) after decoding % x: %v", v, data, err)
		}
		var again any
		if err := c.Unmarshal(b, &again); err != nil {
			t.Fatalf("re-encoded % x as % x, which fails: %v", data, b, err)
		}
	})
}

// FuzzValidate checks that validMsgpack and the decoder agree: whatever the
// validator accepts decodes, and the library walks it to the exact end.
func FuzzValidate(f *testing.F) {
	for _, in := range hostileInputs {
		f.Add(in.data)
	}
	for _, v := range []any{sampleMsg(), map[string]any{"a": []any{1, "b", nil}}, map[int]int{1: 2}} {
		b, err := NewMsgpack().Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		verr := validMsgpack(data, maxMsgpackDepth)
		var v any
		derr := NewMsgpack().Unmarshal(data, &v)
		if verr != nil {
			if !errors.Is(verr, ErrMalformed) {
				t.Fatalf("validMsgpack error %v does not wrap ErrMalformed", verr)
			}
			if derr == nil {
				t.Fatalf("Unmarshal accepted % x, which validMsgpack rejects: %v", data, verr)
			}
			return
		}
		if derr != nil {
			t.Fatalf("validMsgpack accepted % x, but Unmarshal failed: %v", data, derr)
		}
		r := bytes.NewReader(data)
		if err := msgpack.NewDecoder(r).Skip(); err != nil || r.Len() != 0 {
			t.Fatalf("library Skip on % x: %v with %d bytes left", data, err, r.Len())
		}
		widen, _ := scanMsgpack(data, maxMsgpackDepth)
		if len(widen) == 0 {
			return
		}
		wide := widenTimestamps(data, widen)
		if again, err := scanMsgpack(wide, maxMsgpackDepth); err != nil || len(again) != 0 {
			t.Fatalf("widening % x gave % x: scan found %v, %v", data, wide, again, err)
		}
	})
}

// FuzzPickleUnmarshal decodes arbitrary bytes as a pickle. Whatever
// decodes must encode again and decode from that. Seeds are the Python
// fixtures in testdata/pickle, the hostile inputs, and the crashers the
// fuzzer found, in testdata/fuzz/FuzzPickleUnmarshal.
func FuzzPickleUnmarshal(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "pickle", "*.pickle"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, in := range hostilePickles {
		if len(in.data) < 4096 {
			f.Add([]byte(in.data))
		}
	}
	c := newHostileTestPickle()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, target := range []any{new(msg), new(mapFields), new(map[string]any), new(PickleObject)} {
			if err := c.Unmarshal(data, target); err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Unmarshal into %T: %v does not wrap ErrMalformed", target, err)
			}
		}
		var v any
		if err := c.Unmarshal(data, &v); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Unmarshal: %v does not wrap ErrMalformed", err)
			}
			return
		}
		b, err := c.Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%#v) after decoding % x: %v", v, data, err)
		}
		var again any
		if err := c.Unmarshal(b, &again); err != nil {
			t.Fatalf("re-encoded % x as % x, which fails: %v", data, b, err)
		}
	})
}
