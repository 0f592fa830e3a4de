package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/pyros-mesh/pyros/discovery"
	"github.com/pyros-mesh/pyros/peer"
)

// startServers runs n state server processes of the mesh.
func (m *mesh) startServers(dir string, n int) map[string]*proc {
	m.t.Helper()
	procs := make(map[string]*proc)
	for i := range n {
		name := fmt.Sprintf("s%d", i)
		procs[name] = m.startPeer(name, "--data", filepath.Join(dir, name), "--bootstrap-expect", fmt.Sprint(n))
	}
	return procs
}

func leaderName(p *peer.Peer) string {
	for _, m := range p.Members() {
		if m.Role == "leader" {
			return m.Name
		}
	}
	return ""
}

// TestStateSurvivesLeaderSIGKILL runs 3 server processes and clients
// writing, swapping and reading concurrently; it SIGKILLs the leader under
// that load, then checks that no acknowledged write was lost, that the
// clients' history is linearizable, that a watch saw every change in
// order across the leader change, and that the killed server, restarted
// on its data directory, catches up.
func TestStateSurvivesLeaderSIGKILL(t *testing.T) {
	m := newMesh(t)
	dir := t.TempDir()
	servers := m.startServers(dir, 3)
	clients := []*peer.Peer{m.peer("c0"), m.peer("c1"), m.peer("c2")}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	waitFor(t, 20*time.Second, "a first write", func() bool {
		_, err := clients[0].State().Put(ctx, "hello", "world")
		return err == nil
	})
	w, err := clients[1].State().Watch(ctx, "", peer.FromRev(1))
	if err != nil {
		t.Fatal(err)
	}
	seen := collect(w)

	h := newHistory()
	load := newStateLoad(h, clients)
	load.run(ctx, 6)
	waitFor(t, 10*time.Second, "writes under load", func() bool { return load.acked.Load() > 50 })
	var victim string
	waitFor(t, 10*time.Second, "the leader in c0's catalog", func() bool {
		victim = leaderName(clients[0])
		return servers[victim] != nil
	})
	if servers[victim] == nil {
		t.Fatalf("leader %q is not a server process", victim)
	}
	before := load.acked.Load()
	killed := time.Now()
	servers[victim].kill()
	load.markKill(killed)
	waitFor(t, 20*time.Second, "writes after the kill", func() bool { return load.acked.Load() > before+200 })
	load.stop()
	t.Logf("leader %s SIGKILLed: first write accepted %v after the kill; %d writes acknowledged, %d of unknown outcome",
		victim, load.firstAfterKill().Round(time.Millisecond), load.acked.Load(), load.unknown.Load())

	checkDurable(t, ctx, clients[2], load)
	res, info := h.check(60 * time.Second)
	if res != porcupine.Ok {
		path := filepath.Join(t.TempDir(), "history.html")
		porcupine.VisualizePath(kvModel.ToModel(), info, path)
		t.Fatalf("history of %d operations is %s (see %s)", len(h.ops), res, path)
	}
	t.Logf("linearizability: %d operations checked, ok", len(h.ops))
	checkWatch(t, ctx, clients[2], seen, load)
	w.Close()

	restarted := restartServer(t, m, victim, filepath.Join(dir, victim))
	want := load.durableKeys()
	took := waitFor(t, 20*time.Second, "the restarted server's replica catching up", func() bool {
		es, _, err := restarted.State().List(ctx, "dur/", peer.Stale())
		if err != nil {
			return false
		}
		have := make(map[string]int64, len(es))
		for _, e := range es {
			have[e.Key] = e.Rev
		}
		for k, rev := range want {
			if have[k] != rev {
				return false
			}
		}
		return true
	})
	t.Logf("restarted %s caught up with %d keys %v after it started", victim, len(want), took.Round(time.Millisecond))
}

// restartServer starts a state server in this process on a data directory.
func restartServer(t *testing.T, m *mesh, name, dir string) *peer.Peer {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := peer.New(ctx, peer.Config{
		Name:        name,
		DataDir:     dir,
		RegistryDir: m.registry,
		Gossip:      discovery.LocalConfig(),
		Logger:      slog.New(slog.NewTextHandler(testWriter{t, name}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// stateLoad is concurrent clients putting, swapping and reading a few
// shared keys (recorded for the linearizability check) and writing keys of
// their own (to check that no acknowledged write is lost).
type stateLoad struct {
	h       *history
	clients []*peer.Peer
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	acked, unknown atomic.Int64
	mu             sync.Mutex
	durable        map[string]int64 // acknowledged own keys and their revision
	revs           map[int64]string // every acknowledged revision and its key
	killedAt       time.Time
	firstAfter     time.Duration
}

func newStateLoad(h *history, clients []*peer.Peer) *stateLoad {
	return &stateLoad{h: h, clients: clients, durable: make(map[string]int64), revs: make(map[int64]string)}
}

func (l *stateLoad) run(ctx context.Context, workers int) {
	ctx, l.cancel = context.WithCancel(ctx)
	for i := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.work(ctx, i, l.clients[i%len(l.clients)].State())
		}()
	}
}

func (l *stateLoad) stop() { l.cancel(); l.wg.Wait() }

func (l *stateLoad) markKill(at time.Time) {
	l.mu.Lock()
	l.killedAt = at
	l.mu.Unlock()
}

func (l *stateLoad) firstAfterKill() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.firstAfter
}

// ack records an acknowledged write.
func (l *stateLoad) ack(key string, rev int64, call time.Time) {
	l.acked.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.revs[rev] = key
	if !l.killedAt.IsZero() && call.After(l.killedAt) && l.firstAfter == 0 {
		l.firstAfter = time.Since(l.killedAt)
	}
}

func (l *stateLoad) work(ctx context.Context, id int, st *peer.State) {
	lastRev := map[string]int64{}
	for n := 0; ctx.Err() == nil; n++ {
		key := fmt.Sprintf("lin/k%d", rand.IntN(4))
		val := fmt.Sprintf("w%d-%d", id, n)
		switch r := rand.IntN(10); {
		case r < 3:
			l.put(ctx, id, st, key, val)
		case r < 6:
			l.get(ctx, id, st, key, lastRev)
		case r < 8:
			l.cas(ctx, id, st, key, val, lastRev[key])
		default:
			l.own(ctx, st, fmt.Sprintf("dur/w%d/%d", id, n))
		}
	}
}

// op runs one recorded write; an error leaves its outcome unknown.
func (l *stateLoad) op(ctx context.Context, id int, in kvInput, f func(context.Context) (kvOutput, error)) {
	call, start := l.h.now(), time.Now()
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	out, err := f(octx)
	cancel()
	if err != nil {
		out = kvOutput{Unknown: true}
		l.unknown.Add(1)
	} else if in.Op != "get" && (in.Op == "put" || out.OK) {
		l.ack(in.Key, out.Rev, start)
	}
	if err == nil || in.Op != "get" {
		l.h.add(id, in, out, call)
	}
}

func (l *stateLoad) put(ctx context.Context, id int, st *peer.State, key, val string) {
	l.op(ctx, id, kvInput{Op: "put", Key: key, Value: val}, func(ctx context.Context) (kvOutput, error) {
		rev, err := st.Put(ctx, key, val)
		return kvOutput{Rev: rev}, err
	})
}

func (l *stateLoad) get(ctx context.Context, id int, st *peer.State, key string, lastRev map[string]int64) {
	l.op(ctx, id, kvInput{Op: "get", Key: key}, func(ctx context.Context) (kvOutput, error) {
		e, err := st.Get(ctx, key)
		if errors.Is(err, peer.ErrNotFound) {
			return kvOutput{}, nil
		}
		if err != nil {
			return kvOutput{}, err
		}
		var v string
		if err := e.Decode(&v); err != nil {
			return kvOutput{}, err
		}
		lastRev[key] = e.Rev
		return kvOutput{Value: v, Rev: e.Rev}, nil
	})
}

func (l *stateLoad) cas(ctx context.Context, id int, st *peer.State, key, val string, ifRev int64) {
	l.op(ctx, id, kvInput{Op: "cas", Key: key, Value: val, IfRev: ifRev}, func(ctx context.Context) (kvOutput, error) {
		rev, err := st.CompareAndSwap(ctx, key, ifRev, val)
		if errors.Is(err, peer.ErrConflict) {
			var cur int64
			fmt.Sscanf(conflictRev(err), "%d", &cur)
			return kvOutput{Rev: cur}, nil
		}
		return kvOutput{OK: err == nil, Rev: rev}, err
	})
}

// conflictRev pulls the current revision out of a conflict error ("0" for
// a key that does not exist).
func conflictRev(err error) string {
	var rev string
	msg := err.Error()
	if _, e := fmt.Sscanf(msg[len(msg)-min(len(msg), 20):], "%s", &rev); e != nil {
		return "0"
	}
	for i := len(msg) - 1; i >= 0; i-- {
		if msg[i] == ' ' {
			return msg[i+1:]
		}
	}
	return "0"
}

// own writes a key nobody else writes; acknowledged ones must survive.
func (l *stateLoad) own(ctx context.Context, st *peer.State, key string) {
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	rev, err := st.Put(octx, key, 1)
	if err != nil {
		l.unknown.Add(1)
		return
	}
	l.ack(key, rev, start)
	l.mu.Lock()
	l.durable[key] = rev
	l.mu.Unlock()
}

func (l *stateLoad) durableKeys() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int64, len(l.durable))
	for k, v := range l.durable {
		out[k] = v
	}
	return out
}

// checkDurable reads every acknowledged own key back.
func checkDurable(t *testing.T, ctx context.Context, c *peer.Peer, l *stateLoad) {
	es, _, err := c.State().List(ctx, "dur/")
	if err != nil {
		t.Fatal(err)
	}
	have := make(map[string]int64, len(es))
	for _, e := range es {
		have[e.Key] = e.Rev
	}
	for k, rev := range l.durableKeys() {
		if have[k] != rev {
			t.Errorf("acknowledged write lost: %s at revision %d, read back %d", k, rev, have[k])
		}
	}
	t.Logf("durability: all %d acknowledged own keys read back", len(l.durableKeys()))
}

// collect gathers a watch's changes until it ends.
func collect(w *peer.Watcher) func() []peer.Change {
	var mu sync.Mutex
	var got []peer.Change
	go func() {
		for c := range w.Changes() {
			mu.Lock()
			got = append(got, c)
			mu.Unlock()
		}
	}()
	return func() []peer.Change {
		mu.Lock()
		defer mu.Unlock()
		return append([]peer.Change(nil), got...)
	}
}

// checkWatch checks that the watch saw every acknowledged write, in
// revision order, once.
func checkWatch(t *testing.T, ctx context.Context, c *peer.Peer, seen func() []peer.Change, l *stateLoad) {
	_, last, err := c.State().List(ctx, "", peer.Limit(1))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the watch reaching the last revision", func() bool {
		got := seen()
		return len(got) > 0 && got[len(got)-1].Entry.Rev >= last
	})
	got := seen()
	byRev := make(map[int64]string, len(got))
	for i, c := range got {
		if i > 0 && c.Entry.Rev <= got[i-1].Entry.Rev {
			t.Fatalf("watch out of order or repeated: revision %d after %d", c.Entry.Rev, got[i-1].Entry.Rev)
		}
		byRev[c.Entry.Rev] = c.Entry.Key
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	revs := make([]int64, 0, len(l.revs))
	for r := range l.revs {
		revs = append(revs, r)
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i] < revs[j] })
	for _, r := range revs {
		if byRev[r] != l.revs[r] {
			t.Fatalf("watch missed the acknowledged write of %s at revision %d", l.revs[r], r)
		}
	}
	t.Logf("watch: %d changes in order across the leader change, all %d acknowledged writes among them", len(got), len(revs))
}

// TestStateEphemeralAndCLI runs a single-server mesh (bootstrap-expect 1):
// an Ephemeral key vanishes when its owner process is SIGKILLed, and the
// state verbs of the CLI work and refuse bad input.
func TestStateEphemeralAndCLI(t *testing.T) {
	m := newMesh(t)
	m.startPeer("solo", "--data", filepath.Join(t.TempDir(), "solo"), "--bootstrap-expect", "1")
	c := m.peer("watcher")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	owner := m.startRole("owner", "state-owner")
	if _, err := c.State().Get(ctx, "presence/owner"); err != nil {
		t.Fatalf("the owner's key: %v", err)
	}
	owner.kill()
	killed := time.Now()
	waitFor(t, 20*time.Second, "the Ephemeral key vanishing", func() bool {
		_, err := c.State().Get(ctx, "presence/owner")
		return errors.Is(err, peer.ErrNotFound)
	})
	t.Logf("the SIGKILLed owner's Ephemeral key vanished after %v", time.Since(killed).Round(time.Millisecond))

	runOK := func(want string, args ...string) {
		t.Helper()
		out, errs, code := m.cli(append([]string{"state"}, args...)...)
		if code != 0 || (want != "" && out != want+"\n") {
			t.Fatalf("state %v: exit %d, out %q (want %q), err %q", args, code, out, want, errs)
		}
	}
	runOK("", "put", "cfg/speed", `{"max":3}`)
	runOK(`{"max":3}`, "get", "cfg/speed")
	e, err := c.State().Get(ctx, "cfg/speed")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]int
	if err := e.Decode(&v); err != nil || v["max"] != 3 {
		t.Fatalf("a CLI value read from Go: %v %v", v, err)
	}
	runOK(fmt.Sprint(e.Rev+1), "cas", "cfg/speed", fmt.Sprint(e.Rev), "5")
	if _, errs, code := m.cli("state", "cas", "cfg/speed", fmt.Sprint(e.Rev), "6"); code != 1 || !strings.Contains(errs, "revision conflict") {
		t.Fatalf("stale cas: exit %d, %q", code, errs)
	}
	runOK(fmt.Sprintf(`{"created":%d,"key":"cfg/speed","rev":%d,"value":5,"version":2}`, e.Created, e.Rev+1), "list", "cfg/")
	if _, errs, code := m.cli("state", "del", "cfg/speed", "--rev", fmt.Sprint(e.Rev)); code != 1 || !strings.Contains(errs, "revision conflict") {
		t.Fatalf("stale del --rev: exit %d, %q", code, errs)
	}
	runOK("deleted", "del", "cfg/speed", "--rev", fmt.Sprint(e.Rev+1))
	runOK(`{"key":"cfg/speed","rev":`+fmt.Sprint(e.Rev+2)+`,"type":"delete"}`, "watch", "cfg/", "--from", fmt.Sprint(e.Rev+2), "--count", "1")
	if _, errs, code := m.cli("state", "get", "cfg/speed"); code != 1 || !strings.Contains(errs, "key not found") {
		t.Fatalf("get of a deleted key: exit %d, %q", code, errs)
	}
	for _, bad := range [][]string{{"state"}, {"state", "nope"}, {"state", "put", "k"}, {"state", "put", "k", "{bad"}, {"state", "cas", "k", "x", "1"}} {
		if _, _, code := m.cli(bad...); code != 2 {
			t.Fatalf("%v: exit %d, want 2", bad, code)
		}
	}
}
