package launcher

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var peerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "launcher-test-")
	if err != nil {
		panic(err)
	}
	peerBin = filepath.Join(dir, "pyros-peer")
	if out, err := exec.Command("go", "build", "-o", peerBin, "../cmd/pyros-peer").CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := 0
	func() {
		defer func() { os.RemoveAll(dir) }()
		code = m.Run()
	}()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

func startMesh(t *testing.T, f File) *Mesh {
	t.Helper()
	reg := t.TempDir()
	m, err := Start(Config{Dir: t.TempDir(), Binary: peerBin, File: f,
		Env: []string{"PYROS_REGISTRY=" + reg, "PYROS_LAN=off", "PYROS_BIND=127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func status(m *Mesh, name string) PeerInfo {
	for _, p := range m.Peers() {
		if p.Name == name {
			return p
		}
	}
	return PeerInfo{}
}

func waitStatus(t *testing.T, m *Mesh, name, want string) PeerInfo {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		p := status(m, name)
		if p.Status == want {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %s, want %s", name, p.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSuperviseAndFaults(t *testing.T) {
	m := startMesh(t, Default(2))
	ps := m.Peers()
	if len(ps) != 2 || !strings.Contains(ps[0].Ready, "p1 ready") || !ps[0].State || ps[0].PID == 0 {
		t.Fatalf("peers: %+v", ps)
	}
	// an exit of its own is restarted
	syscall.Kill(ps[1].PID, syscall.SIGKILL)
	deadline := time.Now().Add(20 * time.Second)
	for p := status(m, "p2"); p.Restarts != 1 || p.Status != Running || p.PID == ps[1].PID; p = status(m, "p2") {
		if time.Now().After(deadline) {
			t.Fatalf("p2 not restarted: %+v", p)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// a killed peer stays down until restarted
	if err := m.Kill("p2"); err != nil {
		t.Fatal(err)
	}
	killed := waitStatus(t, m, "p2", Killed)
	if err := syscall.Kill(killed.PID, 0); err == nil {
		t.Error("p2's process still exists after Kill")
	}
	if err := m.Restart("p2"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, m, "p2", Running)
	if err := m.Pause("p1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Pause("p1"); err == nil {
		t.Error("pausing a paused peer succeeded")
	}
	if err := m.Resume("p1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Kill("nobody"); !errors.Is(err, ErrUnknownPeer) {
		t.Errorf("Kill(nobody): %v", err)
	}
	log, _ := os.ReadFile(filepath.Join(m.cfg.Dir, "faults.log"))
	for _, w := range []string{"p2 exited on its own", "p2 kill", "p2 restart", "p1 pause", "p1 resume"} {
		if !strings.Contains(string(log), w) {
			t.Errorf("faults.log lacks %q:\n%s", w, log)
		}
	}
	m.Close()
	m.Close()
	for _, p := range m.Peers() {
		if syscall.Kill(p.PID, 0) == nil {
			t.Errorf("%s still runs after Close", p.Name)
		}
	}
}

func TestControlSocket(t *testing.T) {
	m := startMesh(t, Default(1))
	if err := m.ServeControl(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := Control(ctx, m.cfg.Dir, Request{Op: "status"})
	if err != nil || len(r.Peers) != 1 || r.Peers[0].Status != Running {
		t.Fatalf("status: %+v, %v", r, err)
	}
	if _, err := Control(ctx, m.cfg.Dir, Request{Op: "explode"}); err == nil {
		t.Error("unknown op accepted")
	}
	if _, err := Control(ctx, m.cfg.Dir, Request{Op: "kill", Peer: "p1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Control(ctx, m.cfg.Dir, Request{Op: "stop"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Done():
	case <-ctx.Done():
		t.Fatal("stop did not close the mesh")
	}
	m.Close()
	if _, err := Control(ctx, m.cfg.Dir, Request{Op: "status"}); !errors.Is(err, ErrNoLauncher) {
		t.Errorf("after stop: %v", err)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		f := filepath.Join(dir, "mesh.toml")
		os.WriteFile(f, []byte(s), 0o600)
		return f
	}
	f, err := ReadFile(write("gossip = \"lan\"\n[[peer]]\nname = \"a\"\nstate = true\n[[peer]]\nname = \"b\"\ndemo = true\nargs = [\"--codec\", \"json\"]\n"))
	if err != nil || len(f.Peers) != 2 || !f.Peers[0].State || f.Peers[1].Args[1] != "json" {
		t.Fatalf("ReadFile: %+v, %v", f, err)
	}
	for _, bad := range []string{"", "[[peer]]\nname = \"a b\"\n", "[[peer]]\nname = \"a\"\n[[peer]]\nname = \"a\"\n",
		"gossip = \"fast\"\n[[peer]]\nname = \"a\"\n", "[[peer]]\nname = \"a\"\ncolour = 1\n", "not toml ["} {
		if _, err := ReadFile(write(bad)); !errors.Is(err, ErrSpec) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
