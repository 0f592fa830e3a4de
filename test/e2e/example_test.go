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
