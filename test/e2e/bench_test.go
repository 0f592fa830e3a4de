package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/pyros-mesh/pyros/meshkey"
)

// BenchmarkServiceRoundTrip measures a call through the public API to a
// provider in another process (pyros-peer run --demo, service demo/echo,
// 64-byte payload), over tcp, over tcp with a mesh key (TLS) and over ipc.
// Compare with BenchmarkRawZMQ4RoundTrip from the same run.
func BenchmarkServiceRoundTrip(b *testing.B) {
	for _, transport := range []string{"tcp", "tcp-keyed", "ipc"} {
		b.Run(transport, func(b *testing.B) {
			m := newMesh(b)
			args := []string{"--demo"}
			if transport != "ipc" {
				args = append(args, "--no-ipc")
			}
			var ring *meshkey.Ring
			if transport == "tcp-keyed" {
				key := meshkey.Generate()
				f := filepath.Join(b.TempDir(), "mesh.key")
				if err := os.WriteFile(f, []byte(key.String()+"\n"), 0o600); err != nil {
					b.Fatal(err)
				}
				ring, _ = meshkey.NewRing(key)
				args = append(args, "--key", f)
			}
			m.startPeer("provider", args...)
			c := m.keyedPeer("caller", ring)
			waitFor(b, 20*time.Second, "provider in the catalog", func() bool { return len(providers(c, "demo/echo")) == 1 })
			payload := make([]byte, 64)
			var out []byte
			ctx := context.Background()
			if err := c.Call(ctx, "demo/echo", payload, &out); err != nil || len(out) != 64 {
				b.Fatalf("warm-up call: %v", err)
			}
			b.ResetTimer()
			for range b.N {
				if err := c.Call(ctx, "demo/echo", payload, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRawZMQ4RoundTrip is the baseline: a zmq4 DEALER in this process
// and a zmq4 ROUTER echo in another, one 64-byte message per round trip.
func BenchmarkRawZMQ4RoundTrip(b *testing.B) {
	for _, transport := range []string{"tcp", "ipc"} {
		b.Run(transport, func(b *testing.B) {
			m := newMesh(b)
			ep := "tcp://127.0.0.1:0"
			if transport == "ipc" {
				ep = "ipc://" + filepath.Join(m.registry, "echo.sock")
			}
			echo := m.startRole("zmq4-echo", "zmq4-echo", "PYROS_E2E_ENDPOINT="+ep)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			d := zmq4.NewDealer(ctx, zmq4.WithID(zmq4.SocketIdentity("bench")), zmq4.WithDialerRetry(10*time.Millisecond))
			defer d.Close()
			if err := d.Dial(strings.TrimSpace(echo.ready)); err != nil {
				b.Fatal(err)
			}
			msg := zmq4.NewMsg(make([]byte, 64))
			b.ResetTimer()
			for range b.N {
				if err := d.Send(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := d.Recv(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			os.Remove(strings.TrimPrefix(ep, "ipc://"))
		})
	}
}

// BenchmarkStream runs `pyros-peer bench stream` (one publisher process, the
// benchmark process subscribing, 64 B and 1 KiB over tcp, with raw zmq4
// PUSH/PULL in the same run) and reports its figures.
func BenchmarkStream(b *testing.B) {
	for range b.N {
		m := newMesh(b)
		out, errOut, code := m.cli("bench", "stream", "--sizes", "64,1024", "--transports", "tcp", "--duration", "2s", "--json")
		if code != 0 {
			b.Fatalf("bench stream: %s", errOut)
		}
		var res []struct {
			Kind, System, Transport string
			Size                    int
			MsgPerSec               float64 `json:"msg_per_sec"`
			P50us                   float64 `json:"p50_us"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Kind == "throughput" {
				b.ReportMetric(r.MsgPerSec, fmt.Sprintf("%s-%s-%dB-msg/s", r.System, r.Transport, r.Size))
			} else {
				b.ReportMetric(r.P50us, fmt.Sprintf("%s-%s-p50-us", r.System, r.Transport))
			}
		}
	}
}

// BenchmarkStateLeaderFailover measures, on 3 state server processes, the
// time from the SIGKILL of the raft leader (the process is gone) to the
// next write a client has acknowledged, while the client writes in a loop.
// Each iteration starts a fresh mesh: run it with -benchtime 5x.
func BenchmarkStateLeaderFailover(b *testing.B) {
	var worst, sum time.Duration
	for range b.N {
		d := leaderFailoverOnce(b)
		sum += d
		worst = max(worst, d)
	}
	b.ReportMetric(float64(sum.Milliseconds())/float64(b.N), "ms-to-next-write")
	b.ReportMetric(float64(worst.Milliseconds()), "ms-worst")
}

func leaderFailoverOnce(b *testing.B) time.Duration {
	m := newMesh(b)
	servers := m.startServers(b.TempDir(), 3)
	c := m.peer("writer")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	waitFor(b, 20*time.Second, "a first write", func() bool {
		_, err := c.State().Put(ctx, "k", 0)
		return err == nil && leaderName(c) != ""
	})
	victim := servers[leaderName(c)]
	var mu sync.Mutex
	var acks []time.Time
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 0; wctx.Err() == nil; n++ {
			if _, err := c.State().Put(wctx, "k", n); err == nil {
				mu.Lock()
				acks = append(acks, time.Now())
				mu.Unlock()
			}
		}
	}()
	waitFor(b, 10*time.Second, "writes before the kill", func() bool { mu.Lock(); defer mu.Unlock(); return len(acks) > 20 })
	victim.kill()
	dead := time.Now()
	var took time.Duration
	waitFor(b, 20*time.Second, "a write after the kill", func() bool {
		mu.Lock()
		defer mu.Unlock()
		if last := acks[len(acks)-1]; last.After(dead) {
			took = last.Sub(dead)
			for _, a := range acks {
				if a.After(dead) {
					took = a.Sub(dead)
					break
				}
			}
			return true
		}
		return false
	})
	stop()
	<-done
	return took
}
