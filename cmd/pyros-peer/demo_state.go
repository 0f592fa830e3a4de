package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pyros-mesh/pyros/codec"
)

// sharedState narrates the replicated state: a write that survives the
// SIGKILL of the raft leader, and the leader's restart.
func (d *demo) sharedState() error {
	d.say("")
	d.say("-> shared state: a key/value store replicated by raft among the peers run with --data")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var leader string
	if err := waitUntil(15*time.Second, func() bool { leader = d.leader(); return leader != "" }); err != nil {
		return fmt.Errorf("no state leader: %w", err)
	}
	d.say("   the three peers formed the state cluster by themselves; the leader is %s", leader)
	st := d.p.State()
	rev, err := st.Put(ctx, "demo/config", map[string]any{"speed": 3})
	if err != nil {
		return err
	}
	d.say(`   put demo/config {"speed":3}  ->  revision %d (from this process, which keeps no replica)`, rev)
	d.say("   killing %s, the leader, with SIGKILL while this process keeps writing demo/counter", leader)
	w := d.startWriter()
	time.Sleep(200 * time.Millisecond) // some writes before the kill
	d.children[leader].Process.Kill()
	d.children[leader].Wait()
	killed := time.Now() // the process is gone: whatever is acknowledged now, another leader took
	delete(d.children, leader)
	if err := waitUntil(10*time.Second, func() bool { return w.firstAfter(killed) > 0 }); err != nil {
		w.stop()
		return fmt.Errorf("no write accepted after the kill: %w", err)
	}
	time.Sleep(200 * time.Millisecond)
	ok, failed := w.stop()
	var now string
	waitUntil(5*time.Second, func() bool { now = d.leader(); return now != "" && now != leader })
	d.say("   %s took over; the first write after the kill was accepted %v later", now, w.firstAfter(killed).Round(time.Millisecond))
	d.say("   writes during the failure: %d acknowledged, %d failed (a write is retried until the new leader takes it)", ok, failed)
	var cfg map[string]any
	e, err := st.Get(ctx, "demo/config")
	if err == nil {
		err = e.Decode(&cfg)
	}
	if err != nil {
		return err
	}
	d.say("   get demo/config  ->  %v at revision %d: the write survived its leader", jsonText(cfg), e.Rev)
	d.say("   restarting %s on its data directory", leader)
	if err := d.startPeers(leader); err != nil {
		return err
	}
	start := time.Now()
	if err := waitUntil(20*time.Second, func() bool { return d.role(leader) == "server" }); err != nil {
		return fmt.Errorf("%s did not rejoin: %w", leader, err)
	}
	d.say("   %s rejoined as a follower %v after it started (the mesh first settles the old process's death)",
		leader, time.Since(start).Round(time.Millisecond))
	return nil
}

func (d *demo) role(name string) string {
	for _, m := range d.p.Members() {
		if m.Name == name {
			return m.Role
		}
	}
	return ""
}

// leader returns the state leader as the catalog names it.
func (d *demo) leader() string {
	for _, m := range d.p.Members() {
		if m.Role == "leader" {
			return m.Name
		}
	}
	return ""
}

// stateWriter writes demo/counter in a loop and remembers when each write
// was acknowledged.
type stateWriter struct {
	cancel  context.CancelFunc
	done    chan struct{}
	ok, bad atomic.Int64
	mu      sync.Mutex
	acks    []time.Time
}

func (d *demo) startWriter() *stateWriter {
	ctx, cancel := context.WithCancel(context.Background())
	w := &stateWriter{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for n := 0; ctx.Err() == nil; n++ {
			wctx, c := context.WithTimeout(ctx, 5*time.Second)
			_, err := d.p.State().Put(wctx, "demo/counter", n)
			c()
			if err != nil {
				if ctx.Err() == nil {
					w.bad.Add(1)
				}
				continue
			}
			w.ok.Add(1)
			w.mu.Lock()
			w.acks = append(w.acks, time.Now())
			w.mu.Unlock()
		}
	}()
	return w
}

// firstAfter returns how long after t the first write was acknowledged
// (0: none yet).
func (w *stateWriter) firstAfter(t time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.acks {
		if a.After(t) {
			return a.Sub(t)
		}
	}
	return 0
}

func (w *stateWriter) stop() (ok, failed int64) {
	w.cancel()
	<-w.done
	return w.ok.Load(), w.bad.Load()
}

// jsonText renders a decoded value as JSON.
func jsonText(v any) string {
	b, err := json.Marshal(codec.JSONable(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
