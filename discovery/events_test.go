package discovery

import (
	"fmt"
	"testing"
)

func TestEventQueueNeverBlocksAndKeepsMembership(t *testing.T) {
	q := newEventQueue()
	push := func(typ EventType, name string, ver uint64) {
		q.push(Event{Type: typ, Member: Member{Name: name, StateVersion: ver}})
	}
	// Far more than the pending limit, with nobody reading.
	for i := range maxPendingUpdates + 1000 {
		name := fmt.Sprintf("m%d", i)
		push(EventJoin, name, 0)
		push(EventUpdate, name, 1)
		push(EventUpdate, name, 2) // supersedes version 1
	}
	push(EventFail, "m0", 0)
	stop := make(chan struct{})
	close(stop)
	joins, updates := 0, 0
	var last Event
	for {
		ev, ok := q.pop(stop)
		if !ok {
			break
		}
		switch ev.Type {
		case EventJoin:
			joins++
		case EventUpdate:
			updates++
			if ev.Member.StateVersion != 2 {
				t.Fatalf("superseded update delivered: %+v", ev)
			}
		}
		last = ev
	}
	if joins != maxPendingUpdates+1000 {
		t.Fatalf("joins delivered = %d, want all", joins)
	}
	if updates != maxPendingUpdates {
		t.Fatalf("updates delivered = %d, want %d", updates, maxPendingUpdates)
	}
	if last.Type != EventFail {
		t.Fatal("order lost")
	}
	if q.dropped != 1000 {
		t.Fatalf("dropped = %d", q.dropped)
	}
}

func TestEventQueueSupersedesOnlyAfterLastEvent(t *testing.T) {
	q := newEventQueue()
	q.push(Event{Type: EventUpdate, Member: Member{Name: "a", StateVersion: 1}})
	q.push(Event{Type: EventLeave, Member: Member{Name: "a"}})
	q.push(Event{Type: EventJoin, Member: Member{Name: "a"}})
	q.push(Event{Type: EventUpdate, Member: Member{Name: "a", StateVersion: 1}})
	q.push(Event{Type: EventUpdate, Member: Member{Name: "a", StateVersion: 2}})
	stop := make(chan struct{})
	close(stop)
	var got []string
	for {
		ev, ok := q.pop(stop)
		if !ok {
			break
		}
		got = append(got, fmt.Sprintf("%v%d", ev.Type, ev.Member.StateVersion))
	}
	if fmt.Sprint(got) != "[update1 leave0 join0 update2]" {
		t.Fatalf("events = %v", got)
	}
}

func TestEventTypeString(t *testing.T) {
	for typ, want := range map[EventType]string{
		EventJoin: "join", EventLeave: "leave", EventFail: "fail", EventUpdate: "update", 0: "EventType(0)",
	} {
		if typ.String() != want {
			t.Errorf("%d: %s", typ, typ.String())
		}
	}
}
