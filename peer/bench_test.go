package peer

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pyros-mesh/pyros/discovery"
)

// BenchmarkNewServiceCallableEverywhere measures, with the LAN gossip
// timers on loopback, the time from starting a new peer that joins a 9-peer
// mesh and provides a service until every one of the 10 members has
// called it successfully.
func BenchmarkNewServiceCallableEverywhere(b *testing.B) {
	mesh := make([]*Peer, 0, 9)
	for i := range 9 {
		cfg := Config{Name: fmt.Sprintf("m%d", i), Gossip: discovery.LANConfig(), IPCDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)}
		if i > 0 {
			cfg.Join = []string{mesh[0].Addr()}
		}
		p, err := New(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		mesh = append(mesh, p)
	}
	waitFor(b, 20*time.Second, "9 members", func() bool { return len(mesh[8].Members()) == 9 })
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprintf("new%d", i)
		p, err := New(context.Background(), Config{Name: name, Gossip: discovery.LANConfig(), Join: []string{mesh[i%9].Addr()}, IPCDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		service := name + "/svc"
		p.Provide(service, Func(func(_ context.Context, _ any) (string, error) { return name, nil }))
		deadline := time.Now().Add(30 * time.Second)
		for _, m := range append(mesh, p) {
			for time.Now().Before(deadline) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				err := m.Call(ctx, service, nil, nil)
				cancel()
				if err == nil {
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s not callable from every member in 30 s", service)
		}
		b.StopTimer()
		p.Close()
		b.StartTimer()
	}
	b.StopTimer() // the deferred closes of the mesh are not measured
}

// BenchmarkCallMetrics measures a call between two in-process peers over
// tcp, without and with Prometheus metrics on both: the cost of counting
// every call and request. Compare the two in one run.
func BenchmarkCallMetrics(b *testing.B) {
	for _, withMetrics := range []bool{false, true} {
		name := "plain"
		if withMetrics {
			name = "metrics"
		}
		b.Run(name, func(b *testing.B) {
			ps := benchPair(b, withMetrics)
			ps[1].Provide("bench/echo", Func(func(_ context.Context, in []byte) ([]byte, error) { return in, nil }))
			payload, out := make([]byte, 64), []byte(nil)
			waitFor(b, 10*time.Second, "bench/echo callable", func() bool {
				return ps[0].Call(context.Background(), "bench/echo", payload, &out) == nil
			})
			b.ResetTimer()
			for range b.N {
				if err := ps[0].Call(context.Background(), "bench/echo", payload, &out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkObserve measures one Observe of another peer: what the map and
// top pay per member and round.
func BenchmarkObserve(b *testing.B) {
	ps := benchPair(b, true)
	waitFor(b, 10*time.Second, "p1 observable", func() bool {
		_, err := ps[0].Observe(context.Background(), "p1")
		return err == nil
	})
	b.ResetTimer()
	for range b.N {
		if _, err := ps[0].Observe(context.Background(), "p1"); err != nil {
			b.Fatal(err)
		}
	}
}

// benchPair starts two peers on loopback tcp (no ipc), with metrics if asked.
func benchPair(b *testing.B, withMetrics bool) []*Peer {
	var ps []*Peer
	for i := range 2 {
		cfg := Config{Name: fmt.Sprintf("p%d", i), Gossip: discovery.LocalConfig(), DisableIPC: true, Logger: slog.New(slog.DiscardHandler)}
		if withMetrics {
			cfg.Metrics = prometheus.NewRegistry()
		}
		if i > 0 {
			cfg.Join = []string{ps[0].Addr()}
		}
		p, err := New(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { p.Close() })
		ps = append(ps, p)
	}
	return ps
}
