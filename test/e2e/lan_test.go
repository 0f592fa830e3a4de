package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lanLab is a netLab whose hosts run peers that find each other by LAN
// discovery alone: no --join, and a registry directory per host (the
// namespaces share one file system, so a shared one would find the peers
// without the network).
type lanLab struct {
	t       *testing.T
	l       *netLab
	m       *mesh
	keyFile string
	gossip  string // the peers' timers: "local" (fast) or "lan"
	began   time.Time
	procs   []*proc
}

func newLANLab(t *testing.T, hosts int) *lanLab {
	l := newNetLab(t, hosts)
	lab := &lanLab{t: t, l: l, m: newMesh(t), procs: make([]*proc, hosts)}
	lab.keyFile = lab.newKey()
	return lab
}

// newKey writes a fresh mesh key file made by pyros-peer keygen.
func (lab *lanLab) newKey() string {
	out, errs, code := lab.m.cli("keygen")
	if code != 0 {
		lab.t.Fatalf("keygen: exit %d: %s", code, errs)
	}
	f := filepath.Join(lab.t.TempDir(), "mesh.key")
	if err := os.WriteFile(f, []byte(out), 0o600); err != nil {
		lab.t.Fatal(err)
	}
	return f
}

func (lab *lanLab) name(i int) string     { return fmt.Sprintf("lan-%d", i) }
func (lab *lanLab) registry(i int) string { return filepath.Join(lab.m.registry, strconv.Itoa(i)) }

// start runs the LAN peer of host i with the given mesh name and key file,
// a state server when data is set.
func (lab *lanLab) start(i int, meshName, keyFile string, data bool, expect int) {
	cmd := lab.l.command(i, os.Args[0], "-test.run=^$")
	cmd.Env = []string{"PYROS_E2E_ROLE=lan-peer", "PYROS_E2E_NAME=" + lab.name(i), "PYROS_MESH=" + meshName,
		"PYROS_KEY_FILE=" + keyFile, "PYROS_REGISTRY=" + lab.registry(i), "PYROS_GOSSIP=" + lab.gossip}
	if data {
		cmd.Env = append(cmd.Env, "PYROS_E2E_DATA="+lab.t.TempDir(), "PYROS_E2E_EXPECT="+strconv.Itoa(expect))
	}
	if lab.began.IsZero() {
		lab.began = time.Now()
	}
	p, _ := lab.m.spawn(lab.name(i), cmd)
	lab.procs[i] = p
}

var membersRE = regexp.MustCompile(`^members (\d+) after (\S+): (.*)$`)

// seesAll reports, for host i, when its peer first saw want members
// (its own clock, from its start), or false.
func (lab *lanLab) seesAll(i, want int) (time.Duration, bool) {
	p := lab.procs[i]
	p.mu.Lock()
	defer p.mu.Unlock()
	for j := len(p.lines) - 1; j >= 0; j-- {
		if mt := membersRE.FindStringSubmatch(p.lines[j]); mt != nil {
			n, _ := strconv.Atoi(mt[1])
			d, _ := time.ParseDuration(mt[2])
			return d, n == want
		}
	}
	return 0, false
}

// members is the last member count host i's peer printed.
func (lab *lanLab) members(i int) int {
	p := lab.procs[i]
	p.mu.Lock()
	defer p.mu.Unlock()
	for j := len(p.lines) - 1; j >= 0; j-- {
		if mt := membersRE.FindStringSubmatch(p.lines[j]); mt != nil {
			n, _ := strconv.Atoi(mt[1])
			return n
		}
	}
	return 0
}

// checkApart fails the test if a member list of a host below n ever held
// a peer of a host at n or above, or the other way round.
func (lab *lanLab) checkApart(n int) {
	lab.t.Helper()
	for i := range lab.procs {
		if lab.procs[i] == nil {
			continue
		}
		for _, names := range lab.history(i) {
			for j := range lab.procs {
				if i != j && (i < n) != (j < n) && strings.Contains(" "+names+" ", " "+lab.name(j)+" ") {
					lab.t.Fatalf("host %d saw %s: an outsider got in (or was let in): members %s", i, lab.name(j), names)
				}
			}
		}
	}
}

// history is every member list host i's peer printed.
func (lab *lanLab) history(i int) []string {
	p := lab.procs[i]
	p.mu.Lock()
	defer p.mu.Unlock()
	var h []string
	for _, l := range p.lines {
		if mt := membersRE.FindStringSubmatch(l); mt != nil {
			h = append(h, mt[3])
		}
	}
	return h
}

// waitAll waits until the peers of hosts see want members each, and
// returns the slowest one's time from its start.
func (lab *lanLab) waitAll(hosts []int, want int, within time.Duration) time.Duration {
	lab.t.Helper()
	var slowest time.Duration
	waitFor(lab.t, within, fmt.Sprintf("hosts %v each seeing %d members", hosts, want), func() bool {
		slowest = 0
		for _, i := range hosts {
			d, ok := lab.seesAll(i, want)
			if !ok {
				return false
			}
			slowest = max(slowest, d)
		}
		return true
	})
	return slowest
}

// cli runs pyros-peer on host i through that host's registry, so the query
// reaches its LAN peer; the key file and mesh are the lab's.
func (lab *lanLab) cli(i int, keyFile string, args ...string) (string, string, int) {
	lab.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append(args, "--registry", lab.registry(i), "--bind", lab.l.addr(i)+":0", "--no-ipc", "--gossip", "local", "--key", keyFile, "--mesh", "lab")
	cmd := lab.l.command(i, peerBin, args...)
	cmd.Env = append(lab.m.env(), "PYROS_LAN=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Start()
	if err == nil {
		stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
		err = cmd.Wait()
		stop()
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		lab.t.Fatalf("pyros-peer %v on host %d: %v", args, i, err)
	}
	return strings.TrimSpace(out.String()), strings.TrimSpace(errb.String()), code
}

func hostsUpTo(n int) []int {
	h := make([]int, n)
	for i := range h {
		h[i] = i
	}
	return h
}

// TestLANDiscovery runs keyed peers on three hosts of a private LAN (one
// network namespace each) with no --join: they find each other by
// multicast, then call, stream and share state across hosts. Outsiders on
// the same LAN (another key, no key) never get in. A host cut off and
// reconnected is merged back.
func TestLANDiscovery(t *testing.T) {
	const n = 3
	lab := newLANLab(t, n+3) // hosts n to n+2: the outsiders
	for i := range n {
		lab.start(i, "lab", lab.keyFile, true, n)
	}
	took := lab.waitAll(hostsUpTo(n), n, 30*time.Second)
	t.Logf("%d hosts, no --join: each saw all %d peers within %v of its own start; all did %v after the first process was launched",
		n, n, took, time.Since(lab.began).Round(time.Millisecond))

	// calls, streams and state across hosts
	for i := range n {
		j := (i + 1) % n
		out, errs, code := lab.cli(i, lab.keyFile, "call", "lan/"+lab.name(j)+"/whoami")
		if code != 0 || out != `"`+lab.name(j)+`"` {
			t.Fatalf("host %d calling %s: exit %d %q %s", i, lab.name(j), code, out, errs)
		}
		out, errs, code = lab.cli(i, lab.keyFile, "echo", "lan/"+lab.name(j)+"/ticks", "--count", "2", "--timeout", "10s")
		if code != 0 || len(strings.Fields(out)) != 2 {
			t.Fatalf("host %d echoing %s's ticks: exit %d %q %s", i, lab.name(j), code, out, errs)
		}
	}
	waitFor(t, 30*time.Second, "a state write on host 0", func() bool {
		_, _, code := lab.cli(0, lab.keyFile, "state", "put", "lan/k", `"v"`)
		return code == 0
	})
	if out, errs, code := lab.cli(n-1, lab.keyFile, "state", "get", "lan/k"); code != 0 || out != `"v"` {
		t.Fatalf("state read on host %d: exit %d %q %s", n-1, code, out, errs)
	}

	// outsiders on the same LAN: another key, no key, another mesh name
	other := lab.newKey()
	lab.start(n, "lab", other, false, 0)
	lab.start(n+1, "lab", "", false, 0)
	lab.start(n+2, "other-mesh", lab.keyFile, false, 0) // the right key, another mesh
	waitFor(t, 10*time.Second, "the outsiders running", func() bool {
		return lab.members(n) == 1 && lab.members(n+1) == 1 && lab.members(n+2) == 1
	})
	watch := time.Now().Add(5 * time.Second) // many announce rounds for the outsiders to get in
	for time.Now().Before(watch) {
		lab.checkApart(n)
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range []struct {
		host int
		key  string
	}{{n, other}, {n + 1, ""}} {
		for _, args := range [][]string{
			{"call", "lan/" + lab.name(0) + "/whoami", "--timeout", "2s"},
			{"echo", "lan/" + lab.name(0) + "/ticks", "--count", "1", "--timeout", "2s"},
			{"state", "get", "lan/k", "--timeout", "2s"},
			{"state", "put", "lan/k", `"outsider"`, "--timeout", "2s"},
		} {
			if out, _, code := lab.cli(c.host, c.key, args...); code == 0 {
				t.Errorf("outsider on host %d: pyros-peer %v succeeded: %q", c.host, args, out)
			}
		}
	}
	lab.checkApart(n)
	if out, errs, code := lab.cli(0, lab.keyFile, "state", "get", "lan/k"); code != 0 || out != `"v"` {
		t.Fatalf("state after the outsiders: exit %d %q %s", code, out, errs)
	}

	// a host cut off, then reconnected
	lab.l.partition(append(hostsUpTo(n-1), n, n+1, n+2), []int{n - 1})
	cut := time.Now()
	waitFor(t, 30*time.Second, "both sides noticing the cut", func() bool { return lab.members(0) == n-1 && lab.members(n-1) == 1 })
	noticed := time.Since(cut)
	lab.l.heal()
	healed := time.Now()
	waitFor(t, 30*time.Second, "everyone seeing everyone again", func() bool {
		for i := range n {
			if lab.members(i) != n {
				return false
			}
		}
		return true
	})
	t.Logf("host %d cut off: both sides noticed after %v; after the heal, merged again within %v",
		n-1, noticed.Round(time.Millisecond), time.Since(healed).Round(time.Millisecond))
}

// TestLANDiscoveryTime times three, then ten keyed peers on as many hosts
// finding each other with no --join, with the gossip timers of a real LAN.
func TestLANDiscoveryTime(t *testing.T) {
	for _, n := range []int{3, 10} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			lab := newLANLab(t, n)
			lab.gossip = "lan"
			for i := range n {
				lab.start(i, "lab", lab.keyFile, false, 0)
			}
			took := lab.waitAll(hostsUpTo(n), n, 60*time.Second)
			t.Logf("%d hosts, no --join: each saw all %d peers within %v of its own start; all did %v after the first process was launched",
				n, n, took, time.Since(lab.began).Round(time.Millisecond))
		})
	}
}

// TestLANCaptureNoPlaintext records every frame of a private LAN, as
// tcpdump on its switch would, while keyed peers discover each other, call,
// stream and write state: no payload, service, stream or peer name may
// appear in clear. The same run without a key shows them, so the capture
// really sees the traffic.
func TestLANCaptureNoPlaintext(t *testing.T) {
	markers := []string{"pyros-secret-call", "pyros-secret-tick", "pyros-secret-state", "lan/lan-1/echo", "lan-2"}
	for _, keyed := range []bool{true, false} {
		capture := lanTraffic(t, keyed)
		for _, m := range markers {
			seen := strings.Contains(string(capture), m)
			if keyed && seen {
				t.Errorf("with a mesh key, %q crossed the network in clear", m)
			}
			if !keyed && !seen {
				t.Errorf("without a key, %q was not in the capture: the capture misses traffic", m)
			}
		}
		t.Logf("keyed=%v: captured %d bytes", keyed, len(capture))
	}
}

// lanTraffic runs three peers on a private LAN, keyed or not, exercises
// discovery, calls, a stream and the state, and returns every frame the
// switch carried meanwhile.
func lanTraffic(t *testing.T, keyed bool) []byte {
	const n = 3
	lab := newLANLab(t, n)
	key := ""
	if keyed {
		key = lab.keyFile
	}
	file := filepath.Join(t.TempDir(), "capture")
	cmd := exec.Command("ip", "netns", "exec", lab.l.sw, os.Args[0], "-test.run=^$")
	cmd.Env = []string{"PYROS_E2E_ROLE=capture", "PYROS_E2E_OUT=" + file}
	capture := lab.m.start("capture", cmd)
	for i := range n {
		lab.start(i, "lab", key, true, n)
	}
	lab.waitAll(hostsUpTo(n), n, 30*time.Second)
	if out, errs, code := lab.cli(0, key, "call", "lan/lan-1/echo", `"pyros-secret-call"`); code != 0 || !strings.Contains(out, "pyros-secret-call") {
		t.Fatalf("call: exit %d %q %s", code, out, errs)
	}
	if out, errs, code := lab.cli(2, key, "echo", "lan/lan-1/ticks", "--count", "2", "--timeout", "10s"); code != 0 || !strings.Contains(out, "pyros-secret-tick") {
		t.Fatalf("echo: exit %d %q %s", code, out, errs)
	}
	waitFor(t, 30*time.Second, "a state write", func() bool {
		_, _, code := lab.cli(1, key, "state", "put", "lan/secret", `"pyros-secret-state"`)
		return code == 0
	})
	capture.terminate()
	b, err := os.ReadFile(file)
	if err != nil || len(b) == 0 {
		t.Fatalf("capture: %d bytes, %v", len(b), err)
	}
	return b
}

// TestLANDefaultsCLI runs pyros-peer as a user would on two machines of a
// LAN: `run` with a key and no address at all, then queries with no
// registry and no --join on the other machine, which find the mesh by
// multicast too.
func TestLANDefaultsCLI(t *testing.T) {
	lab := newLANLab(t, 2)
	env := func(i int) []string { // the defaults: no PYROS_BIND, LAN on; a registry per machine
		return []string{"PYROS_BIND=", "PYROS_LAN=", "PYROS_GOSSIP=", "PYROS_REGISTRY=" + lab.registry(i)}
	}
	for i, extra := range [][]string{{"--demo"}, nil} {
		cmd := lab.l.command(i, peerBin, append([]string{"run", "--name", lab.name(i), "--key", lab.keyFile, "--mesh", "lab"}, extra...)...)
		cmd.Env = env(i)
		p := lab.m.start(lab.name(i), cmd)
		if !strings.Contains(p.ready, "gossip "+lab.l.addr(i)+":") || !strings.Contains(p.ready, "encrypted") {
			t.Fatalf("%s: ready line %q: want its LAN address and encryption", lab.name(i), p.ready)
		}
	}
	query := func(args ...string) (string, string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := lab.l.command(1, peerBin, append(args, "--key", lab.keyFile, "--mesh", "lab", "--no-registry")...)
		cmd.Env = append(lab.m.env(), env(1)...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Start()
		if err == nil {
			stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
			err = cmd.Wait()
			stop()
		}
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return strings.TrimSpace(out.String()), strings.TrimSpace(errb.String()), code
	}
	waitFor(t, 20*time.Second, "members on host 1 listing both peers", func() bool {
		out, _, code := query("members")
		return code == 0 && strings.Contains(out, lab.name(0)) && strings.Contains(out, lab.name(1))
	})
	if out, errs, code := query("call", "demo/add", `{"a":2,"b":3}`); code != 0 || out != "5" {
		t.Fatalf("call across machines: exit %d %q %s", code, out, errs)
	}
	if out, errs, code := query("echo", "demo/ticks", "--count", "2", "--timeout", "10s"); code != 0 || len(strings.Fields(out)) != 2 {
		t.Fatalf("echo across machines: exit %d %q %s", code, out, errs)
	}
}
