package consensus

import (
	"fmt"
	"sort"
	"strings"
)

// history keeps the most recent events, in revision order. Events of one
// revision are kept or dropped together.
type history struct {
	events []Event
	// floor is the newest revision whose events may be gone: a watch can
	// resume from floor+1 or later.
	floor int64
}

func (h *history) add(ev Event, max int) {
	h.events = append(h.events, ev)
	if len(h.events) <= 2*max {
		return
	}
	cut := len(h.events) - max
	for cut < len(h.events) && h.events[cut].Entry.Rev == h.events[cut-1].Entry.Rev {
		cut++ // never split a revision
	}
	h.floor = h.events[cut-1].Entry.Rev
	h.events = append([]Event(nil), h.events[cut:]...)
}

// reset forgets every event: the store now starts at rev.
func (h *history) reset(rev int64) {
	h.events, h.floor = nil, rev
}

// Events returns the events of keys under prefix from revision from on, at
// most about max of them (a revision is never split), and the revision the
// answer covers: the caller resumes from it plus one. ErrCompacted means
// events from from on are no longer all kept.
func (s *Store) Events(prefix string, from int64, max int) ([]Event, int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if from < 1 {
		from = 1
	}
	if from <= s.hist.floor {
		return nil, s.rev, fmt.Errorf("%w: revision %d is gone, the oldest kept is %d", ErrCompacted, from, s.hist.floor+1)
	}
	evs := s.hist.events
	i := sort.Search(len(evs), func(i int) bool { return evs[i].Entry.Rev >= from })
	var out []Event
	for ; i < len(evs); i++ {
		if max > 0 && len(out) >= max && evs[i].Entry.Rev != evs[i-1].Entry.Rev {
			return out, evs[i-1].Entry.Rev, nil
		}
		if strings.HasPrefix(evs[i].Entry.Key, prefix) {
			out = append(out, evs[i])
		}
	}
	return out, s.rev, nil
}
