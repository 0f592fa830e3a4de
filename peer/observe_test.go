package peer

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestObserve(t *testing.T) {
	ps := startPeers(t, 2)
	if err := ps[1].Provide("obs/echo", Func(func(_ context.Context, v string) (string, error) { return v, nil })); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "obs/echo in p0's catalog", hasProviders(ps[0], "obs/echo", 1))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out string
	if err := ps[0].Call(ctx, "obs/echo", "x", &out); err != nil {
		t.Fatal(err)
	}
	o, err := ps[0].Observe(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if o.Name != "p1" || o.Served["obs/echo"].Requests != 1 || !slices.Contains(o.Sees, "p0") || o.Started.IsZero() {
		t.Fatalf("observation of p1: %+v", o)
	}
	if self, err := ps[0].Observe(ctx, "p0"); err != nil || self.Name != "p0" || !slices.Contains(self.Links, "p1") {
		t.Fatalf("own observation: %+v, %v", self, err)
	}
}

func TestObserveGateway(t *testing.T) {
	ps := startPeers(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var o Observation
	waitFor(t, 5*time.Second, "p1 observable from p0", func() bool {
		var err error
		o, err = ps[0].Observe(ctx, "p1")
		return err == nil
	})
	if o.Gateway != nil {
		t.Fatalf("observation of a peer that is no gateway: %+v", o.Gateway)
	}
	info := GatewayInfo{Master: "http://127.0.0.1:11311", TopicsImported: []string{"ros/chatter"}, ServicesExported: []string{"ros/enable"}}
	ps[1].SetGateway(func() GatewayInfo { return info })
	o, err := ps[0].Observe(ctx, "p1")
	if err != nil || o.Gateway == nil || !slices.Equal(o.Gateway.TopicsImported, info.TopicsImported) ||
		!slices.Equal(o.Gateway.ServicesExported, info.ServicesExported) || o.Gateway.Master != info.Master {
		t.Fatalf("observation of a gateway: %+v, %v", o.Gateway, err)
	}
	ps[1].SetGateway(nil)
	if o := ps[1].Observation(); o.Gateway != nil {
		t.Fatalf("gateway info after SetGateway(nil): %+v", o.Gateway)
	}
}
