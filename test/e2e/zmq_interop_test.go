package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// debianPython is Debian's interpreter, the one python3-zmq installs into.
const debianPython = "/usr/bin/python3"

// TestLibzmqClient calls a peer's service from a real libzmq DEALER
// (Debian's python3-zmq) speaking the pyros wire by hand: links are plain
// ZMTP 3.0, so any ZeroMQ program can reach the mesh.
func TestLibzmqClient(t *testing.T) {
	if err := exec.Command(debianPython, "-c", "import zmq").Run(); err != nil {
		t.Fatalf("%s with python3-zmq is required (scripts/test.sh installs them): %v", debianPython, err)
	}
	m := newMesh(t)
	p := m.startPeer("zmtp", "--demo")
	parts := readyRE.FindStringSubmatch(p.ready)
	if parts == nil {
		t.Fatalf("ready line: %q", p.ready)
	}
	for _, ep := range []string{parts[2], parts[3]} {
		for _, c := range []struct{ service, arg, want string }{
			{"demo/echo", `"from libzmq"`, `"from libzmq"`},
			{"demo/add", `{"a":40,"b":2}`, `42`},
			{"demo/fail", `"nope"`, `error 1 nope`},
			{"no/such", `1`, `error 3 `},
		} {
			cmd := exec.Command(debianPython, "testdata/zmq_client.py", ep, c.service, c.arg)
			cmd.WaitDelay = 5 * time.Second
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.HasPrefix(strings.TrimSpace(string(out)), c.want) {
				t.Errorf("%s %s via %s: %v\n%s", c.service, c.arg, ep, err, out)
			}
		}
	}
}
