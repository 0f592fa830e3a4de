package e2escratch

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStateMinorityPartition runs five state servers, one per host of a
// netLab, and cuts the network so that the leader and one other server are
// on the minority side: writes there must fail (the old leader steps down),
// the majority must elect a leader and take writes, and after the heal the
// minority must catch up on what the majority wrote while nothing of what
// it tried to write itself survives.
func TestStateMinorityPartition(t *testing.T) {
	const n = 5
	began := time.Now()
	l := newNetLab(t, n)
	m := newMesh(t)
	c := &partCluster{t: t, l: l, m: m, gossip: make([]string, n), names: make([]string, n)}
	for i := range n {
		c.startServer(i)
	}

	// 1. The cluster forms and takes a write.
	formed := waitFor(t, 40*time.Second, "a first write through host 2", func() bool {
		r := c.cli(2, 5*time.Second, "state", "put", "part/before", "1")
		return r.code == 0
	})
	t.Logf("first write %v after the servers started", formed.Round(time.Millisecond))

	// 2. The leader, and a partition that puts it in the minority.
	leader := c.leader(2)
	other := (leader + 1) % n
	minority := []int{leader, other}
	var majority []int
	for i := range n {
		if !slices.Contains(minority, i) {
			majority = append(majority, i)
		}
	}
	t.Logf("leader %s (host %d); minority %v, majority %v", c.names[leader], leader, minority, majority)
	l.partition(majority, minority)
	cut := time.Now()

	// 3. In the minority, a write through either host fails...
	type attempt struct {
		host int
		res  partResult
	}
	minorityDone := make(chan attempt, len(minority))
	for _, h := range minority {
		go func() {
			r := c.cli(h, 4*time.Second, "state", "put", fmt.Sprintf("part/minority-%d", h), "1")
			minorityDone <- attempt{h, r}
		}()
	}

	// 4. ...while the majority elects a leader and takes one.
	var toMajorityWrite time.Duration
	var majorityLeader string
	for try := 0; ; try++ {
		h := majority[try%len(majority)]
		r := c.cli(h, 5*time.Second, "state", "put", "part/majority", `"majority"`)
		if r.code == 0 {
			toMajorityWrite = time.Since(cut)
			break
		}
		if time.Since(cut) > 20*time.Second {
			t.Fatalf("the majority took no write within 20 s of the partition; last try on host %d: exit %d: %s", h, r.code, r.stderr)
		}
	}
	majorityLeader = c.names[c.leader(majority[0])]
	if slices.Contains(minority, c.index(majorityLeader)) {
		t.Errorf("the majority names %s, of the minority, as its leader", majorityLeader)
	}

	minorityFail := make(map[int]time.Duration)
	for range minority {
		a := <-minorityDone
		switch {
		case a.res.code == 0:
			t.Errorf("a write through minority host %d succeeded during the partition (revision %s)", a.host, strings.TrimSpace(a.res.stdout))
		case a.res.code != 1:
			t.Errorf("a write through minority host %d: exit %d, want 1: %s", a.host, a.res.code, a.res.stderr)
		}
		minorityFail[a.host] = a.res.took
	}
	if t.Failed() {
		t.FailNow()
	}

	// 5. After the heal, the minority catches up and takes writes again.
	d, _ := time.ParseDuration(os.Getenv("SCRATCH_PART")); time.Sleep(d - time.Since(cut)) // scratch: a long partition
	partitioned := time.Since(cut)
	l.heal()
	healed := time.Now()
	type catchUp struct {
		host int
		took time.Duration
		err  error
	}
	caught := make(chan catchUp, len(minority))
	for _, h := range minority {
		go func() {
			var last partResult
			for time.Since(healed) < 30*time.Second {
				if last = c.cli(h, 5*time.Second, "state", "put", "part/after", fmt.Sprint(h)); last.code != 0 {
					continue
				}
				last = c.cli(h, 5*time.Second, "state", "get", "part/majority")
				if last.code == 0 && strings.TrimSpace(last.stdout) == `"majority"` {
					caught <- catchUp{host: h, took: time.Since(healed)}
					return
				}
			}
			caught <- catchUp{host: h, err: fmt.Errorf("not within 30 s; last try: exit %d, %q, %s", last.code, strings.TrimSpace(last.stdout), last.stderr)}
		}()
	}
	caughtUp := make(map[int]time.Duration)
	for range minority {
		cu := <-caught
		if cu.err != nil {
			t.Errorf("minority host %d writes and reads the majority's key after the heal: %v", cu.host, cu.err)
		}
		caughtUp[cu.host] = cu.took
	}
	if t.Failed() {
		for _, h := range []int{minority[0], majority[0]} {
			r := c.run(h, 20*time.Second, "members")
			t.Logf("members seen from host %d after the heal:\n%s", h, r.stdout)
			r = c.run(h, 20*time.Second, "state", "list", "part/", "--stale")
			t.Logf("stale list from host %d after the heal:\n%s", h, r.stdout)
		}
		t.FailNow()
	}

	// 6. What was written before the partition is there; what the minority
	// tried to write is not.
	for _, h := range minority {
		if r := c.cli(h, 5*time.Second, "state", "get", "part/before"); r.code != 0 || strings.TrimSpace(r.stdout) != "1" {
			t.Errorf("part/before from host %d after the heal: exit %d, %q, %s", h, r.code, strings.TrimSpace(r.stdout), r.stderr)
		}
		for _, from := range []int{h, majority[0]} {
			key := fmt.Sprintf("part/minority-%d", h)
			if r := c.cli(from, 5*time.Second, "state", "get", key); r.code != 1 || !strings.Contains(r.stderr, "key not found") {
				t.Errorf("%s from host %d after the heal: exit %d, %q, %s; want exit 1 and key not found", key, from, r.code, strings.TrimSpace(r.stdout), r.stderr)
			}
		}
	}

	t.Logf("summary: leader %s cut off with %s; majority's first write %v after the partition (new leader %s); minority writes failed after %v (host %d) and %v (host %d); partition lasted %v; after the heal, minority hosts wrote and read the majority's key within %v (host %d) and %v (host %d); test took %v",
		c.names[leader], c.names[other], toMajorityWrite.Round(time.Millisecond), majorityLeader,
		minorityFail[minority[0]].Round(time.Millisecond), minority[0], minorityFail[minority[1]].Round(time.Millisecond), minority[1],
		partitioned.Round(time.Millisecond), caughtUp[minority[0]].Round(time.Millisecond), minority[0], caughtUp[minority[1]].Round(time.Millisecond), minority[1], time.Since(began).Round(time.Millisecond))
}

// partCluster is TestStateMinorityPartition's servers, one per netLab host.
type partCluster struct {
	t      *testing.T
	l      *netLab
	m      *mesh
	gossip []string // gossip address of host i's server
	names  []string // name of host i's server
}

// peerFlags are the flags of a peer on host i: bound to its address, joined
// through seed (none for the first server), no unix sockets nor registry
// since the namespaces share one file system.
func (c *partCluster) peerFlags(i int, seed string) []string {
	f := []string{"--bind", c.l.addr(i) + ":0", "--no-registry", "--no-ipc", "--gossip", "local", "--log-level", "warn"}
	if seed != "" {
		f = append(f, "--join", seed)
	}
	return f
}

// startServer runs host i's state server, joined to host 0's.
func (c *partCluster) startServer(i int) {
	c.t.Helper()
	name := fmt.Sprintf("part-%d", i)
	args := append([]string{"run", "--name", name, "--data", c.t.TempDir(), "--bootstrap-expect", "5"},
		c.peerFlags(i, c.gossip[0])...)
	p := c.m.start(name, c.l.command(i, peerBin, args...))
	mt := readyRE.FindStringSubmatch(p.ready)
	if mt == nil || !strings.Contains(p.ready, "state server") {
		c.t.Fatalf("%s: unexpected ready line %q", name, p.ready)
	}
	c.gossip[i], c.names[i] = mt[1], name
}

// index is the host of the named server, -1 if none.
func (c *partCluster) index(name string) int { return slices.Index(c.names, name) }

// partResult is what a CLI run printed and how long it took.
type partResult struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// cli runs a state verb on host i, joined to that host's server, with the
// verb's --timeout set to timeout.
func (c *partCluster) cli(i int, timeout time.Duration, args ...string) partResult {
	return c.run(i, timeout+15*time.Second, append(args, "--timeout", timeout.String())...)
}

// run runs pyros-peer on host i, joined to that host's server, killing it
// after bound. It is safe from any goroutine: a run that cannot start or
// overruns counts as a failure (exit -1).
func (c *partCluster) run(i int, bound time.Duration, args ...string) partResult {
	verb := strings.Join(args[:min(len(args), 3)], " ")
	args = append(args, c.peerFlags(i, c.gossip[i])...)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	cmd := c.l.command(i, peerBin, args...)
	cmd.Env = c.m.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
		err = cmd.Wait()
		stop()
	}
	r := partResult{stdout: out.String(), stderr: strings.TrimSpace(errb.String()), took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		r.code, r.stderr = -1, err.Error()
	}
	if args[0] != "members" {
		c.t.Logf("host %d: pyros-peer %s: exit %d after %v: %s %s", i, verb,
			r.code, r.took.Round(time.Millisecond), strings.TrimSpace(r.stdout), r.stderr)
	}
	return r
}

// leader polls the members as host i's CLI sees them until exactly one
// of the servers is the leader, and returns its host.
func (c *partCluster) leader(i int) int {
	c.t.Helper()
	found := -1
	waitFor(c.t, 15*time.Second, fmt.Sprintf("one leader in the members seen from host %d", i), func() bool {
		r := c.run(i, 20*time.Second, "members")
		if r.code != 0 {
			return false
		}
		var leaders []int
		for _, line := range strings.Split(r.stdout, "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[1] == "leader" {
				leaders = append(leaders, c.index(f[0]))
			}
		}
		if len(leaders) != 1 || leaders[0] < 0 {
			return false
		}
		found = leaders[0]
		return true
	})
	return found
}
