package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

// BenchmarkPython measures a CPython process on the mesh (python/bench):
// small calls to a Go service, and small messages published to a Go
// subscriber, counted on arrival.
func BenchmarkPython(b *testing.B) {
	m := newMesh(b)
	m.startPeer("go-demo", "--demo")
	c := m.peer("go-sub")
	var got atomic.Int64
	var first, last atomic.Int64
	sub, err := c.Subscribe(context.Background(), "py/bench", func(peer.Message) {
		now := time.Now().UnixNano()
		first.CompareAndSwap(0, now)
		last.Store(now)
		got.Add(1)
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	root, _ := filepath.Abs("../../python")
	for range b.N {
		got.Store(0)
		first.Store(0)
		cmd := exec.Command(debianPython, filepath.Join(root, "bench", "bench.py"), "2000", "50000")
		cmd.Env = append(m.env(), "PYROS_PEER="+peerBin, "PYTHONPATH="+root)
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("bench.py: %v\n%s", err, out)
		}
		var r struct {
			RTT50     float64 `json:"rtt_p50_us"`
			RTT99     float64 `json:"rtt_p99_us"`
			Messages  int64   `json:"messages"`
			PublishPS float64 `json:"publish_per_s"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			b.Fatalf("bench.py said %q: %v", out, err)
		}
		waitFor(b, 10*time.Second, "the last messages", func() bool {
			return time.Since(time.Unix(0, last.Load())) > 500*time.Millisecond
		})
		n := got.Load()
		secs := float64(last.Load()-first.Load()) / 1e9
		b.ReportMetric(r.RTT50, "py-call-p50-µs")
		b.ReportMetric(r.RTT99, "py-call-p99-µs")
		b.ReportMetric(r.PublishPS, "py-publish-msg/s")
		b.ReportMetric(float64(n)/secs, "go-received-msg/s")
		b.ReportMetric(float64(n)/float64(r.Messages), "received-fraction")
	}
}
