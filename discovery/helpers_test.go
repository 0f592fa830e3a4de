package discovery

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them. No
// goroutine is ignored; memberlist's are given time to finish instead: after
// Shutdown returns, memberlist still runs a probe that is waiting out its
// ack timeout (ProbeInterval times the awareness multiplier, up to 1.6 s with
// LocalConfig), longer than goleak's own retries.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(drainMemberlist{m})
}

type drainMemberlist struct{ m *testing.M }

func (d drainMemberlist) Run() int {
	code := d.m.Run()
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 1<<20)
	for time.Now().Before(deadline) {
		n := runtime.Stack(buf, true)
		if !bytes.Contains(buf[:n], []byte("github.com/hashicorp/memberlist.")) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return code
}

// crash stops the member's memberlist without leaving, as if its process had
// died: peers must detect the failure.
func (d *Discovery) crash() {
	d.crashed.Store(true)
	d.mlLog.muted.Store(true)
	_ = d.ml.Shutdown()
}

// testLogLevel is Warn unless DISCOVERY_TEST_LOG names another slog level.
func testLogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("DISCOVERY_TEST_LOG"))); err != nil {
		return slog.LevelWarn
	}
	return l
}

// testLogger routes logs to t.Log until the test's cleanups reach it; nodes
// created after it are closed before it stops.
func testLogger(t testing.TB, level slog.Level) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// newNode starts a member on 127.0.0.1 with an OS-assigned port and
// LocalConfig timers, closed when the test ends.
func newNode(t testing.TB, name string, opts ...func(*Config)) *Discovery {
	t.Helper()
	cfg := Config{
		Name:       name,
		BindAddr:   "127.0.0.1",
		Memberlist: LocalConfig(),
		Meta:       []byte("meta-" + name),
		Logger:     testLogger(t, testLogLevel()),
	}
	for _, o := range opts {
		o(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func withJoin(addrs ...string) func(*Config) {
	return func(c *Config) { c.Join = addrs }
}

func withState(s []byte) func(*Config) {
	return func(c *Config) { c.State = s }
}

// waitFor polls cond every 10 ms until it returns nil, failing the test at
// the deadline. It returns the time taken.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// joinAll joins every node to the address of nodes[0].
func joinAll(t testing.TB, nodes []*Discovery) {
	t.Helper()
	for _, n := range nodes[1:] {
		if _, err := n.Join(t.Context(), []string{nodes[0].LocalAddr()}); err != nil {
			t.Fatalf("join: %v", err)
		}
	}
}

// fullMembership holds when every node sees exactly nodes as members.
func fullMembership(nodes []*Discovery) func() error {
	return func() error {
		for _, n := range nodes {
			if got := len(n.Members()); got != len(nodes) {
				return fmt.Errorf("%s sees %d members, want %d", n.name, got, len(nodes))
			}
		}
		return nil
	}
}

// stateEverywhere holds when every node holds owner's document want.
func stateEverywhere(nodes []*Discovery, owner string, want []byte) func() error {
	return func() error {
		for _, n := range nodes {
			m, ok := n.Member(owner)
			if !ok {
				return fmt.Errorf("%s does not know %s", n.name, owner)
			}
			if !bytes.Equal(m.State, want) {
				return fmt.Errorf("%s holds version %d of %s (%d bytes), not the wanted %d bytes",
					n.name, m.StateVersion, owner, len(m.State), len(want))
			}
		}
		return nil
	}
}

// eventLog records a node's events until its channel closes.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func watch(d *Discovery) *eventLog {
	l := &eventLog{}
	ch := d.Events()
	go func() {
		for ev := range ch {
			l.mu.Lock()
			l.events = append(l.events, ev)
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *eventLog) find(typ EventType, name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ev := range l.events {
		if ev.Type == typ && ev.Member.Name == name {
			return nil
		}
	}
	var seen []string
	for _, ev := range l.events {
		seen = append(seen, ev.Type.String()+":"+ev.Member.Name)
	}
	return fmt.Errorf("no %v event for %s among %v", typ, name, seen)
}

func (l *eventLog) count(typ EventType, name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ev := range l.events {
		if ev.Type == typ && ev.Member.Name == name {
			n++
		}
	}
	return n
}

// catalog builds a state document of about size bytes listing services.
func catalog(size int, tag string) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "service/%s/svc-%05d stream=telemetry.%05d codec=proto;\n", tag, i, i)
	}
	return b.Bytes()[:size]
}

// closeAll closes nodes concurrently when the test ends, before their own
// cleanups (which then find them closed).
func closeAll(t testing.TB, nodes []*Discovery) {
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, d := range nodes {
			wg.Go(func() { _ = d.Close() })
		}
		wg.Wait()
	})
}

var errNotYet = errors.New("not yet")
