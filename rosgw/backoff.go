package rosgw

import (
	"sync"
	"time"
)

// retryAfter is how long a name whose bridging failed is left alone.
const retryAfter = 5 * time.Second

// failures remembers bridging attempts that failed, so that the gateway
// retries them now and then instead of at every poll.
type failures struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// due reports whether key may be tried now.
func (f *failures) due(key string, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return now.After(f.until[key])
}

// failed records a failure of key and reports whether it is the first in
// a row (worth a log line).
func (f *failures) failed(key string, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.until == nil {
		f.until = make(map[string]time.Time)
	}
	_, again := f.until[key]
	f.until[key] = now.Add(retryAfter)
	return !again
}

func (f *failures) ok(key string) {
	f.mu.Lock()
	delete(f.until, key)
	f.mu.Unlock()
}

// reset forgets every failure: the names are new again.
func (f *failures) reset() {
	f.mu.Lock()
	clear(f.until)
	f.mu.Unlock()
}
