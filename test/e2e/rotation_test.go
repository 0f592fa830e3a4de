package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/meshkey"
	"github.com/pyros-mesh/pyros/peer"
)

// TestKeyRotation rotates the mesh key of three peer processes by editing
// their key files, as the README says (install, use, remove), while a
// keyed caller calls without pause: no call fails and no member is lost,
// a peer holding only the new key gets in once it is used, and one holding
// only the old key is kept out once it is removed.
func TestKeyRotation(t *testing.T) {
	m := newMesh(t)
	oldKey, newKey := meshkey.Generate(), meshkey.Generate()
	names := []string{"rot-a", "rot-b", "rot-c"}
	files := make([]string, len(names))
	write := func(keys ...meshkey.Key) {
		var b strings.Builder
		for _, k := range keys {
			b.WriteString(k.String() + "\n")
		}
		for _, f := range files {
			if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range names {
		files[i] = filepath.Join(t.TempDir(), "mesh.key")
	}
	write(oldKey)
	for i, n := range names {
		m.startPeer(n, "--demo", "--no-ipc", "--key", files[i])
	}
	ring, _ := meshkey.NewRing(oldKey)
	caller := m.keyedPeer("rot-caller", ring)
	waitFor(t, 20*time.Second, "the three providers", func() bool { return len(providers(caller, "demo/whoami")) == 3 })

	// the caller calls without pause and watches for lost members
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	calls := 0
	events := caller.Watch(ctx)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
			var who string
			err := caller.Call(cctx, "demo/whoami", nil, &who)
			ccancel()
			mu.Lock()
			if err != nil && ctx.Err() == nil {
				failures = append(failures, err.Error())
			}
			calls++
			mu.Unlock()
			time.Sleep(5 * time.Millisecond) // pace the load
		}
	}()
	go func() {
		defer wg.Done()
		for e := range events {
			if (e.Type == peer.MemberLeft || e.Type == peer.MemberFailed) && slices.Contains(names, e.Member.Name) {
				mu.Lock()
				failures = append(failures, e.Member.Name+" "+e.Type.String())
				mu.Unlock()
			}
		}
	}()

	// reaches reports whether a fresh peer with only these keys calls all
	// three providers.
	probes := 0
	reaches := func(keys ...meshkey.Key) bool {
		r, _ := meshkey.NewRing(keys...)
		probes++
		p := m.keyedPeer(fmt.Sprintf("rot-probe-%d", probes), r)
		defer p.Close()
		for wait := time.Now().Add(3 * time.Second); len(providers(p, "demo/whoami")) < 3; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(wait) {
				return false // its gossip does not get in
			}
		}
		seen := map[string]bool{}
		for range 30 {
			cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
			var who string
			err := p.Call(cctx, "demo/whoami", nil, &who)
			ccancel()
			if err == nil {
				seen[who] = true
			}
		}
		return len(seen) == 3
	}

	// 1. install: every peer accepts the new key; the old one still sends
	write(oldKey, newKey)
	ring.Set(oldKey, newKey)
	waitFor(t, 20*time.Second, "every peer accepting the new key", func() bool { return reaches(newKey, oldKey) })
	// 2. use: the new key sends everywhere
	write(newKey, oldKey)
	ring.Set(newKey, oldKey)
	waitFor(t, 20*time.Second, "a peer with only the new key getting in", func() bool { return reaches(newKey) })
	// 3. remove: the old key is refused
	write(newKey)
	ring.Set(newKey)
	waitFor(t, 20*time.Second, "a peer with only the old key kept out", func() bool {
		r, _ := meshkey.NewRing(oldKey)
		probes++
		p := m.keyedPeer(fmt.Sprintf("rot-outsider-%d", probes), r)
		defer p.Close()
		for watch := time.Now().Add(3 * time.Second); time.Now().Before(watch); time.Sleep(50 * time.Millisecond) {
			if len(providers(p, "demo/whoami")) > 0 {
				return false // some peer still let it in
			}
		}
		cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
		defer ccancel()
		return p.Call(cctx, "demo/whoami", nil, nil) != nil
	})
	if !reaches(newKey) {
		t.Fatal("after the rotation, a peer with the new key no longer gets in")
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(failures) > 0 {
		t.Fatalf("during the rotation, %d of %d calls or members failed: %v", len(failures), calls, failures[:min(5, len(failures))])
	}
	t.Logf("rotation done with %d calls, none failed, no member lost", calls)
}
