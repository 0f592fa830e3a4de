package experiment

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// StreamStats is what became of one publisher's messages on a stream.
type StreamStats struct {
	Stream      string     `json:"stream"`
	Publisher   string     `json:"publisher"`
	Published   int        `json:"published"` // publish ops that succeeded
	Subscribers []Delivery `json:"subscribers,omitempty"`
}

// Delivery is what one subscriber received of one publisher's messages.
// A subscriber is expected to receive what was published from the first
// message it received of that publisher, or else from its first receipt on
// the stream (streams are not replayed to late joiners).
type Delivery struct {
	Subscriber string  `json:"subscriber"`
	Expected   int     `json:"expected"`
	Received   int     `json:"received"` // distinct expected messages received
	Lost       int     `json:"lost"`     // Expected - Received
	Loss       float64 `json:"loss"`     // Lost / Expected
	Gaps       int     `json:"gaps"`     // runs of consecutive lost messages
	LongestGap int     `json:"longest_gap"`
	Duplicates int     `json:"duplicates"` // receipts of a message received before
	Reordered  int     `json:"reordered"`  // receipts of a message older than one received before
}

// msgID names a message: its stream and id.
type msgID struct{ stream, id string }

type published struct {
	pub [2]string // stream, publisher
	seq uint64
	ok  bool
	at  time.Time
}

// checkStreams matches receive ops to publish ops by stream and message
// id; it also returns how many receipts matched no publish.
func checkStreams(ops []Op) ([]StreamStats, int) {
	msgs, byPub := publishes(ops)
	receipts := make(map[[2]string][]Op) // stream, subscriber
	first := make(map[[2]string]time.Time)
	var subs [][2]string
	unmatched := 0
	for _, op := range ops {
		if op.Kind != "receive" {
			continue
		}
		sk := [2]string{op.Key, op.Client}
		if _, ok := msgs[msgID{op.Key, op.Value}]; !ok {
			unmatched++
			continue
		}
		if receipts[sk] == nil {
			subs = append(subs, sk)
			first[sk] = op.Start
		}
		receipts[sk] = append(receipts[sk], op)
	}
	slices.SortFunc(subs, compare2)
	var out []StreamStats
	for _, pk := range sortedKeys(byPub) {
		pubs := byPub[pk]
		s := StreamStats{Stream: pk[0], Publisher: pk[1]}
		for _, id := range pubs {
			if msgs[msgID{pk[0], id}].ok {
				s.Published++
			}
		}
		for _, sk := range subs {
			if sk[0] == pk[0] {
				s.Subscribers = append(s.Subscribers, deliver(sk[1], first[sk], pk, pubs, msgs, receipts[sk]))
			}
		}
		out = append(out, s)
	}
	return out, unmatched
}

// publishes indexes the publish ops: each message by id, and each
// publisher's (stream, client) message ids in sequence order.
func publishes(ops []Op) (map[msgID]published, map[[2]string][]string) {
	byPub := make(map[[2]string][]Op)
	for _, op := range ops {
		if op.Kind == "publish" {
			pk := [2]string{op.Key, op.Client}
			byPub[pk] = append(byPub[pk], op)
		}
	}
	msgs := make(map[msgID]published)
	ids := make(map[[2]string][]string, len(byPub))
	for _, pk := range sortedKeys(byPub) {
		pops := byPub[pk]
		numbered := !slices.ContainsFunc(pops, func(op Op) bool { return op.Seq == 0 })
		if numbered {
			slices.SortStableFunc(pops, func(a, b Op) int { return cmp.Compare(a.Seq, b.Seq) })
		}
		for i, op := range pops {
			seq := op.Seq
			if !numbered {
				seq = uint64(i + 1)
			}
			id := msgID{pk[0], op.Value}
			if _, dup := msgs[id]; dup {
				continue
			}
			msgs[id] = published{pub: pk, seq: seq, ok: op.Outcome == OK, at: op.Start}
			ids[pk] = append(ids[pk], op.Value)
		}
	}
	return msgs, ids
}

// deliver compares what sub received with what publisher pk published.
func deliver(sub string, joined time.Time, pk [2]string, pubs []string, msgs map[msgID]published, got []Op) Delivery {
	d := Delivery{Subscriber: sub}
	seen := make(map[string]bool)
	var from, top uint64 // first expected sequence; highest received so far
	for _, id := range pubs {
		if m := msgs[msgID{pk[0], id}]; from == 0 && !m.at.Before(joined) {
			from = m.seq
		}
	}
	for _, op := range got {
		m := msgs[msgID{pk[0], op.Value}]
		if m.pub != pk {
			continue // another publisher's
		}
		if seen[op.Value] {
			d.Duplicates++
			continue
		}
		seen[op.Value] = true
		if m.seq < top {
			d.Reordered++
		}
		top = max(top, m.seq)
		if from == 0 || m.seq < from {
			from = m.seq
		}
	}
	gap := 0
	for _, id := range pubs {
		m := msgs[msgID{pk[0], id}]
		if !m.ok || from == 0 || m.seq < from {
			continue
		}
		d.Expected++
		if seen[id] {
			d.Received++
			gap = 0
			continue
		}
		if gap == 0 {
			d.Gaps++
		}
		gap++
		d.LongestGap = max(d.LongestGap, gap)
	}
	d.Lost = d.Expected - d.Received
	if d.Expected > 0 {
		d.Loss = float64(d.Lost) / float64(d.Expected)
	}
	return d
}

func compare2(a, b [2]string) int {
	return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
}

func sortedKeys[V any](m map[[2]string]V) [][2]string {
	keys := make([][2]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compare2)
	return keys
}
