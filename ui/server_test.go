package ui

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

func peerOf(s Snapshot, name string) (PeerView, bool) {
	for _, p := range s.Peers {
		if p.Name == name {
			return p, true
		}
	}
	return PeerView{}, false
}

func provider(s Snapshot, service, name string) (ProviderView, bool) {
	for _, svc := range s.Services {
		if svc.Name != service {
			continue
		}
		for _, pv := range svc.Providers {
			if pv.Peer == name {
				return pv, true
			}
		}
	}
	return ProviderView{}, false
}

// TestEvents follows the snapshots of a two-peer mesh: both peers, their
// link, a service with its rate, a stream with its rate, and a peer that
// leaves drawn dead.
func TestEvents(t *testing.T) {
	ps := startPeers(t, 2, nil)
	if err := ps[1].Provide("t/echo", peer.Func(func(_ context.Context, v any) (any, error) { return v, nil })); err != nil {
		t.Fatal(err)
	}
	pub, err := ps[1].Publish("t/ticks")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := ps[0].Subscribe(context.Background(), "t/ticks", func(peer.Message) {})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	_, hs := serve(t, ps[0], Config{})
	ev := events(t, hs.URL+"/api/events")

	next(t, ev, 10*time.Second, "both peers, alive, linked", func(s Snapshot) bool {
		p0, ok0 := peerOf(s, "p0")
		p1, ok1 := peerOf(s, "p1")
		_, served := provider(s, "t/echo", "p1")
		return ok0 && ok1 && p0.State == StateAlive && p1.State == StateAlive && p0.Self && served && !s.Partitioned
	})
	stop := make(chan struct{})
	busy := make(chan struct{})
	go func() { // calls and messages, until the snapshots show their rates
		defer close(busy)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			var out any
			ps[0].Call(context.Background(), "t/echo", "x", &out)
			pub.Send(1)
		}
	}()
	s := next(t, ev, 10*time.Second, "rates of t/echo and t/ticks", func(s Snapshot) bool {
		pv, _ := provider(s, "t/echo", "p1")
		for _, st := range s.Streams {
			if st.Name == "t/ticks" && st.Rate > 0 && st.ReceivedRate > 0 {
				return pv.Rate > 0 && pv.Requests > 0 && pv.MeanMs > 0
			}
		}
		return false
	})
	close(stop)
	<-busy
	if len(s.Links) != 1 || s.Links[0] != (Link{A: "p0", B: "p1"}) {
		t.Errorf("links: %+v", s.Links)
	}
	ps[1].Close()
	next(t, ev, 10*time.Second, "p1 dead", func(s Snapshot) bool {
		p1, ok := peerOf(s, "p1")
		return ok && p1.State == StateDead && p1.Reason == "left"
	})
}

func post(t *testing.T, url, contentType, origin, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestCall(t *testing.T) {
	ps := startPeers(t, 2, nil)
	ps[1].Provide("t/add", peer.Func(func(_ context.Context, in struct{ A, B int }) (int, error) { return in.A + in.B, nil }))
	ps[1].Provide("t/sleep", peer.Func(func(ctx context.Context, _ any) (any, error) { <-ctx.Done(); return nil, ctx.Err() }))
	waitFor(t, 5*time.Second, "t/add in p0's catalog", func() bool {
		for _, s := range ps[0].Services() {
			if s.Name == "t/add" {
				return true
			}
		}
		return false
	})
	_, hs := serve(t, ps[0], Config{CallTimeout: 300 * time.Millisecond})
	url := hs.URL + "/api/call"
	const js = "application/json"
	for _, c := range []struct {
		name, contentType, origin, body string
		code                            int
		want                            string
	}{
		{"a call", js, "", `{"service":"t/add","arg":{"A":2,"B":3}}`, 200, `{"result":5}`},
		{"same origin", js + "; charset=utf-8", hs.URL, `{"service":"t/add","arg":{"A":1,"B":1}}`, 200, `{"result":2}`},
		{"bad JSON", js, "", `{"service":"t/add","arg":{"A":2,`, 400, `{"error":"bad JSON: unexpected EOF"}`},
		{"bad arg", js, "", `{"service":"t/add","arg":{"A":}}`, 400, `bad JSON: invalid character '}'`},
		{"no service", js, "", `{"arg":1}`, 400, `"service\" is missing`},
		{"trailing data", js, "", `{"service":"t/add"} {}`, 400, "trailing data"},
		{"unknown service", js, "", `{"service":"t/nobody"}`, 404, "unknown service"},
		{"timeout", js, "", `{"service":"t/sleep"}`, 504, `{"error":"timed out after 300ms"}`},
		{"remote error", js, "", `{"service":"t/add","arg":"x"}`, 502, "p1"},
		{"not JSON", "text/plain", "", `{"service":"t/add"}`, 415, "Content-Type: application/json"},
		{"another origin", js, "http://evil.example", `{"service":"t/add"}`, 403, "own origin"},
	} {
		code, body := post(t, url, c.contentType, c.origin, c.body)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want %d with %s", c.name, code, body, c.code, c.want)
		}
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/call: %s", resp.Status)
	}
}

// TestStream checks that a stream's values reach the page, and no more
// than StreamRate a second.
func TestStream(t *testing.T) {
	ps := startPeers(t, 2, nil)
	pub, err := ps[1].Publish("t/fast")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	_, hs := serve(t, ps[0], Config{StreamRate: 5})
	ev := events(t, hs.URL+"/api/stream?name=t/fast")
	waitFor(t, 10*time.Second, "p1 routes t/fast to p0", func() bool { return pub.Stats().Subscribers == 1 })
	start := time.Now()
	for i := range 200 {
		pub.Send(i)
	}
	first := next(t, ev, 5*time.Second, "a value", func(v streamValue) bool { return true })
	if first.From != "p1" {
		t.Errorf("first value: %+v", first)
	}
	n := 1
	for time.Since(start) < 700*time.Millisecond {
		select {
		case <-ev:
			n++
		case <-time.After(50 * time.Millisecond):
		}
	}
	if n > 5 {
		t.Errorf("%d values within a second, want at most 5", n)
	}
	// in a later window, a value comes with the count of those skipped
	var v streamValue
	deadline := time.Now().Add(5 * time.Second)
	for v.Skipped == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no count of skipped values; last %+v", v)
		}
		pub.Send(1000)
		select {
		case b := <-ev:
			json.Unmarshal(b, &v)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Logf("%d values in the first window, then %+v", n, v)

	resp, err := http.Get(hs.URL + "/api/stream")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("no name: %s", resp.Status)
	}
}

// TestState lists a prefix of the shared state and follows its changes.
func TestState(t *testing.T) {
	ps := startPeers(t, 2, func(i int, c *peer.Config) {
		if i == 1 {
			c.DataDir, c.BootstrapExpect = t.TempDir(), 1
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st := ps[0].State()
	waitFor(t, 15*time.Second, "a first write", func() bool {
		_, err := st.Put(ctx, "cfg/a", 1)
		return err == nil
	})
	st.Put(ctx, "other", 0)
	_, hs := serve(t, ps[0], Config{})
	ev := events(t, hs.URL+"/api/state?prefix=cfg/")
	l := next(t, ev, 10*time.Second, "the listing", func(e stateEvent) bool { return true })
	if l.Type != "list" || len(l.Entries) != 1 || l.Entries[0].Key != "cfg/a" || l.Entries[0].Value != float64(1) {
		t.Fatalf("listing: %+v", l)
	}
	if _, err := st.Put(ctx, "cfg/b", map[string]string{"x": "y"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Delete(ctx, "cfg/a"); err != nil {
		t.Fatal(err)
	}
	put := next(t, ev, 10*time.Second, "the put", func(e stateEvent) bool { return true })
	del := next(t, ev, 10*time.Second, "the delete", func(e stateEvent) bool { return true })
	if put.Type != "put" || put.Entry.Key != "cfg/b" || put.Rev <= l.Rev || del.Type != "delete" || del.Entry.Key != "cfg/a" {
		t.Fatalf("changes: %+v, %+v", put, del)
	}
}

// TestStateWithoutServers says why in an event, which a page can show.
func TestStateWithoutServers(t *testing.T) {
	ps := startPeers(t, 1, nil)
	_, hs := serve(t, ps[0], Config{})
	e := next(t, events(t, hs.URL+"/api/state?prefix="), 10*time.Second, "an error", func(e stateEvent) bool { return true })
	if e.Type != "error" || !strings.Contains(e.Error, "no state server") {
		t.Fatalf("event: %+v", e)
	}
}

// TestPage checks the embedded page and its files.
func TestPage(t *testing.T) {
	ps := startPeers(t, 1, nil)
	_, hs := serve(t, ps[0], Config{})
	for path, want := range map[string]string{
		"/":          `<script src="app.js">`,
		"/app.js":    "new EventSource('api/events')",
		"/style.css": ".peer.dead",
	} {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %s, %d bytes, want %q", path, resp.Status, len(b), want)
		}
	}
}

// TestClose checks that Close ends the open event streams, waits for
// them, and is idempotent.
func TestClose(t *testing.T) {
	ps := startPeers(t, 1, nil)
	s, hs := serve(t, ps[0], Config{})
	ev := events(t, hs.URL+"/api/events")
	next(t, ev, 5*time.Second, "a snapshot", func(Snapshot) bool { return true })
	done := make(chan struct{})
	go func() { s.Close(); s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	for range ev { // drains until the stream ends
	}
	resp, err := http.Get(hs.URL + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("after Close: %s", resp.Status)
	}
}

func FuzzDecodeCall(f *testing.F) {
	for _, s := range []string{`{"service":"a","arg":{"x":[1,2.5,"s",null,true]}}`, `{"service":"a"}`, `{}`, `[`, `{"service":"a","arg":1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeCall(b)
		if err == nil && req.Service == "" {
			t.Fatalf("%q: no error and no service", b)
		}
	})
}
