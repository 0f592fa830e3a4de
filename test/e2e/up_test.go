package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"
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
