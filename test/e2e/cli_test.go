package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestCLI drives a two-peer mesh with the CLI as a user would.
func TestCLI(t *testing.T) {
	m := newMesh(t)
	a := m.startPeer("cli-a", "--demo")
	m.startPeer("cli-b", "--demo")
	if !strings.Contains(a.ready, "cli-a ready") {
		t.Fatalf("ready line: %q", a.ready)
	}

	var services []struct {
		Name      string
		Providers []string
	}
	waitFor(t, 20*time.Second, "services listed with both providers", func() bool {
		out, _, code := m.cli("services", "--json")
		if code != 0 || json.Unmarshal([]byte(out), &services) != nil {
			return false
		}
		for _, s := range services {
			if s.Name == "demo/add" && len(s.Providers) == 2 {
				return true
			}
		}
		return false
	})

	out, errOut, code := m.cli("members", "--json")
	var members []struct {
		Name      string
		Addr      string
		Endpoints struct{ TCP, IPC string }
		Services  []string
	}
	if code != 0 || json.Unmarshal([]byte(out), &members) != nil || len(members) < 2 {
		t.Fatalf("members --json: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, mb := range members {
		if !strings.HasPrefix(mb.Addr, "127.0.0.1:") || !strings.HasPrefix(mb.Endpoints.TCP, "tcp://127.0.0.1:") {
			t.Errorf("member %s: addresses must stay on loopback: %+v", mb.Name, mb)
		}
	}
	out, _, _ = m.cli("members")
	if !strings.Contains(out, "NAME") || !strings.Contains(out, "cli-a") {
		t.Errorf("members table:\n%s", out)
	}

	cases := []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"call", "demo/add", `{"a":2,"b":3}`}, 0, "5\n", ""},
		{[]string{"call", "demo/add", `{"a":2.5,"b":3}`}, 0, "5.5\n", ""},
		{[]string{"call", "demo/echo", `{"x":[1,"two",null,true]}`}, 0, `{"x":[1,"two",null,true]}` + "\n", ""},
		{[]string{"call", "demo/echo"}, 0, "null\n", ""},
		{[]string{"call", "--timeout", "3s", "demo/echo", `"flag first"`}, 0, "\"flag first\"\n", ""},
		{[]string{"call", "nope/none"}, 1, "", "unknown service"},
		{[]string{"call", "demo/add", `{"a":`}, 2, "", "bad JSON"},
		{[]string{"call", "demo/add", `{"a":"x","b":1}`}, 1, "", "bad request"},
		{[]string{"call", "demo/sleep", "5", "--timeout", "300ms"}, 1, "", "timed out after 300ms"},
		{[]string{"call", "demo/fail", `"on purpose"`}, 1, "", "on purpose"},
		{[]string{"call"}, 2, "", "expected 1 to 2 arguments"},
		{[]string{"call", "a", "1", "extra"}, 2, "", "expected 1 to 2 arguments"},
		{[]string{"call", "demo/echo", "--timeout", "soon"}, 2, "", "invalid value"},
		{[]string{"frobnicate"}, 2, "", "unknown command"},
		{[]string{"members", "--gossip", "wan"}, 2, "", "--gossip must be lan or local"},
		{[]string{"--version"}, 0, "pyros-peer ", ""},
		{[]string{"call", "--help"}, 0, "", "Usage: pyros-peer call"},
		{[]string{"--help"}, 0, "Commands:", ""},
	}
	for _, c := range cases {
		out, errOut, code := m.cli(c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.err) {
			t.Errorf("pyros-peer %s: exit %d (want %d)\nstdout: %q (want %q)\nstderr: %q (want %q)",
				strings.Join(c.args, " "), code, c.code, out, c.out, errOut, c.err)
		}
		if c.code == 1 && strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("pyros-peer %s: error must be one line, got %q", strings.Join(c.args, " "), errOut)
		}
	}
}

// TestDemo runs the README's first command and checks its narration.
func TestDemo(t *testing.T) {
	m := newMesh(t)
	out, errOut, code := m.cli("demo")
	if code != 0 {
		t.Fatalf("demo exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"discovered 3 peers", "demo/add {\"a\":2,\"b\":3}     ->  5", "killing demo-b with SIGKILL", "removed it from the catalog", "done:"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	t.Log("\n" + out)
}
