package experiment

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestRecorder(t *testing.T) {
	var sink bytes.Buffer
	rec := NewRecorder(&sink)
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			for i := range 50 {
				ms := 1000 - 100*c - i // clients record out of order
				rec.Add(put(fmt.Sprint("c", c), "k", fmt.Sprint(c, "-", i), int64(ms), ms, ms+1))
			}
		})
	}
	wg.Wait()
	if err := rec.Flush(); err != nil {
		t.Fatal(err)
	}
	ops := rec.Ops()
	if len(ops) != 400 {
		t.Fatalf("recorded %d ops", len(ops))
	}
	for i := 1; i < len(ops); i++ {
		if ops[i].Start.Before(ops[i-1].Start) {
			t.Fatalf("op %d starts before op %d", i, i-1)
		}
	}
	if got := strings.Count(sink.String(), "\n"); got != 400 {
		t.Fatalf("sink has %d lines", got)
	}
	read, err := ReadOps(&sink)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ops {
		if !reflect.DeepEqual(normalize(read[i]), normalize(ops[i])) {
			t.Fatalf("op %d read back as %+v, recorded %+v", i, read[i], ops[i])
		}
	}
}

// normalize drops what JSON does not keep: times' locations and monotonic
// readings.
func normalize(op Op) Op {
	op.Start, op.End = op.Start.UTC().Round(0), op.End.UTC().Round(0)
	return op
}

type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRecorderSinkError(t *testing.T) {
	rec := NewRecorder(brokenWriter{})
	rec.Add(put("c", "k", "v", 1, 0, 1))
	if err := rec.Flush(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("flush: %v", err)
	}
	if len(rec.Ops()) != 1 {
		t.Fatal("the op is not kept in memory")
	}
	if err := NewRecorder(nil).Flush(); err != nil {
		t.Fatalf("flush without a sink: %v", err)
	}
}

func TestReadOpsError(t *testing.T) {
	_, err := ReadOps(strings.NewReader(`{"client":"c","kind":"put"}` + "\n" + `{"client":`))
	if err == nil || !strings.Contains(err.Error(), "op 2") {
		t.Fatalf("got %v", err)
	}
}

func FuzzReadOps(f *testing.F) {
	f.Add([]byte(`{"client":"c","kind":"put","key":"k","value":"v","rev":3,"start":"2026-03-01T12:00:00Z","end":"2026-03-01T12:00:01Z","outcome":"ok"}`))
	f.Add([]byte(`{"kind":"receive","seq":18446744073709551615}` + "\n" + `{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ops, err := ReadOps(bytes.NewReader(b))
		if err != nil {
			return
		}
		Analyze(ops, nil, nil, Options{})
	})
}
