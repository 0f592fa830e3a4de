package ui

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestProbe checks that a listening port reads as open, a closed one as
// refused, and no address as unknown.
func TestProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx := context.Background()
	if got := probe(ctx, addr, time.Second); got != reachOpen {
		t.Errorf("listening: %v, want open", got)
	}
	ln.Close()
	if got := probe(ctx, addr, time.Second); got != reachRefused {
		t.Errorf("closed: %v, want refused", got)
	}
	if got := probe(ctx, "", time.Second); got != reachUnknown {
		t.Errorf("no address: %v, want unknown", got)
	}
}
