package fault

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSetRefusesInvalidRules(t *testing.T) {
	f := New("a", nil)
	for name, r := range map[string]Rules{
		"negative drop":      {Drop: -0.1},
		"drop above one":     {Drop: 1.5},
		"NaN drop":           {Drop: math.NaN()},
		"negative delay":     {Delay: -time.Millisecond},
		"delay too long":     {Delay: MaxDelay + 1},
		"empty name":         {Partition: [][]string{{"a", ""}, {"b"}}},
		"name in two groups": {Partition: [][]string{{"a", "b"}, {"c", "b"}}},
	} {
		if err := f.Set(r); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	if r := f.Rules(); r.Drop != 0 || r.Delay != 0 || r.Partition != nil {
		t.Fatalf("refused rules applied: %+v", r)
	}
	if err := f.Set(Rules{Partition: [][]string{{"a", "a"}, {"b"}}, Delay: MaxDelay, Drop: 1}); err != nil {
		t.Fatalf("valid rules refused: %v", err)
	}
}

func TestBlocked(t *testing.T) {
	r := Rules{Partition: [][]string{{"a", "b"}, {"c"}, {"d"}}}
	for _, c := range []struct {
		self, peer string
		want       bool
	}{
		{"a", "b", false}, // same group
		{"a", "c", true},
		{"a", "d", true},
		{"c", "d", true},
		{"c", "a", true},
		{"a", "x", false}, // named nowhere
		{"x", "a", false}, // self named nowhere
		{"a", "a", false},
	} {
		f := New(c.self, nil)
		if err := f.Set(r); err != nil {
			t.Fatal(err)
		}
		if got := f.Blocked(c.peer); got != c.want {
			t.Errorf("%s-%s: blocked %v, want %v", c.self, c.peer, got, c.want)
		}
		if got := r.Separates(c.self, c.peer); got != c.want {
			t.Errorf("%s-%s: separates %v, want %v", c.self, c.peer, got, c.want)
		}
	}
}

func TestHealAndRulesCopy(t *testing.T) {
	var logs bytes.Buffer
	f := New("a", slog.New(slog.NewTextHandler(&logs, nil)))
	groups := [][]string{{"a"}, {"b"}}
	if err := f.Set(Rules{Partition: groups, Delay: time.Second, Drop: 0.25}); err != nil {
		t.Fatal(err)
	}
	groups[1][0] = "c" // the caller's slices are not kept
	got := f.Rules()
	got.Partition[1][0] = "d" // nor are the returned ones shared
	if !f.Blocked("b") || f.Blocked("c") || f.Blocked("d") || f.Delay() != time.Second || f.Rules().Drop != 0.25 {
		t.Fatalf("rules changed behind the injector's back: %+v", f.Rules())
	}
	f.Heal()
	if f.Blocked("b") || f.Delay() != 0 || f.Drop() {
		t.Fatalf("faults left after Heal: %+v", f.Rules())
	}
	if n := strings.Count(logs.String(), "fault rules changed"); n != 2 {
		t.Fatalf("%d changes logged, want 2:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "at=") {
		t.Fatalf("change not logged at Warn with a timestamp:\n%s", logs.String())
	}
}

func TestDrop(t *testing.T) {
	f := New("a", nil)
	count := func(n int) int {
		lost := 0
		for range n {
			if f.Drop() {
				lost++
			}
		}
		return lost
	}
	if count(1000) != 0 {
		t.Fatal("dropped without rules")
	}
	f.Set(Rules{Drop: 1})
	if count(1000) != 1000 {
		t.Fatal("drop 1 let something through")
	}
	f.Set(Rules{Drop: 0.5})
	if lost := count(10000); lost < 4000 || lost > 6000 {
		t.Fatalf("drop 0.5 lost %d of 10000", lost)
	}
}

func TestNilInjectorInjectsNothing(t *testing.T) {
	var f *Injector
	f.OnChange(func() { t.Fatal("called") })
	f.Heal()
	if f.Blocked("x") || f.Delay() != 0 || f.Drop() || f.Rules().Partition != nil {
		t.Fatal("a nil injector injected a fault")
	}
	if err := f.Set(Rules{}); err != nil {
		t.Fatalf("empty rules on nil: %v", err)
	}
	if err := f.Set(Rules{Drop: 0.5}); err == nil {
		t.Fatal("rules on a nil injector accepted")
	}
}

func TestOnChangeSeesNewRules(t *testing.T) {
	f := New("a", nil)
	var calls atomic.Int32
	f.OnChange(func() {
		calls.Add(1)
		if !f.Blocked("b") {
			t.Error("subscriber called before the rules apply")
		}
	})
	f.Set(Rules{Partition: [][]string{{"a"}, {"b"}}})
	if calls.Load() != 1 {
		t.Fatalf("%d calls", calls.Load())
	}
	f.Set(Rules{Drop: 2}) // refused: no call
	if calls.Load() != 1 {
		t.Fatalf("%d calls after a refused Set", calls.Load())
	}
}

func TestConcurrentUse(t *testing.T) {
	f := New("a", nil)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				f.Blocked("b")
				f.Drop()
				f.Delay()
			}
		})
	}
	wg.Go(func() {
		for i := range 100 {
			f.Set(Rules{Partition: [][]string{{"a"}, {"b"}}, Drop: float64(i%2) / 2})
			f.Heal()
		}
	})
	wg.Wait()
}

func TestControlSocket(t *testing.T) {
	dir := t.TempDir()
	inj := New("a", slog.New(slog.DiscardHandler))
	s, err := Serve(SocketPath(dir, "a/b"), inj, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	socks, err := Sockets(dir)
	if err != nil || socks["a/b"] == "" || len(socks) != 1 {
		t.Fatalf("Sockets: %v, %v", socks, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	want := Rules{Partition: [][]string{{"a"}, {"b"}}, Delay: 5 * time.Millisecond}
	if got, err := Apply(ctx, socks["a/b"], want); err != nil || got.Delay != want.Delay || !inj.Blocked("b") {
		t.Fatalf("Apply: %+v, %v", got, err)
	}
	if _, err := Apply(ctx, socks["a/b"], Rules{Drop: 2}); err == nil {
		t.Error("invalid rules accepted")
	}
	if got, err := Get(ctx, socks["a/b"]); err != nil || got.Delay != want.Delay {
		t.Fatalf("Get: %+v, %v", got, err)
	}
	if _, err := Serve(SocketPath(dir, "a/b"), inj, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("a second server took a socket in use")
	}
	s.Close()
	s.Close()
	if _, err := Get(ctx, socks["a/b"]); !errors.Is(err, ErrNoPeer) {
		t.Errorf("after Close: %v", err)
	}
}
