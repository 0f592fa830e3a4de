package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

// tickSink records, per publisher, the values a subscription received.
type tickSink struct {
	mu   sync.Mutex
	vals map[string][]int
}

func (s *tickSink) handle(m peer.Message) {
	var v int
	if m.Decode(&v) != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vals == nil {
		s.vals = map[string][]int{}
	}
	s.vals[m.From()] = append(s.vals[m.From()], v)
}

func (s *tickSink) from(name string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.vals[name]...)
}

// TestStreamPublisherRestartAndLateSubscriber: a subscriber that starts
// after the publisher receives from then on; a publisher restarted (after a
// clean stop, then after SIGKILL) is picked up again with no action; per
// publisher, what arrives arrives in order.
func TestStreamPublisherRestartAndLateSubscriber(t *testing.T) {
	m := newMesh(t)
	pub := m.startPeer("ticker", "--demo") // publishes demo/ticks at 10 Hz
	c := m.peer("watcher")
	waitFor(t, 10*time.Second, "the publisher in the catalog before anyone subscribes", func() bool {
		for _, s := range c.Streams() {
			if s.Name == "demo/ticks" && len(s.Publishers) == 1 {
				return true
			}
		}
		return false
	})
	var sink tickSink
	sub, err := c.Subscribe(context.Background(), "demo/ticks", sink.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	waitFor(t, 10*time.Second, "ticks reach a late subscriber", func() bool { return len(sink.from("ticker")) >= 3 })

	for _, stop := range []string{"SIGTERM", "SIGKILL"} {
		if stop == "SIGTERM" {
			pub.terminate()
		} else {
			pub.kill()
		}
		before := len(sink.from("ticker"))
		pub = m.startPeer("ticker", "--demo")
		restarted := time.Now()
		d := waitFor(t, 10*time.Second, "ticks resume after "+stop, func() bool {
			v := sink.from("ticker")
			return len(v) > before+2 && v[len(v)-1] < 10 // the new process counts from 0
		})
		t.Logf("after %s and restart, ticks resumed %v after the new process was ready (%v since restart)", stop, d, time.Since(restarted))
	}
	checkOrdered(t, sink.from("ticker"))
}

// checkOrdered checks that values rise, except where a restart began again.
func checkOrdered(t *testing.T, v []int) {
	t.Helper()
	restarts := 0
	for i := 1; i < len(v); i++ {
		if v[i] <= v[i-1] {
			if v[i] > 3 {
				t.Fatalf("out of order at %d: %d after %d", i, v[i], v[i-1])
			}
			restarts++
		}
	}
	if restarts > 2 {
		t.Fatalf("%d restarts seen, want 2", restarts)
	}
}

// TestStreamManyPublishersOneSubscriber runs four pub processes and one
// echo process.
func TestStreamManyPublishersOneSubscriber(t *testing.T) {
	m := newMesh(t)
	echo, _ := m.spawn("echo", exec.Command(peerBin, "echo", "many/values", "--json", "--count", "40", "--timeout", "30s"))
	// echo prints nothing until the first message: wait for its subscription in the catalog
	waitFor(t, 10*time.Second, "echo subscribed", func() bool {
		out, _, _ := m.cli("streams", "--json")
		return strings.Contains(out, "many/values")
	})
	for i := range 4 {
		m.spawn(fmt.Sprintf("pub%d", i), exec.Command(peerBin, "pub", "many/values", strconv.Itoa(i), "--rate", "20", "--count", "0", "--name", fmt.Sprintf("pub%d", i)))
	}
	waitFor(t, 30*time.Second, "40 messages from four publishers", func() bool {
		select {
		case <-echo.done:
			return true
		default:
			return false
		}
	})
	out := echo.output()
	for i := range 4 {
		if !strings.Contains(out, fmt.Sprintf(`"from":"pub%d"`, i)) {
			t.Errorf("nothing from pub%d in:\n%s", i, out)
		}
	}
}

var statsRE = regexp.MustCompile(`echo: (\d+) received, (\d+) dropped, (\d+) lost`)

// TestStreamSlowSubscriberDoesNotStallOthers: one subscriber process stops
// reading (its stdout is a pipe nobody reads); the publisher keeps its pace
// and a fast subscriber next to it receives everything; the slow one drops.
func TestStreamSlowSubscriberDoesNotStallOthers(t *testing.T) {
	m := newMesh(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	slowCmd := exec.Command(peerBin, "echo", "load/values", "--stats")
	slowCmd.Env = m.env()
	slowCmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	slowCmd.Stdout = w
	var slowErr strings.Builder
	slowCmd.Stderr = &slowErr
	if err := slowCmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	defer slowCmd.Process.Kill()

	c := m.peer("fast")
	var got sync.Map
	var n atomicCount
	sub, err := c.Subscribe(context.Background(), "load/values", func(msg peer.Message) {
		got.Store(msg.Seq, true)
		n.add()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	waitFor(t, 10*time.Second, "both subscribers in the catalog", func() bool {
		out, _, _ := m.cli("streams", "--json")
		return strings.Count(out, `"`) > 0 && strings.Contains(out, "load/values") && strings.Contains(out, "fast")
	})
	const count, rate = 100000, 20000
	start := time.Now()
	out, errOut, code := m.cli("pub", "load/values", `"a payload of some thirty bytes"`, "--rate", strconv.Itoa(rate), "--count", strconv.Itoa(count), "--name", "loader")
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("pub: %s %s", out, errOut)
	}
	t.Logf("publisher: %s (%v)", strings.TrimSpace(out), took)
	waitFor(t, 20*time.Second, "the fast subscriber gets every message", func() bool { return n.get() == count })
	// unblock the slow one and read its counters
	slowCmd.Process.Signal(os.Interrupt)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := r.Read(buf); err != nil {
				return
			}
		}
	}()
	exited := make(chan struct{})
	go func() { slowCmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		slowCmd.Process.Kill()
		<-exited
		t.Fatal("the slow subscriber did not exit on SIGINT")
	}
	s := statsRE.FindStringSubmatch(slowErr.String())
	if s == nil {
		t.Fatalf("slow subscriber printed no stats: %q", slowErr.String())
	}
	dropped, _ := strconv.Atoi(s[2])
	t.Logf("slow subscriber: %s", s[0])
	if dropped == 0 {
		t.Error("the slow subscriber should have dropped messages")
	}
	if took > count/rate*time.Second+10*time.Second {
		t.Errorf("publishing took %v: the slow subscriber held the publisher back", took)
	}
}

type atomicCount struct {
	mu sync.Mutex
	n  int
}

func (a *atomicCount) add() { a.mu.Lock(); a.n++; a.mu.Unlock() }
func (a *atomicCount) get() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// TestStreamSIGKILLPublisherMidStream: of two publishers, one is killed;
// the subscriber keeps receiving from the other and the catalog forgets the
// dead one.
func TestStreamSIGKILLPublisherMidStream(t *testing.T) {
	m := newMesh(t)
	a := m.startPeer("pub-a", "--demo")
	m.startPeer("pub-b", "--demo")
	c := m.peer("watcher")
	var sink tickSink
	sub, err := c.Subscribe(context.Background(), "demo/ticks", sink.handle)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	waitFor(t, 10*time.Second, "ticks from both", func() bool { return len(sink.from("pub-a")) > 2 && len(sink.from("pub-b")) > 2 })
	a.kill()
	killed := time.Now()
	nb := len(sink.from("pub-b"))
	waitFor(t, 5*time.Second, "pub-a gone from the stream's publishers", func() bool {
		for _, s := range c.Streams() {
			if s.Name == "demo/ticks" {
				return len(s.Publishers) == 1 && s.Publishers[0] == "pub-b"
			}
		}
		return false
	})
	t.Logf("dead publisher removed from the catalog after %v", time.Since(killed))
	waitFor(t, 5*time.Second, "pub-b keeps ticking", func() bool { return len(sink.from("pub-b")) > nb+5 })
	checkOrdered(t, sink.from("pub-b"))
}
