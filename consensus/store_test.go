package consensus

import (
	"bytes"
	"errors"
	"testing"
)

func put(s *Store, key, val string) Result {
	return s.Apply(Command{Op: OpPut, Key: key, Value: []byte(val), Codec: "json"})
}

func TestStorePutGetDelete(t *testing.T) {
	s := NewStore(0)
	if r := put(s, "a", `1`); !r.OK || r.Rev != 1 {
		t.Fatalf("put: %+v", r)
	}
	put(s, "a", `2`)
	e, ok, rev := s.Get("a")
	if !ok || string(e.Value) != "2" || e.Created != 1 || e.Rev != 2 || e.Version != 2 || rev != 2 {
		t.Fatalf("get: %+v %v %d", e, ok, rev)
	}
	if r := s.Apply(Command{Op: OpDelete, Key: "a"}); !r.OK || r.Rev != 3 {
		t.Fatalf("delete: %+v", r)
	}
	if r := s.Apply(Command{Op: OpDelete, Key: "a"}); r.OK || r.Rev != 3 {
		t.Fatalf("delete of an absent key: %+v", r)
	}
	if _, ok, _ := s.Get("a"); ok {
		t.Fatal("deleted key still there")
	}
}

func TestStoreCompareAndSwap(t *testing.T) {
	s := NewStore(0)
	if r := s.Apply(Command{Op: OpPut, Key: "lock", Value: []byte("x"), Cond: true}); !r.OK {
		t.Fatalf("create-if-absent: %+v", r)
	}
	r := s.Apply(Command{Op: OpPut, Key: "lock", Value: []byte("y"), Cond: true})
	if r.OK || r.Cur != 1 {
		t.Fatalf("second create-if-absent should fail with the current rev: %+v", r)
	}
	if r := s.Apply(Command{Op: OpPut, Key: "lock", Value: []byte("y"), Cond: true, IfRev: 1}); !r.OK || r.Rev != 2 {
		t.Fatalf("swap at the right rev: %+v", r)
	}
	if r := s.Apply(Command{Op: OpDelete, Key: "lock", Cond: true, IfRev: 1}); r.OK || r.Cur != 2 {
		t.Fatalf("delete at a stale rev: %+v", r)
	}
}

func TestStoreListByPrefix(t *testing.T) {
	s := NewStore(0)
	for _, k := range []string{"b/2", "a", "b/1", "c", "b/3"} {
		put(s, k, "1")
	}
	got, _ := s.List("b/", 0)
	if len(got) != 3 || got[0].Key != "b/1" || got[2].Key != "b/3" {
		t.Fatalf("list: %+v", got)
	}
	if got, _ := s.List("b/", 2); len(got) != 2 {
		t.Fatalf("limit: %d", len(got))
	}
	if got, _ := s.List("", 0); len(got) != 5 {
		t.Fatalf("all: %d", len(got))
	}
}

func TestStoreSessionEnds(t *testing.T) {
	s := NewStore(0)
	s.Apply(Command{Op: OpPut, Key: "lock/a", Owner: "p1"})
	s.Apply(Command{Op: OpPut, Key: "presence/p1", Owner: "p1"})
	s.Apply(Command{Op: OpPut, Key: "durable", Client: "p1", Seq: 1})
	if got := s.Sessions(); len(got) != 1 || got[0] != "p1" {
		t.Fatalf("sessions: %v", got)
	}
	r := s.Apply(Command{Op: OpEndSession, Key: "p1"})
	if r.Rev != 4 {
		t.Fatalf("ending a session is one revision: %+v", r)
	}
	if got, _ := s.List("", 0); len(got) != 1 || got[0].Key != "durable" {
		t.Fatalf("left: %+v", got)
	}
	evs, _, _ := s.Events("", 4, 0)
	if len(evs) != 2 || evs[0].Type != EventDelete || evs[0].Entry.Key != "lock/a" || evs[1].Entry.Rev != 4 {
		t.Fatalf("events: %+v", evs)
	}
	if len(s.Sessions()) != 0 {
		t.Fatal("session still known")
	}
}

func TestStoreRetryAppliesOnce(t *testing.T) {
	s := NewStore(0)
	c := Command{Op: OpPut, Key: "n", Value: []byte("1"), Client: "c", Seq: 1, Acked: 1}
	first := s.Apply(c)
	again := s.Apply(c)
	if first != again || s.Rev() != 1 {
		t.Fatalf("retry changed the store: %+v %+v rev %d", first, again, s.Rev())
	}
	s.Apply(Command{Op: OpPut, Key: "n", Value: []byte("2"), Client: "c", Seq: 2, Acked: 2})
	if len(s.clients["c"].Results) != 1 {
		t.Fatalf("acknowledged results kept: %v", s.clients["c"].Results)
	}
}

func TestStoreEventsResumeAndCompact(t *testing.T) {
	s := NewStore(3)
	for i := 0; i < 10; i++ {
		put(s, "k", "v")
	}
	if _, _, err := s.Events("", 1, 0); !errors.Is(err, ErrCompacted) {
		t.Fatalf("old revision: %v", err)
	}
	evs, through, err := s.Events("k", 9, 0)
	if err != nil || len(evs) != 2 || through != 10 {
		t.Fatalf("recent: %+v %d %v", evs, through, err)
	}
	evs, through, err = s.Events("k", 9, 1)
	if err != nil || len(evs) != 1 || through != 9 {
		t.Fatalf("limited: %+v %d %v", evs, through, err)
	}
	if evs, through, _ := s.Events("other", 9, 0); len(evs) != 0 || through != 10 {
		t.Fatalf("no match: %+v %d", evs, through)
	}
}

type memSink struct{ bytes.Buffer }

func (m *memSink) ID() string    { return "mem" }
func (m *memSink) Cancel() error { return nil }
func (m *memSink) Close() error  { return nil }

func TestStoreSnapshotRestore(t *testing.T) {
	s := NewStore(0)
	put(s, "a", "1")
	s.Apply(Command{Op: OpPut, Key: "e", Owner: "p", Client: "p", Seq: 1})
	snap := s.snapshot()
	put(s, "b", "2") // after the capture: not in it
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	r := NewStore(0)
	if err := r.restore(&sink); err != nil {
		t.Fatal(err)
	}
	if r.Rev() != 2 {
		t.Fatalf("rev %d", r.Rev())
	}
	if got, _ := r.List("", 0); len(got) != 2 {
		t.Fatalf("entries %+v", got)
	}
	if _, _, err := r.Events("", 2, 0); !errors.Is(err, ErrCompacted) {
		t.Fatalf("events before the snapshot: %v", err)
	}
	if res := r.Apply(Command{Op: OpPut, Key: "e", Owner: "p", Client: "p", Seq: 1}); res.Rev != 2 {
		t.Fatalf("the retry of a write in the snapshot ran again: %+v", res)
	}
	r.Apply(Command{Op: OpEndSession, Key: "p"})
	if _, ok, _ := r.Get("e"); ok {
		t.Fatal("owned key survived its session")
	}
}

func TestDecodeCommandRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {0xc1}, {0x81, 0xa1, 'o', 0x09}, bytes.Repeat([]byte{0xdd, 0xff, 0xff, 0xff, 0xff}, 3)} {
		if _, err := DecodeCommand(b); !errors.Is(err, ErrBadCommand) {
			t.Fatalf("%x: %v", b, err)
		}
	}
}
