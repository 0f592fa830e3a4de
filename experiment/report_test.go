package experiment

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// history is a small experiment: a state workload that loses a write and
// reads stale during a fault, calls, and a stream.
func sampleHistory() ([]Op, []Fault, map[string]string) {
	ops := []Op{
		put("c1", "x", "x1", 1, 0, 10),
		put("c1", "x", "x2", 2, 20, 30),
		get("c2", "x", "x1", 1, 1100, 1110), // stale
		put("c1", "y", "y1", 3, 0, 10),
		unknown(put("c2", "y", "y2", 0, 1000, 3500)), // hung
		conflicted(cas("c1", "y", 7, "y3", 0, 1200, 1210), 3),
	}
	for i := range 30 {
		outcome := OK
		if i >= 10 && i < 15 {
			outcome = Fail
		}
		ops = append(ops, Op{Client: "c3", Kind: "call", Key: "svc", Start: atMS(900 + i*20), End: atMS(905 + i*20), Outcome: outcome})
	}
	for i := range 10 {
		ops = append(ops, publish("p", "pose", uint64(i+1), 100*i))
		if i != 4 {
			ops = append(ops, receive("s", "pose", publish("p", "pose", uint64(i+1), 0).Value, 100*i+1))
		}
	}
	faults := []Fault{{Name: "kill-leader", Start: atMS(1000), End: atMS(1300)}}
	return ops, faults, map[string]string{"x": "x1", "y": "y1"}
}

func TestAnalyzeAndSummary(t *testing.T) {
	ops, faults, final := sampleHistory()
	r := Analyze(ops, faults, final, Options{Deadline: time.Second})
	if r.Linearizability.Verdict != Illegal || len(r.Durability.Lost) != 1 || r.Durability.Lost[0].Key != "x" {
		t.Fatalf("linearizability %+v, durability %+v", r.Linearizability, r.Durability)
	}
	if k := r.Kinds["call"]; k.OK != 25 || k.Fail != 5 {
		t.Fatalf("calls %+v", k)
	}
	if k := r.Kinds["put"]; k.Hung != 1 || k.Unknown != 1 {
		t.Fatalf("puts %+v", k)
	}
	if len(r.Streams) != 1 || r.Streams[0].Subscribers[0].Lost != 1 {
		t.Fatalf("streams %+v", r.Streams)
	}
	rec := r.Recovery[0]
	if rec.Failures != 6 || rec.FirstFailure != 105*time.Millisecond || rec.Recovered != 205*time.Millisecond {
		t.Fatalf("recovery %+v", rec.Recovery)
	}
	s := r.Summary()
	t.Log("\n" + s)
	for _, want := range []string{
		"history: 55 ops in 3.5s",
		"call", "25", // ok calls
		"linearizability: ILLEGAL on 1 keys: x",
		"durability: 2 keys checked, 1 acknowledged writes lost",
		`LOST x: put "x2" @2, final read found "x1"`,
		"pose from p: 10 published",
		"9/10 received (10.00% lost), 1 gaps (longest 1)",
		"kill-leader, +1.00s to +1.30s",
		"the first 105ms after the start; recovered 205ms after the start",
		"hung(>2s)",
		"PROBLEMS:",
		"1 acknowledged writes lost",
		"1 ops hung past their deadline",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || back.Linearizability.Verdict != Illegal ||
		back.Recovery[0].Recovered != rec.Recovered || back.Recovery[0].Fault.Name != "kill-leader" {
		t.Fatalf("JSON round trip: %v, %s", err, b)
	}
}

func TestCleanRunHasNoProblems(t *testing.T) {
	ops := []Op{put("c", "k", "v", 1, 0, 10), get("c", "k", "v", 1, 20, 30)}
	r := Analyze(ops, nil, nil, Options{})
	if ps := r.Problems(); len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	s := r.Summary()
	for _, want := range []string{"linearizability: ok; 2 ops on 1 keys", "durability: 1 keys checked, 0 acknowledged writes lost", "problems: none"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}
