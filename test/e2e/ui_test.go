package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var uiRE = regexp.MustCompile(`ui (http://\S+/),`)

// peerOnMap is a JavaScript test of a peer's circle on the map.
func peerOnMap(name, state string) string {
	return fmt.Sprintf(`document.querySelector('#map [data-peer=%q][data-state=%q]') !== null`, name, state)
}

// TestUI opens the map of a three-peer mesh in headless Chromium: every
// peer, a link, the demo service and stream appear; a call, a stream and a
// prefix of the shared state work from the page; a SIGKILLed peer is
// marked dead. Screenshots go to the artifacts directory.
func TestUI(t *testing.T) {
	b := newBrowser(t, 1400, 860) // first: without Chromium, fail at once
	m := newMesh(t)
	alice := m.startPeer("alice", "--demo", "--http", "127.0.0.1:0", "--data", t.TempDir(), "--bootstrap-expect", "1")
	u := uiRE.FindStringSubmatch(alice.ready)
	if u == nil {
		t.Fatalf("ready line names no ui URL: %q", alice.ready)
	}
	m.startPeer("bob", "--demo")
	carol := m.startPeer("carol", "--demo")
	b.do("open "+u[1], chromedp.Navigate(u[1]))

	b.waitJS("every peer alive, linked, with demo/echo and demo/ticks",
		peerOnMap("alice", "alive")+` && `+peerOnMap("bob", "alive")+` && `+peerOnMap("carol", "alive")+
			` && document.querySelectorAll('#map line.link').length >= 2`+
			` && document.querySelector('#services li[data-service="demo/echo"]') !== null`+
			` && document.querySelector('#streams li[data-stream="demo/ticks"]') !== null`+
			` && document.querySelector('#map [data-peer="alice"] .badge') !== null`, 30*time.Second)

	echo := `#services li[data-service="demo/echo"]`
	b.do("call demo/echo from the page",
		chromedp.Click(chromedp.CSS(echo+" .name")),
		chromedp.SetValue(chromedp.CSS(echo+" textarea"), `{"hello": "mesh"}`),
		chromedp.Click(chromedp.CSS(echo+" button")))
	b.waitJS("the call's result",
		`document.querySelector('`+echo+` pre.result').textContent.includes('"hello": "mesh"')`, 15*time.Second)
	b.do("a call with bad JSON",
		chromedp.SetValue(chromedp.CSS(echo+" textarea"), `{"hello": `),
		chromedp.Click(chromedp.CSS(echo+" button")))
	b.waitJS("a clear error for bad JSON",
		`document.querySelector('`+echo+` pre.result.error')?.textContent.startsWith('bad JSON')`, 15*time.Second)
	b.do("the call form again",
		chromedp.SetValue(chromedp.CSS(echo+" textarea"), `"hello"`),
		chromedp.Click(chromedp.CSS(echo+" button")))

	b.do("watch demo/ticks", chromedp.Click(chromedp.CSS(`#streams li[data-stream="demo/ticks"] .name`)))
	b.waitJS("live values of demo/ticks",
		`/#\d+: \d+/.test(document.querySelector('#streams li[data-stream="demo/ticks"] pre.values').textContent)`, 15*time.Second)

	waitFor(t, 20*time.Second, "a state write", func() bool {
		_, _, code := m.cli("state", "put", "config/speed", `{"max":3}`)
		return code == 0
	})
	b.do("watch config/", chromedp.SetValue(chromedp.ID("prefix"), "config/"), chromedp.Click(chromedp.CSS("#stateform button")))
	b.waitJS("config/speed listed", `document.querySelector('#statetable tr[data-key="config/speed"]') !== null`, 15*time.Second)
	if _, errs, code := m.cli("state", "put", "config/limit", "7"); code != 0 {
		t.Fatalf("state put: %s", errs)
	}
	b.waitJS("config/limit appears live", `document.querySelector('#statetable tr[data-key="config/limit"]') !== null`, 15*time.Second)
	b.waitJS("demo/echo's calls counted, with their mean time",
		`/\([\d.]+\/s, [\d.]+ (µs|ms)\)/.test(document.querySelector('`+echo+` .stats').textContent)`, 15*time.Second)
	b.screenshot("ui-mesh.png")

	killedAt := time.Now()
	carol.kill() // SIGKILL
	b.waitJS("carol marked dead", peerOnMap("carol", "dead")+` && `+peerOnMap("alice", "alive")+` && `+peerOnMap("bob", "alive"), 30*time.Second)
	t.Logf("the page marked carol dead %v after SIGKILL", time.Since(killedAt).Round(time.Millisecond))
	b.waitJS("carol no longer provides demo/echo",
		`!document.querySelector('`+echo+` .stats').textContent.includes('carol')`, 15*time.Second)
	b.screenshot("ui-dead.png")
	t.Logf("page text:\n%s", b.text())

	// PYROS_MAP_PNG=$PWD/docs/map.png remakes the README's picture, once the
	// CLI's short-lived peers have left the map.
	if out := os.Getenv("PYROS_MAP_PNG"); out != "" {
		b.waitJS("only the mesh's own peers", `document.querySelectorAll('#map [data-peer]').length === 3`, 60*time.Second)
		b.waitJS("a fresh frame", `document.querySelector('#status').textContent.includes('alive')`, 5*time.Second)
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("map for the README: %s", out)
	}
}

var uiVerbRE = regexp.MustCompile(`map of the mesh at (http://\S+/) `)

// TestUIVerb runs pyros-peer ui: a short-lived peer that serves the page
// (and no metrics) until interrupted.
func TestUIVerb(t *testing.T) {
	m := newMesh(t)
	m.startPeer("dora", "--demo")
	v := m.start("ui", exec.Command(peerBin, "ui", "--http", "127.0.0.1:0"))
	u := uiVerbRE.FindStringSubmatch(v.ready)
	if u == nil {
		t.Fatalf("no URL in %q", v.ready)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(u[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(""); code != 200 || !strings.Contains(body, "app.js") {
		t.Fatalf("GET /: %d %.200s", code, body)
	}
	if code, _ := get("metrics"); code != 404 {
		t.Errorf("GET /metrics: %d, want 404: ui serves only the page", code)
	}
	resp, err := http.Get(u[1] + "api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	deadline := time.Now().Add(20 * time.Second)
	for sc.Scan() && time.Now().Before(deadline) {
		if strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(sc.Text(), `"name":"dora"`) &&
			strings.Contains(sc.Text(), `"demo/ticks"`) {
			v.terminate()
			if !strings.Contains(v.output(), "map of the mesh") {
				t.Errorf("output: %q", v.output())
			}
			return
		}
	}
	t.Fatalf("no snapshot with dora and demo/ticks: %v", sc.Err())
}

// TestUIPartition cuts a four-peer mesh in two with `pyros-peer fault
// partition` and checks that the page shows the partition as such: the far
// side cut off in a group of its own, not dead; then heals it. A peer
// paused with SIGSTOP is drawn cut off too (its port still answers), and
// alive again once resumed.
func TestUIPartition(t *testing.T) {
	b := newBrowser(t, 1400, 860)
	m := newMesh(t)
	alice := m.startPeer("alice", "--demo", "--faults", "--http", "127.0.0.1:0")
	u := uiRE.FindStringSubmatch(alice.ready)
	if u == nil {
		t.Fatalf("ready line names no ui URL: %q", alice.ready)
	}
	bob := m.startPeer("bob", "--faults")
	m.startPeer("carol", "--demo", "--faults")
	m.startPeer("dave", "--faults")
	b.do("open "+u[1], chromedp.Navigate(u[1]))
	all := peerOnMap("alice", "alive") + ` && ` + peerOnMap("bob", "alive") + ` && ` + peerOnMap("carol", "alive") +
		` && ` + peerOnMap("dave", "alive") + ` && document.querySelector('#partition').hidden`
	b.waitJS("four peers alive, no partition", all, 30*time.Second)

	fault := func(args ...string) {
		t.Helper()
		if out, errs, code := m.cli(append([]string{"fault"}, args...)...); code != 0 {
			t.Fatalf("fault %v: exit %d: %s %s", args, code, out, errs)
		}
	}
	cutAt := time.Now()
	fault("partition", "alice,bob", "/", "carol,dave")
	b.waitJS("carol and dave cut off, in a group of their own",
		peerOnMap("alice", "alive")+` && `+peerOnMap("bob", "alive")+` && `+peerOnMap("carol", "cut off")+` && `+peerOnMap("dave", "cut off")+
			` && !document.querySelector('#partition').hidden`+
			` && document.querySelector('#partition').textContent.includes('carol, dave cut off from alice')`+
			` && [...document.querySelectorAll('#map .group text')].some((e) => e.textContent === 'cut off from alice')`+
			` && document.querySelector('#services li[data-service="demo/echo"] .stats').textContent.includes('carol (cut off)')`, 30*time.Second)
	t.Logf("the page showed the partition %v after `fault partition` began", time.Since(cutAt).Round(time.Millisecond))
	b.screenshot("ui-partition.png")
	// a peer outside the partition still reaches both sides (and relays
	// their gossip): its map groups the members by their fault partition
	outside := m.start("outside", exec.Command(peerBin, "ui", "--http", "127.0.0.1:0", "--name", "outside"))
	ou := uiVerbRE.FindStringSubmatch(outside.ready)
	if ou == nil {
		t.Fatalf("ui printed %q", outside.ready)
	}
	waitFor(t, 30*time.Second, "the outsider's map grouping by the fault partition", func() bool {
		groups, err := mapGroups(ou[1])
		t.Logf("the outsider's groups: %q %v", groups, err)
		return groups == "outside the fault partition: outside | fault partition: alice, bob: alice,bob | fault partition: carol, dave: carol,dave"
	})
	outside.terminate()
	b.waitJS("carol and dave still cut off once gossip has declared them failed",
		peerOnMap("carol", "cut off")+` && `+peerOnMap("dave", "cut off")+
			` && document.querySelector('#map [data-peer="carol"] .sub').textContent.includes('lost since')`+
			` && document.querySelector('#map [data-peer="dave"] .sub').textContent.includes('lost since')`, 60*time.Second)
	healAt := time.Now()
	fault("heal")
	b.waitJS("all alive again after the heal", all, 60*time.Second)
	t.Logf("the page showed one mesh again %v after `fault heal` began", time.Since(healAt).Round(time.Millisecond))

	if err := bob.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bob.cmd.Process.Signal(syscall.SIGCONT) })
	b.waitJS("paused bob drawn cut off, not dead", peerOnMap("bob", "cut off")+` && `+peerOnMap("alice", "alive")+
		` && document.querySelector('#map [data-peer="bob"] .sub').textContent.includes('lost since')`, 60*time.Second)
	t.Logf("page text while bob is paused:\n%s", b.text())
	if err := bob.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	b.waitJS("bob alive again", peerOnMap("bob", "alive"), 60*time.Second)
}

// mapGroups reads one snapshot of the map at url and says its groups, as
// "label: peers | label: peers".
func mapGroups(url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url+"api/events", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var snap struct {
			Groups []struct {
				Label string
				Peers []string
			}
		}
		if err := json.Unmarshal([]byte(data), &snap); err != nil {
			return "", err
		}
		var parts []string
		for _, g := range snap.Groups {
			parts = append(parts, g.Label+": "+strings.Join(g.Peers, ","))
		}
		return strings.Join(parts, " | "), nil
	}
	return "", fmt.Errorf("no snapshot: %v", sc.Err())
}
