// Command state is a pyros peer that uses the mesh's shared state: it
// takes a lock that vanishes with its holder, and while it holds it, counts
// in a replicated counter. Start a state server first (`pyros-peer run
// --data DIR --bootstrap-expect 1`), then two of these: one works, the
// other waits, and takes over when the first one dies.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

const (
	lockKey    = "example/lock"
	counterKey = "example/counter"
)

func main() {
	name := flag.String("name", peer.DefaultName(), "peer name")
	join := flag.String("join", "", "comma-separated seed addresses HOST:PORT")
	flag.Parse()
	if err := run(*name, *join); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "state:", err)
		os.Exit(1)
	}
}

func run(name, join string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := peer.Config{Name: name, RegistryDir: peer.DefaultRegistryDir()}
	if join != "" {
		cfg.Join = strings.Split(join, ",")
	}
	p, err := peer.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer p.Close() // releases the lock at once
	st := p.State()
	for {
		if err := lock(ctx, st, name); err != nil {
			return err
		}
		fmt.Println("holding", lockKey, "as", name)
		if err := count(ctx, st); err != nil {
			return err
		}
	}
}

// lock takes the lock: a create-if-absent of a key tied to this peer. While
// another peer holds it, it watches the key until it is deleted.
func lock(ctx context.Context, st *peer.State, name string) error {
	for {
		_, err := st.CompareAndSwap(ctx, lockKey, 0, name, peer.Ephemeral())
		if !errors.Is(err, peer.ErrConflict) {
			return err // nil: the lock is ours
		}
		e, err := st.Get(ctx, lockKey)
		if errors.Is(err, peer.ErrNotFound) {
			continue // released meanwhile
		}
		if err != nil {
			return err
		}
		var holder string
		e.Decode(&holder)
		fmt.Println("waiting for", lockKey, "held by", holder)
		if err := waitDeleted(ctx, st, e.Rev); err != nil {
			return err
		}
	}
}

// waitDeleted watches the lock from the revision it was read at, so a
// release in between is not missed.
func waitDeleted(ctx context.Context, st *peer.State, rev int64) error {
	w, err := st.Watch(ctx, lockKey, peer.FromRev(rev+1))
	if err != nil {
		return err
	}
	defer w.Close()
	for c := range w.Changes() {
		if c.Type == peer.ChangeDelete {
			return nil
		}
	}
	if err := w.Err(); err != nil {
		return err
	}
	return ctx.Err()
}

// count increments the shared counter once a second with compare-and-swap,
// which retries when another writer got there first.
func count(ctx context.Context, st *peer.State) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		n, err := increment(ctx, st)
		if err != nil {
			return err
		}
		fmt.Println("counter =", n)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func increment(ctx context.Context, st *peer.State) (int, error) {
	for {
		n, rev := 0, int64(0)
		e, err := st.Get(ctx, counterKey)
		switch {
		case err == nil:
			if err := e.Decode(&n); err != nil {
				return 0, err
			}
			rev = e.Rev
		case !errors.Is(err, peer.ErrNotFound):
			return 0, err
		}
		_, err = st.CompareAndSwap(ctx, counterKey, rev, n+1)
		if err == nil {
			return n + 1, nil
		}
		if !errors.Is(err, peer.ErrConflict) {
			return 0, err
		}
	}
}
