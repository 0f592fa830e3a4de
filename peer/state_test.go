package peer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/discovery"
)

// stateMesh starts servers state servers and clients clients on loopback,
// all joining the first, and waits for a leader.
func startStateMesh(t testing.TB, servers, clients int) []*Peer {
	return startStateMeshExpect(t, servers, clients, servers)
}

func startStateMeshExpect(t testing.TB, servers, clients, expect int) []*Peer {
	t.Helper()
	var peers []*Peer
	for i := range servers + clients {
		cfg := Config{
			Name:   fmt.Sprintf("p%d", i),
			Gossip: discovery.LocalConfig(),
			IPCDir: t.TempDir(),
			Logger: slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		}
		if i < servers {
			cfg.DataDir, cfg.BootstrapExpect, cfg.StateGrace = t.TempDir(), expect, time.Second
		}
		if i > 0 {
			cfg.Join = []string{peers[0].Addr()}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		p, err := New(ctx, cfg)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		peers = append(peers, p)
	}
	waitFor(t, 15*time.Second, "a state leader everyone knows", func() bool {
		for _, p := range peers {
			if leaderOf(p) == "" {
				return false
			}
		}
		return true
	})
	return peers
}

func leaderOf(p *Peer) string {
	for _, m := range p.Members() {
		if m.Role == "leader" {
			return m.Name
		}
	}
	return ""
}

func TestStateFromAnyPeer(t *testing.T) {
	peers := startStateMesh(t, 3, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := peers[3]
	rev, err := client.State().Put(ctx, "config/speed", 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range peers {
		e, err := p.State().Get(ctx, "config/speed")
		var v int
		if err != nil || e.Decode(&v) != nil || v != 3 || e.Rev != rev {
			t.Fatalf("%s: get %+v %v", p.Name(), e, err)
		}
	}
	if _, err := client.State().Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := peers[1].State().CompareAndSwap(ctx, "config/speed", rev-1, 4); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale cas: %v", err)
	}
	rev2, err := peers[2].State().CompareAndSwap(ctx, "config/speed", rev, 4)
	if err != nil || rev2 <= rev {
		t.Fatalf("cas: %d %v", rev2, err)
	}
	if _, err := client.State().Put(ctx, "config/name", "robot"); err != nil {
		t.Fatal(err)
	}
	es, _, err := client.State().List(ctx, "config/")
	if err != nil || len(es) != 2 {
		t.Fatalf("list: %+v %v", es, err)
	}
	waitFor(t, 5*time.Second, "a stale read that catches up", func() bool {
		es, _, err := client.State().List(ctx, "config/", Stale())
		return err == nil && len(es) == 2
	})
	ok, err := client.State().Delete(ctx, "config/name")
	if err != nil || !ok {
		t.Fatalf("delete: %v %v", ok, err)
	}
}

func TestStateWatchAndEphemeral(t *testing.T) {
	peers := startStateMesh(t, 3, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := peers[4].State().Watch(ctx, "presence/")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	owner := peers[3]
	if _, err := owner.State().Put(ctx, "presence/"+owner.Name(), "here", Ephemeral()); err != nil {
		t.Fatal(err)
	}
	next := func() Change {
		select {
		case c := <-w.Changes():
			return c
		case <-ctx.Done():
			t.Fatal("no change")
		}
		return Change{}
	}
	if c := next(); c.Type != ChangePut || c.Entry.Key != "presence/p3" {
		t.Fatalf("put: %+v", c)
	}
	owner.Close()
	if c := next(); c.Type != ChangeDelete || c.Entry.Key != "presence/p3" {
		t.Fatalf("delete on close: %+v", c)
	}
}

// TestStateVotersFollowMembership: 4 servers keep 3 voters; when a voter
// goes away for longer than StateGrace, the spare server takes its vote.
func TestStateVotersFollowMembership(t *testing.T) {
	peers := startStateMeshExpect(t, 4, 0, 3)
	leader := leaderOf(peers[0])
	var lp *Peer
	for _, p := range peers {
		if p.Name() == leader {
			lp = p
		}
	}
	config := func() (voters, nonvoters []string) {
		v, nv, err := lp.server.Voters()
		if err != nil {
			t.Fatal(err)
		}
		return v, nv
	}
	waitFor(t, 15*time.Second, "3 voters and a nonvoter", func() bool {
		v, nv := config()
		return len(v) == 3 && len(nv) == 1
	})
	v, nv := config()
	spare := nv[0]
	var gone *Peer
	for _, p := range peers {
		if p.Name() != leader && p.Name() != spare {
			gone = p
			break
		}
	}
	gone.Close()
	waitFor(t, 20*time.Second, spare+" promoted in place of "+gone.Name(), func() bool {
		v, nv := config()
		return len(v) == 3 && len(nv) == 0 && slices.Contains(v, spare) && !slices.Contains(v, gone.Name())
	})
	t.Logf("voters %v, spare %s; after %s left: %v", v, spare, gone.Name(), func() []string { v, _ := config(); return v }())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := lp.State().Put(ctx, "after", 1); err != nil {
		t.Fatal(err)
	}
}

// TestStateBootstrapsOnce starts 5 servers expecting 3 all at once: they
// must form a single cluster that ends up with all 5, 5 of them voters.
func TestStateBootstrapsOnce(t *testing.T) {
	peers := startStateMeshExpect(t, 5, 0, 3)
	leader := leaderOf(peers[0])
	for _, p := range peers {
		if l := leaderOf(p); l != leader {
			t.Fatalf("%s sees leader %s, %s sees %s", p.Name(), l, peers[0].Name(), leader)
		}
	}
	var lp *Peer
	for _, p := range peers {
		if p.Name() == leader {
			lp = p
		}
	}
	waitFor(t, 15*time.Second, "5 voters in one cluster", func() bool {
		v, _, err := lp.server.Voters()
		return err == nil && len(v) == 5
	})
	for _, p := range peers {
		if p != lp && p.server.Status().Leader {
			t.Fatalf("a second leader: %s", p.Name())
		}
	}
}

func TestStateWithoutEnoughServersSaysWhy(t *testing.T) {
	p := startPeers(t, 1)[0]
	cfg := Config{Name: "lonely", Gossip: discovery.LocalConfig(), IPCDir: t.TempDir(), DataDir: t.TempDir(),
		Join: []string{p.Addr()}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wctx, wcancel := context.WithTimeout(ctx, time.Second)
	defer wcancel()
	_, err = p.State().Put(wctx, "k", 1)
	if err == nil || !strings.Contains(err.Error(), "1 state server(s) here, waiting for 3") {
		t.Fatalf("error: %v", err)
	}
}

// TestStateCompareAndDelete deletes a key only at its revision.
func TestStateCompareAndDelete(t *testing.T) {
	peers := startStateMesh(t, 1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := peers[1].State()
	rev, err := st.Put(ctx, "cad/k", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "cad/k", 2); err != nil {
		t.Fatal(err)
	}
	if err := st.CompareAndDelete(ctx, "cad/k", rev); !errors.Is(err, ErrConflict) {
		t.Fatalf("delete at an old revision: %v, want ErrConflict", err)
	}
	e, err := st.Get(ctx, "cad/k")
	if err != nil {
		t.Fatalf("the key after a refused delete: %v", err)
	}
	if err := st.CompareAndDelete(ctx, "cad/k", e.Rev); err != nil {
		t.Fatalf("delete at its revision: %v", err)
	}
	if _, err := st.Get(ctx, "cad/k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the key after its delete: %v, want ErrNotFound", err)
	}
	if err := st.CompareAndDelete(ctx, "cad/k", e.Rev); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("delete of an absent key: %v", err)
	}
	if err := st.CompareAndDelete(ctx, "cad/k", 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("delete at revision 0: %v", err)
	}
}
