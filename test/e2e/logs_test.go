package e2e

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestJSONLogs runs a peer with --log-format json at debug level through
// a join, a call and a graceful leave: every line on stderr is a JSON
// object naming the peer and the component it comes from.
func TestJSONLogs(t *testing.T) {
	m := newMesh(t)
	m.startPeer("other", "--demo")
	cmd := exec.Command(peerBin, "run", "--name", "jl", "--demo", "--log-format", "json", "--log-level", "debug", "--data", t.TempDir(), "--bootstrap-expect", "1")
	cmd.Env = m.env()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan []string, 1)
	go func() {
		var ls []string
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			ls = append(ls, sc.Text())
		}
		lines <- ls
	}()
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatalf("no ready line: %v", err)
	}
	waitFor(t, 20*time.Second, "a call to jl's state", func() bool {
		_, _, code := m.cli("state", "put", "k", "1")
		return code == 0
	})
	cmd.Process.Signal(syscall.SIGTERM)
	got := <-lines
	cmd.Wait()
	if len(got) < 5 {
		t.Fatalf("only %d log lines at debug level", len(got))
	}
	components := map[string]bool{}
	for _, l := range got {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if rec["peer"] != "jl" || rec["component"] == nil || strings.TrimSpace(rec["msg"].(string)) == "" {
			t.Fatalf("a line without peer, component or message: %q", l)
		}
		components[rec["component"].(string)] = true
	}
	t.Logf("%d lines from components %v", len(got), components)
}
