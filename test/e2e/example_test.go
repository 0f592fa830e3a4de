package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExampleServices runs examples/services against a demo peer, as the
// README tells a newcomer to.
func TestExampleServices(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "services")
	if out, err := exec.Command("go", "build", "-o", bin, "../../examples/services").CombinedOutput(); err != nil {
		t.Fatalf("build example: %v\n%s", err, out)
	}
	m := newMesh(t)
	m.startPeer("alice", "--demo")
	ex := m.start("greeter", exec.Command(bin))
	waitFor(t, 20*time.Second, "the example calling demo/add", func() bool {
		return strings.Contains(ex.output(), "demo/add(2, 3) = 5")
	})
	waitFor(t, 20*time.Second, "example/greet callable", func() bool {
		out, _, code := m.cli("call", "example/greet", `"newcomer"`)
		return code == 0 && out == "\"hello, newcomer, from greeter\"\n"
	})
}

// TestExampleStreams runs examples/streams next to a demo peer: it receives
// demo/ticks, and `pyros-peer echo` receives its example/temperature.
func TestExampleStreams(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "streams")
	if out, err := exec.Command("go", "build", "-o", bin, "../../examples/streams").CombinedOutput(); err != nil {
		t.Fatalf("build example: %v\n%s", err, out)
	}
	m := newMesh(t)
	m.startPeer("alice", "--demo")
	ex := m.start("thermometer", exec.Command(bin))
	waitFor(t, 20*time.Second, "the example printing ticks", func() bool {
		return strings.Contains(ex.output(), "from alice")
	})
	out, errOut, code := m.cli("echo", "example/temperature", "--count", "2", "--timeout", "20s")
	if code != 0 || strings.Count(out, `"celsius"`) != 2 || !strings.Contains(out, `"sensor":"lab"`) {
		t.Fatalf("echo example/temperature: exit %d\n%s\n%s", code, out, errOut)
	}
}
