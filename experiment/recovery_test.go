package experiment

import (
	"testing"
	"time"
)

// loadWith returns one op every 10 ms for 3 s, each taking 5 ms, puts and
// gets in turn; failing(op) marks those that fail.
func loadWith(failing func(op Op) string) []Op {
	var ops []Op
	for i := range 300 {
		kind := []string{"put", "get"}[i%2]
		op := Op{Client: "c", Kind: kind, Key: "k", Start: atMS(i * 10), End: atMS(i*10 + 5), Outcome: OK}
		if o := failing(op); o != "" {
			op.Outcome = o
		}
		ops = append(ops, op)
	}
	return ops
}

func within(op Op, from, to int) bool {
	return !op.Start.Before(atMS(from)) && op.Start.Before(atMS(to))
}

func TestRecovery(t *testing.T) {
	ops := loadWith(func(op Op) string {
		switch {
		case op.Kind == "put" && within(op, 1200, 1500) && !op.Start.Equal(atMS(1300)):
			return Unknown // puts fail from 1.2 s to 1.5 s, but one
		case within(op, 2600, 2700):
			return Fail // healing the second fault disrupts for 100 ms
		}
		return ""
	})
	faults := []Fault{
		{Name: "kill leader", Start: atMS(1000), End: atMS(2000)},
		{Name: "partition", Start: atMS(2500), End: atMS(2600)},
		{Name: "pause", Start: atMS(2900)}, // to the end
	}
	rec := checkRecovery(ops, faults, 5)
	if len(rec) != 3 {
		t.Fatalf("got %d faults", len(rec))
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	kill := rec[0]
	// All ops: a run of 5 answers begins with the get at 1.49 s.
	want := Recovery{Ops: 150, Failures: 14, FirstFailure: ms(205), Recovered: ms(495), AfterEnd: ms(5), Stalled: ms(20)}
	if kill.Recovery != want {
		t.Errorf("kill leader: got  %+v\nwant %+v", kill.Recovery, want)
	}
	if got := kill.ByKind["get"]; got.Failures != 0 || got.Recovered != 0 || got.FirstFailure != Never {
		t.Errorf("kill leader, gets: %+v", got)
	}
	// Puts alone: the lone success at 1.3 s is not a recovery.
	if got := kill.ByKind["put"]; got.Failures != 14 || got.Recovered != ms(505) {
		t.Errorf("kill leader, puts: %+v", got)
	}
	part := rec[1]
	want = Recovery{Ops: 40, Failures: 10, FirstFailure: ms(105), Recovered: ms(205), AfterEnd: ms(105), Stalled: ms(110)}
	if part.Recovery != want {
		t.Errorf("partition: got  %+v\nwant %+v", part.Recovery, want)
	}
	pause := rec[2]
	if pause.Failures != 0 || pause.Recovered != 0 || pause.AfterEnd != Never || pause.FirstFailure != Never {
		t.Errorf("pause: %+v", pause.Recovery)
	}
}

// TestNeverRecovered: failures to the end of the history.
func TestNeverRecovered(t *testing.T) {
	ops := loadWith(func(op Op) string {
		if within(op, 1000, 3000) {
			return Fail
		}
		return ""
	})
	r := checkRecovery(ops, []Fault{{Name: "kill all", Start: atMS(1000), End: atMS(2000)}}, 5)[0]
	if r.Recovered != Never || r.AfterEnd != Never || r.FirstFailure != 5*time.Millisecond {
		t.Fatalf("got %+v", r.Recovery)
	}
}

// TestConflictsAreAnswers: a swap refused for a conflict is not a failure.
func TestConflictsAreAnswers(t *testing.T) {
	ops := loadWith(func(op Op) string { return "" })
	for i := range ops {
		if within(ops[i], 1000, 1100) {
			ops[i] = conflicted(cas("c", "k", 1, "v", 0, 0, 0), 2)
			ops[i].Start, ops[i].End = atMS(1000+i), atMS(1001+i)
		}
	}
	sortByStart(ops)
	r := checkRecovery(ops, []Fault{{Name: "f", Start: atMS(1000), End: atMS(1100)}}, 5)[0]
	if r.Failures != 0 {
		t.Fatalf("got %+v", r.Recovery)
	}
}

func TestStalled(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	if got := stalled(t0, at(2000), []time.Time{at(1500), at(100), at(1600)}); got != 1400*time.Millisecond {
		t.Errorf("stalled = %v, want 1.4s", got)
	}
	// quiet after the fault's end and its first answer is not a stall
	if got := stalled(t0, at(300), []time.Time{at(100), at(350), at(5000)}); got != 250*time.Millisecond {
		t.Errorf("stalled with a quiet tail = %v, want 250ms", got)
	}
	if got := stalled(t0, at(300), nil); got != Never {
		t.Errorf("stalled with no answer = %v, want Never", got)
	}
}
