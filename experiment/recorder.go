package experiment

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
)

// Recorder collects a history from concurrent clients, and optionally
// writes each Op as a JSON line to a sink as it comes, so that a history
// survives a runner that dies before analysing it (read it back with
// ReadOps).
type Recorder struct {
	mu   sync.Mutex
	ops  []Op
	sink *bufio.Writer // nil: memory only
	enc  *json.Encoder
	err  error // the sink's first error
}

// NewRecorder returns a recorder that also writes to sink, if not nil;
// call Flush when done.
func NewRecorder(sink io.Writer) *Recorder {
	r := &Recorder{}
	if sink != nil {
		r.sink = bufio.NewWriter(sink)
		r.enc = json.NewEncoder(r.sink)
	}
	return r
}

// Add records op. It is safe for concurrent use.
func (r *Recorder) Add(op Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
	if r.enc != nil && r.err == nil {
		if err := r.enc.Encode(op); err != nil {
			r.err = fmt.Errorf("experiment: record op: %w", err)
		}
	}
}

// Ops returns a copy of the history, sorted by Start.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	ops := slices.Clone(r.ops)
	r.mu.Unlock()
	sortByStart(ops)
	return ops
}

// Flush writes what the sink has buffered, and returns its first error.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sink != nil && r.err == nil {
		if err := r.sink.Flush(); err != nil {
			r.err = fmt.Errorf("experiment: record op: %w", err)
		}
	}
	return r.err
}

// ReadOps reads a history written by a Recorder's sink, sorted by Start.
func ReadOps(rd io.Reader) ([]Op, error) {
	var ops []Op
	dec := json.NewDecoder(rd)
	for {
		var op Op
		err := dec.Decode(&op)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("experiment: read op %d: %w", len(ops)+1, err)
		}
		ops = append(ops, op)
	}
	sortByStart(ops)
	return ops, nil
}

// sortByStart sorts ops by Start, then End, keeping the order of ties.
func sortByStart(ops []Op) {
	slices.SortStableFunc(ops, func(a, b Op) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return a.End.Compare(b.End)
	})
}
