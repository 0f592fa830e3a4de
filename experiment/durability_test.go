package experiment

import (
	"slices"
	"testing"
)

func TestLostWrites(t *testing.T) {
	ops := []Op{
		// a: the last acknowledged write is missing.
		put("c1", "a", "a1", 1, 0, 10),
		// b: a later write superseded the first; the final read shows it.
		put("c1", "b", "b1", 2, 0, 10), put("c2", "b", "b2", 5, 20, 30),
		// c: concurrent writes, ordered by revision: c2 is last but lost.
		put("c1", "c", "c1", 7, 0, 100), put("c2", "c", "c2", 8, 10, 90),
		// d: a write of unknown outcome may have come last.
		put("c1", "d", "d1", 3, 0, 10), unknown(put("c2", "d", "du", 0, 5, 8)),
		// e: deleted after the write; absent is right.
		put("c1", "e", "e1", 4, 0, 10), del("c2", "e", "true", 20, 30),
		// f: a failed write cannot explain the final value.
		put("c1", "f", "f1", 6, 0, 10), failed(put("c2", "f", "ff", 0, 20, 30)),
		// g: a swap acknowledged and then lost (key absent).
		cas("c1", "g", 0, "g1", 9, 0, 10),
		// h: only failed writes: nothing acknowledged to lose.
		failed(put("c1", "h", "h1", 0, 0, 10)),
	}
	final := map[string]string{"a": "", "b": "b2", "c": "c1", "d": "du", "f": "ff", "h": "h1"}
	d := checkDurability(ops, final)
	want := []LostWrite{
		{Key: "a", Kind: "put", Want: "a1", Rev: 1, Got: ""},
		{Key: "c", Kind: "put", Want: "c2", Rev: 8, Got: "c1"},
		{Key: "f", Kind: "put", Want: "f1", Rev: 6, Got: "ff"},
		{Key: "g", Kind: "cas", Want: "g1", Rev: 9, Absent: true},
	}
	if !slices.Equal(d.Lost, want) {
		t.Fatalf("lost %+v\nwant %+v", d.Lost, want)
	}
	if d.Keys != 7 || len(d.Unread) != 0 {
		t.Fatalf("checked %d keys, unread %v; want 7, none", d.Keys, d.Unread)
	}
}

// TestLostWritesFromFinalGets takes the final reads from the history.
func TestLostWritesFromFinalGets(t *testing.T) {
	ops := []Op{
		put("c1", "a", "a1", 1, 0, 10),
		get("c2", "a", "a1", 1, 5, 8), // during the write: not a final read
		get("c2", "a", "", 0, 50, 60), // final: the write is lost
		put("c1", "b", "b1", 2, 0, 10),
		get("c2", "b", "b1", 2, 50, 60),
		put("c1", "c", "c1", 3, 0, 10), // never read back
		get("c2", "c", "c1", 3, 5, 9),
		del("c1", "d", "false", 0, 10), // a delete lost: the key came back
		get("c2", "d", "ghost", 4, 50, 60),
	}
	d := checkDurability(ops, nil)
	if len(d.Lost) != 2 || d.Lost[0].Key != "a" || !d.Lost[0].Absent || d.Lost[1].Key != "d" || d.Lost[1].Kind != "delete" {
		t.Fatalf("lost %+v", d.Lost)
	}
	if d.Keys != 3 || !slices.Equal(d.Unread, []string{"c"}) {
		t.Fatalf("checked %d, unread %v; want 3, [c]", d.Keys, d.Unread)
	}
}

// TestLostWritesWithoutRevisions orders writes by time when revisions are
// missing: concurrent ones may each be last.
func TestLostWritesWithoutRevisions(t *testing.T) {
	ops := []Op{put("c1", "a", "a1", 0, 0, 10), put("c2", "a", "a2", 0, 5, 15), put("c3", "a", "a0", 0, 0, 2)}
	for v, lost := range map[string]bool{"a1": false, "a2": false, "a0": true} {
		d := checkDurability(ops, map[string]string{"a": v})
		if (len(d.Lost) > 0) != lost {
			t.Errorf("final %s: lost %+v", v, d.Lost)
		}
	}
}
