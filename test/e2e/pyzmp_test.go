package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPyzmpWire runs pyzmp's protocol both ways through `pyros-peer run`
// with real CPython processes: a pyzmp client calls a Go service and,
// through the mesh, a pyzmp node's service; a mesh caller calls the pyzmp
// node's service; errors cross in both directions.
func TestPyzmpWire(t *testing.T) {
	if err := exec.Command(debianPython, "-c", "import zmq, six, tblib").Run(); err != nil {
		t.Fatalf("%s with python3-zmq, python3-six and python3-tblib is required (scripts/test.sh installs them): %v", debianPython, err)
	}
	example, err := filepath.Abs("../../examples/pyzmp")
	if err != nil {
		t.Fatal(err)
	}
	m := newMesh(t)
	dir := t.TempDir()

	// a pyzmp node: a REP socket providing add, echo and fail
	stdin, keep, err := os.Pipe() // the node leaves when this closes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keep.Close() })
	node := exec.Command(debianPython, filepath.Join(example, "node.py"), "ipc://"+filepath.Join(dir, "node", "services.pipe"))
	node.Stdin = stdin
	nodeEP := m.start("pyzmp-node", node).ready
	stdin.Close()

	m.startPeer("go-demo", "--demo")
	bind := "ipc://" + filepath.Join(dir, "mesh.pipe")
	gw := m.startPeer("zmp", "--pyzmp-bind", bind,
		"--pyzmp-import", "py/add=add@"+nodeEP, "--pyzmp-import", "py/fail=fail@"+nodeEP)
	if !strings.Contains(gw.ready, ", pyzmp "+bind) {
		t.Fatalf("ready line does not name the pyzmp endpoint: %s", gw.ready)
	}
	waitFor(t, 10*time.Second, "demo/add and py/add in the catalog", func() bool {
		out, _, _ := m.cli("services")
		return strings.Contains(out, "demo/add") && strings.Contains(out, "py/add")
	})

	// mesh -> pyzmp node
	out, errs, code := m.cli("call", "py/add", `{"a": 2, "b": 40}`)
	if code != 0 || strings.TrimSpace(out) != "42" {
		t.Fatalf("call py/add: exit %d, %q %s", code, out, errs)
	}
	_, errs, code = m.cli("call", "py/fail")
	if code == 0 || !strings.Contains(errs, "ValueError: bad input") || !strings.Contains(errs, "in check") {
		t.Fatalf("call py/fail: exit %d, stderr %s", code, errs)
	}

	// pyzmp client -> mesh (a Go service, a pyzmp node's service through
	// the mesh, an unknown service, a remote Python exception)
	client := exec.Command(debianPython, filepath.Join(example, "call.py"), bind, "-")
	client.Stdin = strings.NewReader(strings.Join([]string{
		`["demo/add", [], {"a": 2, "b": 3}]`,
		`["py/add", ["x", "y"], {}]`,
		`["nope", [], {}]`,
		`["py/fail", [], {}]`,
	}, "\n") + "\n")
	client.WaitDelay = 5 * time.Second
	res, err := client.Output()
	if err != nil {
		t.Fatalf("pyzmp client: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(res)), "\n")
	want := []string{`{"result": 5}`, `{"result": "xy"}`, `"pyzmp.exceptions.UnknownServiceException"`, `"builtins.ValueError"`}
	if len(lines) != len(want) {
		t.Fatalf("pyzmp client answered:\n%s", res)
	}
	for i, l := range lines {
		if !json.Valid([]byte(l)) || !strings.Contains(l, want[i]) {
			t.Errorf("pyzmp call %d: %s, want %s", i, l, want[i])
		}
	}
	if !strings.Contains(lines[3], "bad input") {
		t.Errorf("remote ValueError lost its message: %s", lines[3])
	}
}
