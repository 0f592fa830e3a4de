package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

type outcome struct {
	id       string
	start    time.Time
	took     time.Duration
	provider string
	err      error
}

// TestSIGKILLProviderUnderLoad kills one of three provider processes while
// eight callers keep calling, and checks what callers saw: calls fail over,
// the only failures are calls the victim had accepted (reported as unknown
// outcome, never retried), no call ran twice, and the mesh forgets the
// victim quickly.
func TestSIGKILLProviderUnderLoad(t *testing.T) {
	m := newMesh(t)
	logPath := filepath.Join(t.TempDir(), "calls.log")
	var procs []*proc
	for i := range 3 {
		procs = append(procs, m.startRole(fmt.Sprintf("rec-%d", i), "recorder", "PYROS_E2E_LOG="+logPath))
	}
	victim := procs[1]
	c := m.peer("caller")
	waitFor(t, 10*time.Second, "three providers in the catalog", func() bool { return len(providers(c, "e2e/record")) == 3 })

	var mu sync.Mutex
	var results []outcome
	ctx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil && i < 100000; i++ {
				o := outcome{id: fmt.Sprintf("w%d-%d", w, i), start: time.Now()}
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				o.err = c.Call(cctx, "e2e/record", o.id, &o.provider)
				cancel()
				o.took = time.Since(o.start)
				if ctx.Err() != nil && o.err != nil {
					return // the load ended mid-call
				}
				mu.Lock()
				results = append(results, o)
				mu.Unlock()
			}
		}()
	}
	answered := func(name string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range results {
			if o.provider == name {
				return true
			}
		}
		return false
	}
	waitFor(t, 10*time.Second, "the victim serving calls", func() bool { return answered(victim.name) })
	killed := time.Now()
	victim.kill()
	gone := waitFor(t, 5*time.Second, "victim gone from the caller's catalog", func() bool {
		return !slices.Contains(providers(c, "e2e/record"), victim.name)
	})
	t.Logf("victim removed from the caller's catalog %v after SIGKILL", gone)
	changed := time.Now()
	waitFor(t, 5*time.Second, "100 calls succeeding after the catalog changed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, o := range results {
			if o.err == nil && o.start.After(changed) {
				n++
			}
		}
		return n >= 100
	})
	stop()
	wg.Wait()

	checkOutcomes(t, results, killed, victim.name)
	checkExecutedOnce(t, logPath, results)

	out, _, code := m.cli("services", "--json")
	if code != 0 || !contains(out, "rec-0") || contains(out, victim.name) {
		t.Fatalf("a fresh peer's catalog should list rec-0 and not the victim (exit %d):\n%s", code, out)
	}
}

func checkOutcomes(t *testing.T, results []outcome, killed time.Time, victim string) {
	t.Helper()
	var ok, unknown int
	var slowest time.Duration
	for _, o := range results {
		switch {
		case o.err == nil:
			ok++
		case errors.Is(o.err, peer.ErrUnknownOutcome):
			unknown++
		default:
			t.Errorf("call %s failed: %v", o.id, o.err)
		}
		if o.start.After(killed) && o.took > slowest {
			slowest = o.took
		}
		if o.err == nil && o.provider == victim && o.start.After(killed.Add(10*time.Millisecond)) {
			t.Errorf("call %s answered by the killed provider", o.id)
		}
	}
	t.Logf("%d calls ok, %d unknown outcome (sent to the victim when it died); slowest call issued after the kill: %v", ok, unknown, slowest)
	if unknown > 8 {
		t.Errorf("%d unknown outcomes: more than the 8 calls that can be in flight", unknown)
	}
	if slowest > time.Second {
		t.Errorf("a call issued after the kill took %v: failover must take under 1 s", slowest)
	}
	if ok < 100 {
		t.Errorf("only %d calls succeeded", ok)
	}
}

// checkExecutedOnce reads the providers' log: no id ran twice, every
// successful call ran exactly once.
func checkExecutedOnce(t *testing.T, logPath string, results []outcome) {
	t.Helper()
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	runs := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		runs[sc.Text()]++
	}
	for id, n := range runs {
		if n > 1 {
			t.Errorf("call %s ran %d times", id, n)
		}
	}
	for _, o := range results {
		if o.err == nil && runs[o.id] != 1 {
			t.Errorf("successful call %s ran %d times", o.id, runs[o.id])
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
