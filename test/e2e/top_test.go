package e2e

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

// TestTop runs `pyros-peer top --once` while a client calls demo/echo and
// subscribes to demo/ticks: the picture shows the member, the call rate
// and the stream's rates.
func TestTop(t *testing.T) {
	m := newMesh(t)
	m.startPeer("topped", "--demo")
	c := m.peer("top-client")
	waitFor(t, 20*time.Second, "demo/echo", func() bool { return len(providers(c, "demo/echo")) == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := c.Subscribe(ctx, "demo/ticks", func(peer.Message) {})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	done := make(chan struct{})
	go func() { // a bounded load: until the test ends
		defer close(done)
		for ctx.Err() == nil {
			cctx, ccancel := context.WithTimeout(ctx, time.Second)
			c.Call(cctx, "demo/echo", "x", nil)
			ccancel()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	defer func() { cancel(); <-done }()
	out, errs, code := m.cli("top", "--once", "--interval", "2s")
	if code != 0 {
		t.Fatalf("top: exit %d: %s", code, errs)
	}
	t.Logf("top:\n%s", out)
	row := func(name string) []string {
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == name {
				return f
			}
		}
		t.Fatalf("no row for %s", name)
		return nil
	}
	if f := row("topped"); f[1] != "alive" {
		t.Errorf("topped is not alive: %v", f)
	}
	if rate, _ := strconv.ParseFloat(row("demo/echo")[2], 64); rate < 5 {
		t.Errorf("demo/echo at %v req/s, want the client's load", rate)
	}
	f := row("demo/ticks")
	if sent, _ := strconv.ParseFloat(f[len(f)-3], 64); sent < 5 {
		t.Errorf("demo/ticks sent at %v/s, want about 10", sent)
	}
}

// TestTopDead runs `pyros-peer top` live while a member is SIGKILLed: the
// member stays in the picture, marked dead.
func TestTopDead(t *testing.T) {
	m := newMesh(t)
	m.startPeer("stays", "--demo")
	victim := m.startPeer("victim", "--demo")
	top, _ := m.spawn("top", exec.Command(peerBin, "top", "--interval", "300ms"))
	waitFor(t, 20*time.Second, "top showing victim alive", func() bool {
		return regexp.MustCompile(`(?m)^victim +alive `).MatchString(lastFrame(top.output()))
	})
	victim.kill()
	waitFor(t, 30*time.Second, "top showing victim dead", func() bool {
		return regexp.MustCompile(`(?m)^victim +dead +- +- +- +failed, its process is gone$`).MatchString(lastFrame(top.output())) &&
			regexp.MustCompile(`(?m)^stays +alive `).MatchString(lastFrame(top.output()))
	})
	t.Logf("top:\n%s", lastFrame(top.output()))
}

// lastFrame is the last picture of a live top's output.
func lastFrame(out string) string {
	if i := strings.LastIndex(out, "\x1b[H\x1b[2J"); i >= 0 {
		return out[i+len("\x1b[H\x1b[2J"):]
	}
	return out
}
