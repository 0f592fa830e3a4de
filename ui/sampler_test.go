package ui

import (
	"context"
	"testing"
	"time"
)

// TestSampler takes snapshots without the page: a member that closes is
// drawn dead (its port refuses), the others alive; Close is idempotent.
func TestSampler(t *testing.T) {
	ps := startPeers(t, 3, nil)
	s, err := NewSampler(ps[0], Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	state := func(snap Snapshot, name string) string {
		for _, v := range snap.Peers {
			if v.Name == name {
				return v.State
			}
		}
		return ""
	}
	deadline := time.Now().Add(10 * time.Second)
	for snap := s.Snapshot(ctx); state(snap, "p1") != StateAlive || state(snap, "p2") != StateAlive; snap = s.Snapshot(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("p1 and p2 not alive: %+v", snap.Peers)
		}
	}
	ps[2].Close() // leaves: dead, reason left
	deadline = time.Now().Add(10 * time.Second)
	for snap := s.Snapshot(ctx); state(snap, "p2") != StateDead || state(snap, "p1") != StateAlive; snap = s.Snapshot(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("p2 not dead: %+v", snap.Peers)
		}
	}
	if _, err := NewSampler(ps[0], Config{Interval: -1}); err == nil {
		t.Error("a negative interval was taken")
	}
	s.Close()
	s.Close()
}
