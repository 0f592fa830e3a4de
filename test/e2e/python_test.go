package e2e

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestPython runs the Python package's tests (python/tests, unittest) with
// Debian's CPython and pyzmq against a Go peer that provides the demo
// services and keeps the shared state.
func TestPython(t *testing.T) {
	if err := exec.Command(debianPython, "-c", "import zmq").Run(); err != nil {
		t.Fatalf("%s with python3-zmq is required (scripts/test.sh installs them): %v", debianPython, err)
	}
	m := newMesh(t)
	m.startPeer("go-demo", "--demo", "--data", t.TempDir(), "--bootstrap-expect", "1")
	root, err := filepath.Abs("../../python")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(debianPython, "-m", "unittest", "discover", "-v", "-s", filepath.Join(root, "tests"), "-t", root)
	cmd.Env = append(m.env(), "PYROS_PEER="+peerBin, "PYTHONPATH="+root)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("python tests:\n%s", out)
	if err != nil {
		t.Fatalf("python tests failed: %v", err)
	}
}
