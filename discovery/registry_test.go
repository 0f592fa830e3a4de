package discovery

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestRegistryDiscovery(t *testing.T) {
	dir := t.TempDir()
	// An entry left behind by a process that has exited.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatalf("cannot run a child process: %v", err)
	}
	stale := filepath.Join(dir, "ghost.json")
	writeJSON(t, stale, registryEntry{Name: "ghost", Addr: "127.0.0.1:1", PID: cmd.ProcessState.Pid()})
	// Files that are not entries are left alone.
	other := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(other, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	withDir := func(c *Config) { c.RegistryDir = dir }
	a := newNode(t, "a", withDir)
	b := newNode(t, "b/with:odd chars", withDir)
	nodes := []*Discovery{a, b}
	took := waitFor(t, 10*time.Second, "registry discovery", fullMembership(nodes))
	t.Logf("members found each other through the registry in %v", took)

	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stale entry not removed: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("unrelated file touched: %v", err)
	}
	var e registryEntry
	readJSON(t, a.registry.path, &e)
	if e.Name != "a" || e.Addr != a.LocalAddr() || e.PID != os.Getpid() {
		t.Fatalf("entry of a = %+v", e)
	}
	if filepath.Dir(b.registry.path) != dir {
		t.Fatalf("entry of b escaped the directory: %s", b.registry.path)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b.registry.path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("entry of b not removed by Close: %v", err)
	}
	entries, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	if len(entries) != 0 {
		t.Fatalf("temporary files left: %v", entries)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}
