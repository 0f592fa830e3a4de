package peer

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

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
