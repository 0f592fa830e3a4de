package experiment

import (
	"testing"
	"time"
)

func TestCallStats(t *testing.T) {
	call := func(outcome string, start, end int) Op {
		return Op{Client: "c", Kind: "call", Key: "svc", Start: atMS(start), End: atMS(end), Outcome: outcome}
	}
	var ops []Op
	for i := range 98 {
		ops = append(ops, call(OK, i*10, i*10+1+i%3)) // 1-3 ms
	}
	ops = append(ops,
		call(OK, 980, 1980),       // slow but within deadline + slack
		call(Fail, 1000, 1001),    // refused at once
		call(Unknown, 1000, 3000), // timed out at its deadline
		call(Unknown, 1000, 4500), // hung
		call(OK, 1100, 4600),      // hung, then answered
		Op{Kind: "put", Key: "k", Start: atMS(0), End: atMS(10), Outcome: OK},
	)
	r := Analyze(ops, nil, map[string]string{}, Options{Deadline: 2 * time.Second, Slack: time.Second})
	s := r.Kinds["call"]
	if s.Ops != 103 || s.OK != 100 || s.Fail != 1 || s.Unknown != 2 || s.Hung != 2 {
		t.Fatalf("call stats %+v", s)
	}
	if s.Latency.P50 != 2*time.Millisecond || s.Latency.P99 != time.Second || s.Latency.Max != 3500*time.Millisecond {
		t.Fatalf("latency %+v", s.Latency)
	}
	if r.Duration != 4600*time.Millisecond || r.HungAfter != 3*time.Second {
		t.Fatalf("duration %s, hung after %s", r.Duration, r.HungAfter)
	}
	if want := 100 / 4.6; s.Throughput < want-0.01 || s.Throughput > want+0.01 {
		t.Fatalf("throughput %.2f, want %.2f", s.Throughput, want)
	}
	if r.Kinds["put"].OK != 1 || r.Kinds["put"].Hung != 0 {
		t.Fatalf("put stats %+v", r.Kinds["put"])
	}
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3}
	if l := latency(ds); l.P50 != 3 || l.P99 != 5 || l.Max != 5 {
		t.Fatalf("got %+v", l)
	}
	if l := latency(nil); l != (Latency{}) {
		t.Fatalf("empty: %+v", l)
	}
}
