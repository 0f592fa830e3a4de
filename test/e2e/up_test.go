package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/launcher"
)

// TestUpAndFaults drives `pyros-peer up FILE` as the README does: the mesh
// comes up, network faults reach every peer, a killed peer stays down
// until restarted, and `down` stops everything.
func TestUpAndFaults(t *testing.T) {
	m := newMesh(t)
	dir := t.TempDir()
	up := m.start("up", exec.Command(peerBin, "up", "../../examples/up/mesh.toml", "--dir", dir))
	if !strings.HasPrefix(up.ready, "NAME") {
		t.Fatalf("up printed %q", up.ready)
	}
	waitFor(t, 20*time.Second, "5 members and a state leader", func() bool {
		out, _, code := m.cli("members")
		return code == 0 && strings.Count(out, "\n") == 6 && strings.Contains(out, "leader")
	})
	fault := func(args ...string) string {
		t.Helper()
		out, errs, code := m.cli(append([]string{"fault", "--dir", dir}, args...)...)
		if code != 0 {
			t.Fatalf("fault %v: exit %d: %s", args, code, errs)
		}
		return out
	}
	if out := fault("partition", "store-1,edge-1", "/", "store-2,store-3,edge-2"); !strings.Contains(out, "applied to 5 of 5 peers") {
		t.Fatalf("partition: %s", out)
	}
	fault("delay", "edge-2", "20ms")
	if out := fault("status"); strings.Count(out, "[[store-1 edge-1] [store-2 store-3 edge-2]]") != 5 || !strings.Contains(out, "20ms") {
		t.Fatalf("status:\n%s", out)
	}
	fault("heal")
	if out := fault("status"); strings.Contains(out, "[[") || strings.Contains(out, "20ms") {
		t.Fatalf("status after heal:\n%s", out)
	}
	fault("kill", "edge-1")
	waitFor(t, 20*time.Second, "edge-1 gone", func() bool {
		out, _, _ := m.cli("members")
		return !strings.Contains(out, "edge-1")
	})
	fault("restart", "edge-1")
	waitFor(t, 30*time.Second, "edge-1 back", func() bool {
		out, _, _ := m.cli("members")
		return strings.Contains(out, "edge-1")
	})
	if _, _, code := m.cli("fault", "--dir", dir, "kill", "nobody"); code != 1 {
		t.Errorf("kill nobody: exit %d, want 1", code)
	}
	if _, _, code := m.cli("fault", "--dir", dir, "drop", "edge-2", "150%"); code != 2 {
		t.Errorf("drop 150%%: exit %d, want 2", code)
	}
	if out, errs, code := m.cli("down", "--dir", dir); code != 0 || !strings.Contains(out, "mesh down") {
		t.Fatalf("down: exit %d %q %s", code, out, errs)
	}
	select {
	case <-up.done:
	case <-time.After(15 * time.Second):
		t.Fatal("up did not exit after down")
	}
}

// TestUpNetns runs `pyros-peer up --netns`: each peer in a network
// namespace of its own, where `fault partition` cuts the real network,
// seen from inside the namespaces, and `fault heal` mends it.
func TestUpNetns(t *testing.T) {
	m := newMesh(t)
	dir := t.TempDir()
	up := m.start("up", exec.Command(peerBin, "up", "-n", "3", "--netns", "--dir", dir))
	if !strings.HasPrefix(up.ready, "NAME") {
		t.Fatalf("up printed %q", up.ready)
	}
	t.Cleanup(up.terminate) // even after a failure, up deletes its namespaces (SIGKILL would leave them)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := launcher.Control(ctx, dir, launcher.Request{Op: "status"})
	if err != nil || len(st.Peers) != 3 || st.Peers[0].Netns == "" {
		t.Fatalf("status: %+v, %v", st, err)
	}
	// membersIn lists the members a query inside peer i's namespace sees.
	membersIn := func(i int) string {
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", st.Peers[i].Netns, peerBin, "members")
		cmd.Env = m.env("PYROS_BIND=")
		out, err := cmd.Output()
		if err != nil {
			t.Logf("members in %s: %v %s", st.Peers[i].Netns, err, stderrOf(err))
		}
		var names []string
		for _, l := range strings.Split(string(out), "\n")[1:] {
			if f := strings.Fields(l); len(f) > 0 {
				names = append(names, f[0])
			}
		}
		return strings.Join(names, " ")
	}
	waitFor(t, 30*time.Second, "p1 seeing all three", func() bool { return membersIn(0) == "p1 p2 p3" })
	// the map, served by a peer on p1's host
	uiCmd := exec.Command("ip", "netns", "exec", st.Peers[0].Netns, peerBin, "ui", "--http", "127.0.0.1:0", "--name", "ui1")
	uiCmd.Env = m.env("PYROS_BIND=")
	page := m.start("ui1", uiCmd)
	u := uiVerbRE.FindStringSubmatch(page.ready)
	if u == nil {
		t.Fatalf("ui printed %q", page.ready)
	}
	mapIn := func(want string) bool {
		states, err := mapStates(ctx, st.Peers[0].Netns, u[1])
		t.Logf("the map on p1's host: %s %v", states, err)
		return states == want
	}
	waitFor(t, 30*time.Second, "the map with all three alive", func() bool {
		return mapIn("p1 alive, p2 alive, p3 alive, ui1 alive")
	})
	out, errs, code := m.cli("fault", "--dir", dir, "partition", "p1", "/", "p2,p3")
	if code != 0 || !strings.Contains(out, "network namespaces") {
		t.Fatalf("partition: exit %d %q %s", code, out, errs)
	}
	waitFor(t, 30*time.Second, "each side seeing only itself", func() bool {
		a, b := membersIn(0), membersIn(1)
		t.Logf("p1's side: %q, p2's side: %q", a, b)
		return a == "p1 ui1" && b == "p2 p3"
	})
	waitFor(t, 30*time.Second, "the map: p2 and p3 cut off, their hosts silent", func() bool {
		return mapIn("p1 alive, p2 cut off: its host does not answer: partitioned, or down, " +
			"p3 cut off: its host does not answer: partitioned, or down, ui1 alive; partitioned")
	})
	if _, _, code := m.cli("fault", "--dir", dir, "heal"); code != 0 {
		t.Fatalf("heal: exit %d", code)
	}
	waitFor(t, 30*time.Second, "one mesh again", func() bool { return membersIn(0) == "p1 p2 p3 ui1" && membersIn(2) == "p1 p2 p3 ui1" })
	waitFor(t, 30*time.Second, "the map healed", func() bool { return mapIn("p1 alive, p2 alive, p3 alive, ui1 alive") })
	page.terminate()
	log, _ := os.ReadFile(filepath.Join(dir, "faults.log"))
	if !strings.Contains(string(log), "partition [[p1] [p2 p3]] (network namespaces)") || !strings.Contains(string(log), "heal") {
		t.Errorf("faults.log:\n%s", log)
	}
	if _, _, code := m.cli("down", "--dir", dir); code != 0 {
		t.Fatalf("down: exit %d", code)
	}
	<-up.done
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), st.Peers[0].Netns) {
		t.Errorf("namespace %s left behind", st.Peers[0].Netns)
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// mapStates reads one snapshot of the map at url from inside a network
// namespace, and says each peer's state, as "p1 alive, p2 cut off: why";
// peers that left are left out.
func mapStates(ctx context.Context, netns, url string) (string, error) {
	const read = `import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "api/events", timeout=5) as r:
    for line in r:
        if line.startswith(b"data: "):
            print(line[6:].decode())
            break`
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", netns, "python3", "-c", read, url).Output()
	if err != nil {
		return "", fmt.Errorf("read the map: %w %s", err, stderrOf(err))
	}
	var snap struct {
		Partitioned bool
		Peers       []struct{ Name, State, Reason string }
	}
	if err := json.Unmarshal(out, &snap); err != nil {
		return "", err
	}
	var parts []string
	for _, p := range snap.Peers {
		if p.Reason == "left" {
			continue // the short-lived peers of membersIn
		}
		s := p.Name + " " + p.State
		if p.State == "cut off" || p.State == "dead" {
			s += ": " + p.Reason
		}
		parts = append(parts, s)
	}
	sort.Strings(parts)
	out2 := strings.Join(parts, ", ")
	if snap.Partitioned {
		out2 += "; partitioned"
	}
	return out2, nil
}
