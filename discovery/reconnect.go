package discovery

import (
	"math/rand/v2"
	"sync"
	"time"
)

// reconnectFor is how long a failed member's address is retried.
const reconnectFor = time.Hour

// failures remembers members that failed (not those that left), so that
// two sides of a healed partition, each declaring the other dead, find
// each other again: gossip alone never contacts a dead member for long.
type failures struct {
	mu    sync.Mutex
	addrs map[string]failedMember // by member name
}

type failedMember struct {
	addr string
	at   time.Time
}

func (f *failures) add(name, addr string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.addrs == nil {
		f.addrs = make(map[string]failedMember)
	}
	f.addrs[name] = failedMember{addr: addr, at: at}
}

func (f *failures) remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.addrs, name)
}

// pick returns the address of a random member that failed within
// reconnectFor, forgetting older ones.
func (f *failures) pick(now time.Time) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var addrs []string
	for name, m := range f.addrs {
		if now.Sub(m.at) > reconnectFor {
			delete(f.addrs, name)
			continue
		}
		addrs = append(addrs, m.addr)
	}
	if len(addrs) == 0 {
		return "", false
	}
	return addrs[rand.IntN(len(addrs))], true
}

// reconnectLoop tries one failed member every interval, as serf does.
func (d *Discovery) reconnectLoop(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
		if addr, ok := d.table.failed.pick(time.Now()); ok {
			if n, _ := d.ml.Join([]string{addr}); n > 0 {
				d.logger.Info("reconnected to a member declared failed", "addr", addr)
			}
		}
	}
}
