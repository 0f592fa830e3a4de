package discovery

import (
	"fmt"
	"sync"
)

// EventType says what happened to a member.
type EventType int

const (
	// EventJoin: the member became alive (it joined, or came back after a
	// failure). Its State is often still empty; an EventUpdate follows
	// once its state document has been fetched.
	EventJoin EventType = iota + 1
	// EventLeave: the member left gracefully (it called Close).
	EventLeave
	// EventFail: the member stopped answering and was declared dead.
	EventFail
	// EventUpdate: the member's Meta or State changed. Member carries the
	// new values.
	EventUpdate
)

func (t EventType) String() string {
	switch t {
	case EventJoin:
		return "join"
	case EventLeave:
		return "leave"
	case EventFail:
		return "fail"
	case EventUpdate:
		return "update"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is a change of one member, including the local member. Member is a
// snapshot taken when the change happened; its slices must not be modified.
type Event struct {
	Type   EventType
	Member Member
}

const (
	// eventChanCap is the buffer of the channel returned by Events.
	eventChanCap = 256
	// maxPendingUpdates bounds the EventUpdate events queued behind a slow
	// consumer; past it the oldest EventUpdate is dropped. Join, Leave and
	// Fail are never dropped.
	maxPendingUpdates = 4096
)

// eventQueue decouples memberlist's callbacks from the consumer: push never
// blocks. A pending EventUpdate is superseded by a newer one for the same
// member (the newer snapshot carries everything the older one did), and when
// more than maxPendingUpdates updates are pending the oldest is dropped.
// Join, Leave and Fail events are kept in order and never dropped.
type eventQueue struct {
	mu      sync.Mutex
	q       []Event
	updates int
	dropped uint64
	signal  chan struct{}
}

func newEventQueue() *eventQueue {
	return &eventQueue{signal: make(chan struct{}, 1)}
}

func (e *eventQueue) push(ev Event) {
	e.mu.Lock()
	if ev.Type == EventUpdate {
		e.supersedeLocked(ev.Member.Name)
		if e.updates >= maxPendingUpdates {
			e.dropOldestUpdateLocked()
		}
		e.updates++
	}
	e.q = append(e.q, ev)
	e.mu.Unlock()
	select {
	case e.signal <- struct{}{}:
	default:
	}
}

// supersedeLocked removes a pending update of name if no other event of that
// member follows it.
func (e *eventQueue) supersedeLocked(name string) {
	for i := len(e.q) - 1; i >= 0; i-- {
		if e.q[i].Member.Name != name {
			continue
		}
		if e.q[i].Type == EventUpdate {
			e.removeLocked(i)
		}
		return
	}
}

func (e *eventQueue) dropOldestUpdateLocked() {
	for i, ev := range e.q {
		if ev.Type == EventUpdate {
			e.removeLocked(i)
			e.dropped++
			return
		}
	}
}

func (e *eventQueue) removeLocked(i int) {
	if e.q[i].Type == EventUpdate {
		e.updates--
	}
	copy(e.q[i:], e.q[i+1:])
	e.q[len(e.q)-1] = Event{}
	e.q = e.q[:len(e.q)-1]
}

// pop returns the oldest event, waiting until one is queued or stop closes.
func (e *eventQueue) pop(stop <-chan struct{}) (Event, bool) {
	for {
		e.mu.Lock()
		if len(e.q) > 0 {
			ev := e.q[0]
			e.q[0] = Event{}
			e.q = e.q[1:]
			if ev.Type == EventUpdate {
				e.updates--
			}
			e.mu.Unlock()
			return ev, true
		}
		e.mu.Unlock()
		select {
		case <-e.signal:
		case <-stop:
			return Event{}, false
		}
	}
}

// deliver forwards queued events to out in order until stop closes, then
// closes out. It is the only sender on out.
func (e *eventQueue) deliver(out chan<- Event, stop <-chan struct{}) {
	defer close(out)
	for {
		ev, ok := e.pop(stop)
		if !ok {
			return
		}
		select {
		case out <- ev:
		case <-stop:
			return
		}
	}
}
