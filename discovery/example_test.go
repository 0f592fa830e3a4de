package discovery_test

import (
	"context"
	"fmt"
	"time"

	"github.com/pyros-mesh/pyros/discovery"
)

// Two members on loopback: one publishes a catalog, the other receives it.
func Example() {
	start := func(name string, state []byte) *discovery.Discovery {
		d, err := discovery.New(discovery.Config{
			Name:       name,
			BindAddr:   "127.0.0.1",
			BindPort:   0, // OS-assigned; see LocalAddr
			Meta:       []byte("quic://127.0.0.1:9000"),
			State:      state,
			Memberlist: discovery.LocalConfig(),
		})
		if err != nil {
			panic(err)
		}
		return d
	}
	a := start("a", []byte("svc/telemetry"))
	defer a.Close()
	b := start("b", nil)
	defer b.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := b.Join(ctx, []string{a.LocalAddr()}); err != nil {
		panic(err)
	}
	a.SetState([]byte("svc/telemetry svc/video"))
	for {
		select {
		case ev := <-b.Events():
			if ev.Type == discovery.EventUpdate && ev.Member.Name == "a" && ev.Member.StateVersion == 2 {
				fmt.Printf("%s %s: %s\n", ev.Member.Name, ev.Member.Meta, ev.Member.State)
				return
			}
		case <-ctx.Done():
			fmt.Println("no update:", ctx.Err())
			return
		}
	}
	// Output: a quic://127.0.0.1:9000: svc/telemetry svc/video
}
