package fault

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// MaxDelay bounds Rules.Delay: longer waits would hold connections and
// shutdowns for longer than any experiment needs.
const MaxDelay = time.Minute

var (
	// ErrInvalid is returned by Set for rules it refuses; the wrapping
	// error says why.
	ErrInvalid = errors.New("fault: invalid rules")
	// ErrPartitioned is returned (wrapped) by the layers when a fault
	// partition separates this peer from the one it tries to reach.
	ErrPartitioned = errors.New("fault: a fault partition separates the peers")
)

// Rules are the faults one peer applies to its own traffic.
type Rules struct {
	// Partition lists groups of peer names: a peer named in a group
	// exchanges nothing with peers named in other groups; peers named
	// nowhere are unaffected.
	Partition [][]string `json:"partition,omitempty"`
	// Delay is added before each message or packet this peer sends, at
	// most MaxDelay.
	Delay time.Duration `json:"delay,omitempty"`
	// Drop is the probability (0 to 1) that each message or packet this
	// peer sends is lost.
	Drop float64 `json:"drop,omitempty"`
}

func (r Rules) validate() error {
	switch {
	case math.IsNaN(r.Drop) || r.Drop < 0 || r.Drop > 1:
		return fmt.Errorf("%w: drop %v is not a probability in [0, 1]", ErrInvalid, r.Drop)
	case r.Delay < 0 || r.Delay > MaxDelay:
		return fmt.Errorf("%w: delay %v is not within [0, %v]", ErrInvalid, r.Delay, MaxDelay)
	}
	group := make(map[string]int)
	for i, g := range r.Partition {
		for _, name := range g {
			if name == "" {
				return fmt.Errorf("%w: an empty peer name in partition group %d", ErrInvalid, i)
			}
			if j, ok := group[name]; ok && j != i {
				return fmt.Errorf("%w: %q is in partition groups %d and %d", ErrInvalid, name, j, i)
			}
			group[name] = i
		}
	}
	return nil
}

// Separates reports whether r's partition puts a and b in different
// groups.
func (r Rules) Separates(a, b string) bool {
	return r.blockedFrom(a)[b]
}

// blockedFrom returns the peers that r separates from self.
func (r Rules) blockedFrom(self string) map[string]bool {
	mine := slices.IndexFunc(r.Partition, func(g []string) bool { return slices.Contains(g, self) })
	if mine < 0 {
		return nil
	}
	blocked := make(map[string]bool)
	for i, g := range r.Partition {
		if i != mine {
			for _, name := range g {
				blocked[name] = true
			}
		}
	}
	return blocked
}

func (r Rules) clone() Rules {
	c := r
	c.Partition = nil
	for _, g := range r.Partition {
		c.Partition = append(c.Partition, slices.Clone(g))
	}
	return c
}

// Injector holds one peer's rules and answers its layers' questions. It is
// safe for concurrent use; a nil *Injector injects nothing.
type Injector struct {
	self string
	log  *slog.Logger
	cur  atomic.Pointer[active] // nil until the first Set

	mu   sync.Mutex // serialises Set; guards subs
	subs []func()
}

// active is a set of rules compiled for the hot path.
type active struct {
	rules   Rules
	blocked map[string]bool
}

// New returns the injector of the peer named self, with no rules. Rule
// changes are logged to log; nil discards them.
func New(self string, log *slog.Logger) *Injector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Injector{self: self, log: log}
}

func (i *Injector) load() *active {
	if i == nil {
		return nil
	}
	return i.cur.Load()
}

// Set validates r and makes it the peer's rules, replacing the previous
// ones, logs the change at Warn, then calls the OnChange functions. It
// fails with an error wrapping ErrInvalid when a drop probability is out
// of [0, 1], the delay out of [0, MaxDelay], a peer name empty or a name
// in two groups. On a nil Injector only empty rules are accepted.
func (i *Injector) Set(r Rules) error {
	if err := r.validate(); err != nil {
		return err
	}
	if i == nil {
		if len(r.Partition) == 0 && r.Delay == 0 && r.Drop == 0 {
			return nil
		}
		return fmt.Errorf("%w: no injector to apply them", ErrInvalid)
	}
	r = r.clone()
	a := &active{rules: r, blocked: r.blockedFrom(i.self)}
	i.mu.Lock()
	i.cur.Store(a)
	subs := slices.Clone(i.subs)
	blocked := make([]string, 0, len(a.blocked))
	for name := range a.blocked {
		blocked = append(blocked, name)
	}
	slices.Sort(blocked)
	i.log.Warn("fault rules changed", "peer", i.self, "at", time.Now().Format(time.RFC3339Nano),
		"partition", r.Partition, "blocked", blocked, "delay", r.Delay, "drop", r.Drop)
	i.mu.Unlock()
	for _, f := range subs {
		f()
	}
	return nil
}

// Heal removes every fault: Set(Rules{}).
func (i *Injector) Heal() { _ = i.Set(Rules{}) }

// Rules returns a copy of the current rules.
func (i *Injector) Rules() Rules {
	a := i.load()
	if a == nil {
		return Rules{}
	}
	return a.rules.clone()
}

// Blocked reports whether a fault partition separates this peer from peer:
// both are named, in different groups.
func (i *Injector) Blocked(peer string) bool {
	a := i.load()
	return a != nil && a.blocked[peer]
}

// Delay returns the delay to add before each message or packet sent.
func (i *Injector) Delay() time.Duration {
	if a := i.load(); a != nil {
		return a.rules.Delay
	}
	return 0
}

// Drop draws whether one message or packet about to be sent is lost.
func (i *Injector) Drop() bool {
	a := i.load()
	switch {
	case a == nil || a.rules.Drop <= 0:
		return false
	case a.rules.Drop >= 1:
		return true
	}
	return rand.Float64() < a.rules.Drop
}

// OnChange registers f, called after each Set from Set's goroutine, once
// the new rules apply: for instance to close the connections that a new
// partition cuts. f must not call Set.
func (i *Injector) OnChange(f func()) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.subs = append(i.subs, f)
	i.mu.Unlock()
}
