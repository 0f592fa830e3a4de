// Command streams is a pyros peer that publishes and subscribes: it
// publishes example/temperature five times a second and prints every value
// of demo/ticks (published by `pyros-peer run --demo` peers), from every
// publisher, whenever they start or restart.
package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

// reading is what example/temperature carries; other peers decode it as a
// map with the same keys.
type reading struct {
	Sensor  string  `msgpack:"sensor"`
	Celsius float64 `msgpack:"celsius"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "streams:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := peer.New(ctx, peer.Config{Name: "thermometer", RegistryDir: peer.DefaultRegistryDir()})
	if err != nil {
		return err
	}
	defer p.Close()

	// Subscribe: no endpoint, no publisher named; publishers that appear
	// later or restart are picked up on their own.
	sub, err := p.Subscribe(ctx, "demo/ticks", func(m peer.Message) {
		var n int
		if err := m.Decode(&n); err == nil {
			fmt.Printf("demo/ticks %d from %s\n", n, m.From())
		}
	})
	if err != nil {
		return err
	}
	defer sub.Close()

	// Publish: Send never blocks; slow or dead subscribers lose messages,
	// counted in Stats.
	pub, err := p.Publish("example/temperature")
	if err != nil {
		return err
	}
	defer pub.Close()
	fmt.Println("publishing example/temperature as", p.Name())
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for start := time.Now(); ; {
		select {
		case <-ctx.Done():
			st := pub.Stats()
			fmt.Printf("sent %d, dropped %d\n", st.Sent, st.Dropped)
			return nil
		case now := <-t.C:
			c := 21 + 2*math.Sin(now.Sub(start).Seconds())
			pub.Send(reading{Sensor: "lab", Celsius: math.Round(c*100) / 100})
		}
	}
}
