package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkPyzmp times pyzmp client calls (a new REQ socket per call, as
// pyzmp makes them) from CPython, in one run: straight to a pyzmp node,
// through a peer's --pyzmp-bind to a Go service, and through the mesh to
// the pyzmp node's service imported with --pyzmp-import.
func BenchmarkPyzmp(b *testing.B) {
	example, _ := filepath.Abs("../../examples/pyzmp")
	m := newMesh(b)
	dir := b.TempDir()
	stdin, keep, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	defer keep.Close()
	node := exec.Command(debianPython, filepath.Join(example, "node.py"), "ipc://"+filepath.Join(dir, "node.pipe"))
	node.Stdin = stdin
	nodeEP := m.start("pyzmp-node", node).ready
	stdin.Close()
	m.startPeer("go-demo", "--demo")
	bind := "ipc://" + filepath.Join(dir, "mesh.pipe")
	m.startPeer("zmp", "--pyzmp-bind", bind, "--pyzmp-import", "py/add=add@"+nodeEP)
	waitFor(b, 10*time.Second, "demo/add and py/add", func() bool {
		out, _, _ := m.cli("services")
		return contains(out, "demo/add") && contains(out, "py/add")
	})
	cases := []struct{ metric, ep, service, args, kwargs string }{
		{"node", nodeEP, "add", "[]", `{"a": 2, "b": 3}`},
		{"mesh-go", bind, "demo/add", "[]", `{"a": 2, "b": 3}`},
		{"mesh-node", bind, "py/add", "[]", `{"a": 2, "b": 3}`},
	}
	for range b.N {
		for _, c := range cases {
			out, err := exec.Command(debianPython, filepath.Join(example, "bench.py"), "2000", c.ep, c.service, c.args, c.kwargs).Output()
			if err != nil {
				b.Fatalf("bench.py %s: %v", c.service, err)
			}
			var r struct {
				P50 float64 `json:"p50_us"`
				P99 float64 `json:"p99_us"`
			}
			if err := json.Unmarshal(out, &r); err != nil {
				b.Fatalf("bench.py said %q: %v", out, err)
			}
			b.ReportMetric(r.P50, c.metric+"-p50-µs")
			b.ReportMetric(r.P99, c.metric+"-p99-µs")
		}
	}
}
