package discovery

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/pyros-mesh/pyros/meshkey"
)

// ring returns a new ring of keys, failing the test on error.
func ring(t testing.TB, keys ...meshkey.Key) *meshkey.Ring {
	t.Helper()
	r, err := meshkey.NewRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func withKeys(r *meshkey.Ring) func(*Config) {
	return func(c *Config) { c.Keys = r }
}

// gossipKeysOf returns the keys of d's memberlist keyring.
func gossipKeysOf(d *Discovery) [][]byte {
	return slices.Clone(d.transport.screen.keys())
}

func TestKeyedMembersJoin(t *testing.T) {
	k := meshkey.Generate()
	var nodes []*Discovery
	for i := range 3 {
		// Each member has its own ring, as separate processes would; a
		// memberlist label is authenticated along with the traffic.
		labelled := func(c *Config) { c.Memberlist.Label = "lab" }
		nodes = append(nodes, newNode(t, fmt.Sprintf("k%d", i), withKeys(ring(t, k)), labelled))
	}
	closeAll(t, nodes)
	joinAll(t, nodes)
	waitFor(t, 10*time.Second, "membership", fullMembership(nodes))
	small, large := catalog(900, "inline"), catalog(40<<10, "fetched")
	nodes[0].SetState(small)
	nodes[1].SetState(large)
	waitFor(t, 10*time.Second, "gossiped state", stateEverywhere(nodes, "k0", small))
	waitFor(t, 10*time.Second, "fetched state", stateEverywhere(nodes, "k1", large))
	if got := gossipKeysOf(nodes[0]); len(got) != 1 || !bytes.Equal(got[0], k.Derive("gossip", 32)) {
		t.Fatalf("memberlist keyring = %x", got)
	}
}

// TestOutsidersCannotJoin: members holding another key, or none, can neither
// join a keyed member nor be joined by it, and never appear among its
// members.
func TestOutsidersCannotJoin(t *testing.T) {
	k := meshkey.Generate()
	a := newNode(t, "a", withKeys(ring(t, k)))
	b := newNode(t, "b", withKeys(ring(t, k)))
	other := newNode(t, "other", quiet, withKeys(ring(t, meshkey.Generate())))
	open := newNode(t, "open", quiet)
	closeAll(t, []*Discovery{a, b, other, open})
	joinAll(t, []*Discovery{a, b})
	waitFor(t, 10*time.Second, "membership", fullMembership([]*Discovery{a, b}))

	for _, out := range []*Discovery{other, open} {
		if _, err := out.Join(t.Context(), []string{a.LocalAddr()}); !errors.Is(err, ErrJoinFailed) {
			t.Errorf("%s joined a keyed member: %v", out.name, err)
		}
		if _, err := a.Join(t.Context(), []string{out.LocalAddr()}); !errors.Is(err, ErrJoinFailed) {
			t.Errorf("a keyed member joined %s: %v", out.name, err)
		}
	}
	deadline := time.Now().Add(time.Second) // five probe intervals, twenty gossip rounds
	for time.Now().Before(deadline) {
		for _, d := range []*Discovery{a, b} {
			for _, m := range d.Members() {
				if m.Name != "a" && m.Name != "b" {
					t.Fatalf("%s lists %s", d.name, m.Name)
				}
			}
		}
		for _, out := range []*Discovery{other, open} {
			if n := len(out.Members()); n != 1 {
				t.Fatalf("%s sees %d members", out.name, n)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if a.transport.droppedStreams.Load() == 0 {
		t.Error("no stream of an outsider was screened out")
	}
}

// TestKeyRotation changes the key of a running 3-member mesh the documented
// way, one member at a time at each step, while checking continuously that
// no member ever loses another.
func TestKeyRotation(t *testing.T) {
	oldKey, newKey := meshkey.Generate(), meshkey.Generate()
	var nodes []*Discovery
	var rings []*meshkey.Ring
	var logs []*eventLog
	for i := range 3 {
		r := ring(t, oldKey)
		d := newNode(t, fmt.Sprintf("r%d", i), withKeys(r))
		nodes, rings, logs = append(nodes, d), append(rings, r), append(logs, watch(d))
	}
	closeAll(t, nodes)
	joinAll(t, nodes)
	waitFor(t, 10*time.Second, "membership", fullMembership(nodes))

	var lost atomic.Pointer[error]
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if err := fullMembership(nodes)(); err != nil {
				lost.CompareAndSwap(nil, &err)
			}
		}
	})
	// Each step is applied member by member, about a probe interval apart.
	// A member unable to read another's packets would suspect it within a
	// probe or two and declare it dead 0.6-1.8 s later with LocalConfig;
	// the check runs on through the later steps and the final checks.
	steps := []struct {
		name string
		keys []meshkey.Key
	}{
		{"new key installed", []meshkey.Key{oldKey, newKey}},
		{"new key primary", []meshkey.Key{newKey, oldKey}},
		{"old key removed", []meshkey.Key{newKey}},
	}
	for _, step := range steps {
		for i, r := range rings {
			if err := r.Set(step.keys...); err != nil {
				t.Fatal(err)
			}
			want := r.Derive("gossip", 32)
			if got := gossipKeysOf(nodes[i]); !slices.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("%s, %s: keyring not updated", step.name, nodes[i].name)
			}
			time.Sleep(150 * time.Millisecond)
		}
		time.Sleep(800 * time.Millisecond)
		if p := lost.Load(); p != nil {
			t.Fatalf("after %q: a member was lost: %v", step.name, *p)
		}
	}
	// The old key is really gone: its holders are outsiders now.
	stale := newNode(t, "stale", quiet, withKeys(ring(t, oldKey)))
	if _, err := stale.Join(t.Context(), []string{nodes[0].LocalAddr()}); !errors.Is(err, ErrJoinFailed) {
		t.Fatalf("a holder of the removed key joined: %v", err)
	}
	nodes[2].SetState([]byte("after rotation"))
	waitFor(t, 10*time.Second, "state after rotation", stateEverywhere(nodes, "r2", []byte("after rotation")))
	close(stop)
	wg.Wait()
	if p := lost.Load(); p != nil {
		t.Fatalf("after the rotation: a member was lost: %v", *p)
	}
	for i, l := range logs {
		for _, d := range nodes {
			if l.count(EventFail, d.name) > 0 || l.count(EventLeave, d.name) > 0 {
				t.Errorf("%s saw %s fail or leave", nodes[i].name, d.name)
			}
		}
	}
}

func TestSyncKeyring(t *testing.T) {
	k := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	for _, tc := range []struct {
		name     string
		from, to [][]byte
	}{
		{"add secondary", [][]byte{k(1)}, [][]byte{k(1), k(2)}},
		{"switch primary", [][]byte{k(1), k(2)}, [][]byte{k(2), k(1)}},
		{"remove last", [][]byte{k(2), k(1)}, [][]byte{k(2)}},
		{"remove middle", [][]byte{k(1), k(2), k(3)}, [][]byte{k(1), k(3)}},
		{"remove primary", [][]byte{k(1), k(2), k(3)}, [][]byte{k(3), k(2)}},
		{"replace all", [][]byte{k(1), k(2)}, [][]byte{k(3), k(4)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kr, err := memberlist.NewKeyring(tc.from[1:], tc.from[0])
			if err != nil {
				t.Fatal(err)
			}
			// memberlist's receive path iterates the slice GetKeys
			// returned without a lock: it must never change in place.
			held := kr.GetKeys()
			snapshot := slices.Clone(held)
			if err := syncKeyring(kr, tc.to); err != nil {
				t.Fatal(err)
			}
			got := kr.GetKeys()
			if !bytes.Equal(got[0], tc.to[0]) || len(got) != len(tc.to) {
				t.Fatalf("keys %v, want %v", got, tc.to)
			}
			for _, w := range tc.to {
				if !slices.ContainsFunc(got, func(g []byte) bool { return bytes.Equal(g, w) }) {
					t.Fatalf("keys %v lack %v", got, w)
				}
			}
			if !slices.EqualFunc(held, snapshot, func(a, b []byte) bool { return &a[0] == &b[0] }) {
				t.Fatal("a keys slice handed out earlier was modified")
			}
		})
	}
	if err := syncKeyring(&memberlist.Keyring{}, nil); err == nil {
		t.Error("an empty ring was accepted")
	}
}
