package experiment

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func checkOps(t *testing.T, ops ...Op) Linearizability {
	t.Helper()
	return checkLinearizable(ops, 10*time.Second, "")
}

func TestLinearizableHistoryPasses(t *testing.T) {
	l := checkOps(t,
		put("a", "x", "1", 1, 0, 10),
		get("b", "x", "", 0, 0, 2), // before the put took effect
		get("b", "x", "1", 1, 11, 12),
		put("a", "y", "2", 2, 5, 20),
		get("c", "y", "2", 2, 6, 25), // concurrent with the put, after it
		cas("a", "x", 1, "3", 3, 30, 40),
		conflicted(cas("b", "x", 1, "4", 0, 35, 45), 3), // lost the race
		get("c", "x", "3", 3, 46, 50),
		del("a", "x", "true", 60, 70),
		get("b", "x", "", 0, 71, 72),
		cas("c", "x", 0, "5", 4, 80, 90), // recreate
		conflicted(cas("b", "x", 0, "6", 0, 91, 92), 4),
		del("a", "y", "", 100, 101),
		del("a", "y", "false", 102, 103),
	)
	if l.Verdict != Linearizable || l.Keys != 2 || l.Ops != 14 {
		t.Fatalf("got %+v", l)
	}
}

func TestStaleReadFails(t *testing.T) {
	l := checkOps(t,
		put("a", "x", "1", 1, 0, 10),
		put("a", "x", "2", 2, 20, 30),
		get("b", "x", "1", 1, 40, 50), // overwritten before it began
		put("a", "y", "3", 3, 0, 10),
		get("b", "y", "3", 3, 40, 50),
	)
	if l.Verdict != Illegal || !slices.Equal(l.Illegal, []string{"x"}) {
		t.Fatalf("got %+v, want x illegal", l)
	}
}

// TestIllegalHistories checks that the model catches each way a store can
// misbehave.
func TestIllegalHistories(t *testing.T) {
	for name, ops := range map[string][]Op{
		"read of a value never written": {put("a", "x", "1", 1, 0, 10), get("b", "x", "9", 1, 20, 30)},
		"read of a wrong revision":      {put("a", "x", "1", 1, 0, 10), get("b", "x", "1", 2, 20, 30)},
		"read of absent after a write":  {put("a", "x", "1", 1, 0, 10), get("b", "x", "", 0, 20, 30)},
		"revision going back":           {put("a", "x", "1", 5, 0, 10), put("a", "x", "2", 4, 20, 30)},
		"failed write that happened":    {failed(put("a", "x", "1", 0, 0, 10)), get("b", "x", "1", 1, 20, 30)},
		"swap on a wrong revision":      {put("a", "x", "1", 1, 0, 10), cas("b", "x", 7, "2", 2, 20, 30)},
		"conflict though at the revision": {
			put("a", "x", "1", 1, 0, 10), conflicted(cas("b", "x", 1, "2", 0, 20, 30), 0)},
		"conflict naming a wrong revision": {
			put("a", "x", "1", 1, 0, 10), conflicted(cas("b", "x", 5, "2", 0, 20, 30), 3)},
		"conflict naming absent": {
			put("a", "x", "1", 1, 0, 10), conflicted(cas("b", "x", 5, "2", 0, 20, 30), 0)},
		"delete of an absent key that existed": {
			put("a", "x", "1", 1, 0, 10), del("b", "x", "false", 20, 30)},
		"delete undone": {
			put("a", "x", "1", 1, 0, 10), del("b", "x", "true", 20, 30), get("a", "x", "1", 1, 40, 50)},
		"swap to a revision below the expected one": {
			put("a", "x", "1", 2, 0, 10), unknown(put("a", "x", "u", 0, 12, 14)), cas("b", "x", 7, "2", 6, 20, 30)},
		"revision reused after a delete": {
			put("a", "x", "1", 4, 0, 10), del("b", "x", "true", 20, 30), put("a", "x", "2", 4, 40, 50)},
	} {
		t.Run(name, func(t *testing.T) {
			if l := checkOps(t, ops...); l.Verdict != Illegal {
				t.Fatalf("judged %s", l.Verdict)
			}
		})
	}
}

// TestUnknownOutcomes checks that a write of unknown outcome may have
// happened, at any time after its call, or not at all, but not both.
func TestUnknownOutcomes(t *testing.T) {
	lost := unknown(put("a", "x", "u", 0, 10, 20))
	for name, c := range map[string]struct {
		ops  []Op
		want string
	}{
		"took effect": {[]Op{put("a", "x", "1", 1, 0, 5), lost, get("b", "x", "u", 2, 30, 40)}, Linearizable},
		"took effect late": {[]Op{put("a", "x", "1", 1, 0, 5), lost,
			get("b", "x", "1", 1, 30, 40), get("b", "x", "u", 2, 1000, 1010)}, Linearizable},
		"never took effect": {[]Op{put("a", "x", "1", 1, 0, 5), lost, get("b", "x", "1", 1, 30, 40)}, Linearizable},
		"took effect, then undone": {[]Op{put("a", "x", "1", 1, 0, 5), lost,
			get("b", "x", "u", 2, 30, 40), get("b", "x", "1", 1, 50, 60)}, Illegal},
		"seen before its call":        {[]Op{put("a", "x", "1", 1, 0, 5), get("b", "x", "u", 2, 6, 8), lost}, Illegal},
		"revision below the previous": {[]Op{put("a", "x", "1", 5, 0, 5), lost, get("b", "x", "u", 3, 30, 40)}, Illegal},
		"revision of the previous":    {[]Op{put("a", "x", "1", 5, 0, 5), lost, get("b", "x", "u", 5, 30, 40)}, Illegal},
		"conflict after it": {[]Op{put("a", "x", "1", 5, 0, 5), lost,
			conflicted(cas("b", "x", 5, "s", 0, 30, 40), 6), get("b", "x", "u", 6, 50, 60)}, Linearizable},
		"conflict not naming a revision after it": {[]Op{put("a", "x", "1", 5, 0, 5), lost,
			failed(cas("b", "x", 5, "s", 0, 30, 40)), get("b", "x", "u", 6, 50, 60)}, Linearizable},
		"swap took effect": {[]Op{put("a", "x", "1", 1, 0, 5), unknown(cas("a", "x", 1, "s", 0, 10, 20)),
			get("b", "x", "s", 2, 30, 40)}, Linearizable},
		"swap on a wrong revision took effect": {[]Op{put("a", "x", "1", 1, 0, 5),
			unknown(cas("a", "x", 9, "s", 0, 10, 20)), get("b", "x", "s", 10, 30, 40)}, Illegal},
		"delete took effect": {[]Op{put("a", "x", "1", 1, 0, 5), unknown(del("a", "x", "", 10, 20)),
			get("b", "x", "", 0, 30, 40)}, Linearizable},
		"delete never took effect": {[]Op{put("a", "x", "1", 1, 0, 5), unknown(del("a", "x", "", 10, 20)),
			get("b", "x", "1", 1, 30, 40)}, Linearizable},
		"unknown read tells nothing": {[]Op{put("a", "x", "1", 1, 0, 5),
			unknown(get("b", "x", "zzz", 7, 30, 40))}, Linearizable},
	} {
		t.Run(name, func(t *testing.T) {
			if l := checkOps(t, c.ops...); l.Verdict != c.want {
				t.Fatalf("judged %s, want %s", l.Verdict, c.want)
			}
		})
	}
}

func TestLinearizabilityTimeoutIsUnknown(t *testing.T) {
	ops := []Op{put("a", "x", "1", 1, 0, 10), get("b", "x", "1", 1, 20, 30)}
	l := checkLinearizable(ops, time.Nanosecond, "")
	if l.Verdict != Undecided || !slices.Equal(l.Unknown, []string{"x"}) {
		t.Fatalf("got %+v", l)
	}
	if l := checkLinearizable(nil, time.Second, ""); l.Verdict != NotChecked {
		t.Fatalf("empty history judged %s", l.Verdict)
	}
}

func TestVisualizeIllegal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lin.html")
	ops := []Op{put("a", "x", "1", 1, 0, 10), put("a", "x", "2", 2, 20, 30), get("b", "x", "1", 1, 40, 50)}
	l := checkLinearizable(ops, 10*time.Second, path)
	if l.Visualization != path || l.VisualizeErr != "" {
		t.Fatalf("got %+v", l)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("visualization: %v", err)
	}
}

// TestRandomHistoriesAreLinearizable runs concurrent clients against a
// reference store that applies each op at a random instant within its
// interval, writes of unknown outcome sometimes not at all: the checker
// must accept every such history, and reject it once a read is made stale.
func TestRandomHistoriesAreLinearizable(t *testing.T) {
	for seed := range uint64(40) {
		ops := randomHistory(rand.New(rand.NewPCG(seed, 1)), 120)
		if l := checkOps(t, ops...); l.Verdict != Linearizable {
			t.Fatalf("seed %d: judged %+v", seed, l)
		}
		if i := staleRead(ops); i >= 0 {
			bad := slices.Clone(ops)
			bad[i].Start, bad[i].End = atMS(100000), atMS(100001)
			if l := checkOps(t, bad...); l.Verdict != Illegal {
				t.Fatalf("seed %d: stale read of %+v judged %s", seed, bad[i], l.Verdict)
			}
		}
	}
}

// randomHistory returns n ops on 3 keys by 4 clients.
func randomHistory(r *rand.Rand, n int) []Op {
	type entry struct {
		value string
		rev   int64
	}
	store := map[string]entry{}
	var rev int64
	var ops []Op
	clientFree := make([]int, 4) // each client issues one op at a time
	for i := range n {
		c := r.IntN(len(clientFree))
		point := 10 * (i + 1) // the instant the op takes effect
		start := max(point-r.IntN(40), clientFree[c])
		if start > point {
			start = point
		}
		end := point + r.IntN(40)
		clientFree[c] = end + 1
		key := fmt.Sprintf("k%d", r.IntN(3))
		value := fmt.Sprintf("v%d", i)
		cur, exists := store[key]
		op := Op{Client: fmt.Sprint("c", c), Key: key, Start: atMS(start), End: atMS(end), Outcome: OK}
		apply := true
		if r.IntN(8) == 0 {
			op.Outcome, apply = Unknown, r.IntN(2) == 0
		}
		switch k := r.IntN(10); {
		case k < 3:
			op.Kind, op.Value = "put", value
			if apply {
				rev++
				store[key], op.Rev = entry{value, rev}, rev
			}
		case k < 6:
			op.Kind, op.Outcome, op.Value, op.Rev = "get", OK, cur.value, cur.rev
		case k < 8:
			op.Kind, op.Value, op.Prev = "cas", value, cur.rev
			if r.IntN(3) == 0 {
				op.Prev = int64(r.IntN(int(rev) + 1))
			}
			switch {
			case op.Prev != cur.rev && op.Outcome == OK:
				op = conflicted(op, cur.rev)
			case op.Prev == cur.rev && apply:
				rev++
				store[key], op.Rev = entry{value, rev}, rev
			}
		default:
			op.Kind, op.Value = "delete", fmt.Sprint(exists)
			if apply && exists {
				rev++
				delete(store, key)
			}
		}
		if op.Outcome == Unknown {
			op.Rev = 0
		}
		ops = append(ops, op)
	}
	return ops
}

// staleRead returns the index of an ok get whose value a later ok put
// of the same key overwrote, or -1.
func staleRead(ops []Op) int {
	for i, g := range ops {
		if g.Kind != "get" || g.Rev == 0 {
			continue
		}
		for _, w := range ops[i+1:] {
			if w.Kind == "put" && w.Key == g.Key && w.Outcome == OK {
				return i
			}
		}
	}
	return -1
}
