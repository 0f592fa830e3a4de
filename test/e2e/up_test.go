package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
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
	out, errs, code := m.cli("fault", "--dir", dir, "partition", "p1", "/", "p2,p3")
	if code != 0 || !strings.Contains(out, "network namespaces") {
		t.Fatalf("partition: exit %d %q %s", code, out, errs)
	}
	waitFor(t, 30*time.Second, "each side seeing only itself", func() bool {
		a, b := membersIn(0), membersIn(1)
		t.Logf("p1's side: %q, p2's side: %q", a, b)
		return a == "p1" && b == "p2 p3"
	})
	if _, _, code := m.cli("fault", "--dir", dir, "heal"); code != 0 {
		t.Fatalf("heal: exit %d", code)
	}
	waitFor(t, 30*time.Second, "one mesh again", func() bool { return membersIn(0) == "p1 p2 p3" && membersIn(2) == "p1 p2 p3" })
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
