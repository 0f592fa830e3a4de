package experiment

import (
	"fmt"
	"slices"
	"testing"
)

func publish(pub, stream string, seq uint64, at0 int) Op {
	return Op{Client: pub, Kind: "publish", Key: stream, Value: fmt.Sprintf("%s-%d", pub, seq), Seq: seq,
		Start: atMS(at0), End: atMS(at0), Outcome: OK}
}

func receive(sub, stream, id string, at0 int) Op {
	return Op{Client: sub, Kind: "receive", Key: stream, Value: id, Start: atMS(at0), End: atMS(at0), Outcome: OK}
}

func TestStreamStats(t *testing.T) {
	var ops []Op
	for i := uint64(1); i <= 10; i++ {
		ops = append(ops, publish("p1", "pose", i, int(i)*10))
	}
	ops = append(ops, publish("p2", "pose", 1, 5), publish("p2", "pose", 2, 15))
	// s1 misses 4, 5 and 8; receives 7 twice, and 6 after 7.
	for i, seq := range []int{1, 2, 3, 7, 6, 7, 9, 10} {
		ops = append(ops, receive("s1", "pose", fmt.Sprint("p1-", seq), 200+i))
	}
	ops = append(ops, receive("s1", "pose", "p2-1", 199), receive("s1", "pose", "p2-2", 199))
	// s2 joins late: its first message is p1's 6th; p2 published before.
	for i, seq := range []int{6, 7, 8, 10} {
		ops = append(ops, receive("s2", "pose", fmt.Sprint("p1-", seq), 300+i))
	}
	ops = append(ops, receive("s2", "pose", "nobody-1", 310))
	sortByStart(ops)
	stats, unmatched := checkStreams(ops)
	if unmatched != 1 {
		t.Fatalf("unmatched %d, want 1", unmatched)
	}
	want := []StreamStats{
		{Stream: "pose", Publisher: "p1", Published: 10, Subscribers: []Delivery{
			{Subscriber: "s1", Expected: 10, Received: 7, Lost: 3, Loss: 0.3, Gaps: 2, LongestGap: 2, Duplicates: 1, Reordered: 1},
			{Subscriber: "s2", Expected: 5, Received: 4, Lost: 1, Loss: 0.2, Gaps: 1, LongestGap: 1},
		}},
		{Stream: "pose", Publisher: "p2", Published: 2, Subscribers: []Delivery{
			{Subscriber: "s1", Expected: 2, Received: 2},
			{Subscriber: "s2"},
		}},
	}
	if len(stats) != len(want) {
		t.Fatalf("got %+v", stats)
	}
	for i := range want {
		if g, w := stats[i], want[i]; g.Stream != w.Stream || g.Publisher != w.Publisher ||
			g.Published != w.Published || !slices.Equal(g.Subscribers, w.Subscribers) {
			t.Errorf("got  %+v\nwant %+v", g, w)
		}
	}
}

// TestStreamNumberedByStart numbers messages by publish order when the
// runner gave no sequence numbers.
func TestStreamNumberedByStart(t *testing.T) {
	var ops []Op
	for i := range 5 {
		p := publish("p", "s", 0, i)
		p.Value = fmt.Sprint("m", i)
		ops = append(ops, p)
	}
	ops = append(ops, receive("r", "s", "m0", 10), receive("r", "s", "m3", 11), receive("r", "s", "m4", 12))
	stats, _ := checkStreams(ops)
	d := stats[0].Subscribers[0]
	if d.Expected != 5 || d.Received != 3 || d.Gaps != 1 || d.LongestGap != 2 {
		t.Fatalf("got %+v", d)
	}
}
