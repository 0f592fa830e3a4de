package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/pyros-mesh/pyros/discovery"
	"github.com/pyros-mesh/pyros/peer"
)

func cmdDemo(args []string, out, errw io.Writer) int {
	fs := newFlagSet("demo", "", "Start a local mesh of three peer processes and narrate discovery, calls,\nthe shared state through a SIGKILL of its leader, a SIGKILL of one peer\nand the failover, then stop everything.")
	if _, code, ok := parse(fs, args, errw, 0, 0); !ok {
		return code
	}
	d := &demo{out: out}
	if err := d.run(); err != nil {
		fmt.Fprintln(errw, "pyros-peer demo:", err)
		d.stop()
		return exitFail
	}
	return exitOK
}

type demo struct {
	out      io.Writer
	dir      string
	children map[string]*exec.Cmd
	p        *peer.Peer
	ticks    tickLog
}

func (d *demo) say(format string, a ...any) { fmt.Fprintf(d.out, format+"\n", a...) }

func (d *demo) run() error {
	var err error
	if d.dir, err = os.MkdirTemp("", "pyros-demo-"); err != nil {
		return err
	}
	defer os.RemoveAll(d.dir)
	d.say("pyros demo: three peer processes on this machine, no broker, no endpoints configured.")
	d.say("")
	d.say("-> starting the mesh")
	if err := d.startPeers("demo-a", "demo-b", "demo-c"); err != nil {
		return err
	}
	defer d.stop()
	if err := d.discover(3); err != nil {
		return err
	}
	if err := d.calls(); err != nil {
		return err
	}
	if err := d.sharedState(); err != nil {
		return err
	}
	if err := d.failover("demo-b"); err != nil {
		return err
	}
	if err := d.restart("demo-c"); err != nil {
		return err
	}
	d.say("")
	d.say("-> stopping the mesh (SIGTERM: peers leave gracefully)")
	d.stop()
	d.say("   done: the mesh found itself, served calls by name, kept its shared state through")
	d.say("   the loss of its leader, survived losing a peer and picked up a restarted publisher,")
	d.say("   with no broker and no endpoint configured.")
	d.say("")
	d.say("   next: `pyros-peer up -n 5` keeps a mesh running; `pyros-peer ui` draws it live in a browser,")
	d.say("   `pyros-peer top` in the terminal, and `pyros-peer fault kill p2` or `fault partition p1,p2 / p3,p4,p5`")
	d.say("   breaks it while you watch (README: \"Seeing the mesh\", \"Fault-tolerance experiments\").")
	return nil
}

// startPeers starts peer processes and waits until each says it is ready.
func (d *demo) startPeers(names ...string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if d.children == nil {
		d.children = make(map[string]*exec.Cmd)
	}
	what := "a separate process"
	if len(names) > 1 {
		what = "separate processes"
	}
	d.say("   starting %s as %s (pyros-peer run --demo)", strings.Join(names, ", "), what)
	for _, name := range names {
		cmd := exec.Command(self, "run", "--demo", "--name", name, "--bind", "127.0.0.1:0",
			"--gossip", "local", "--registry", d.dir, "--log-level", "error",
			"--data", filepath.Join(d.dir, "state", name), "--bootstrap-expect", "3")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		d.children[name] = cmd
		line, err := readyLine(stdout, 10*time.Second)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		d.say("   pid %-7d %s", cmd.Process.Pid, line)
	}
	return nil
}

// readyLine waits for a peer's "ready" line, then drains its output.
func readyLine(r io.Reader, timeout time.Duration) (string, error) {
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
			}
		}
		if first {
			close(lines)
		}
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			return "", errors.New("exited before it was ready")
		}
		return l, nil
	case <-time.After(timeout):
		return "", errors.New("not ready in time")
	}
}

// discover joins the mesh from this process and waits to see n peers.
func (d *demo) discover(n int) error {
	d.say("")
	d.say("-> this process joins as a peer too; it knows only the registry directory")
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	d.p, err = peer.New(ctx, peer.Config{Name: "narrator", RegistryDir: d.dir, RegistryReadOnly: true, Gossip: discovery.LocalConfig()})
	if err != nil {
		return err
	}
	if err := waitUntil(10*time.Second, func() bool { return len(providers(d.p, "demo/whoami")) == n }); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	d.say("   discovered %d peers and their catalogs in %v", n, time.Since(start).Round(time.Millisecond))
	d.say("   services in the mesh:")
	for _, s := range d.p.Services() {
		d.say("     %-12s provided by %s", s.Name, strings.Join(s.Providers, ", "))
	}
	return nil
}

// restart stops a publisher of demo/ticks and starts it again: the
// subscription picks it up again with no action.
func (d *demo) restart(name string) error {
	d.say("")
	d.say("-> streams: this process subscribes to demo/ticks, a counter every peer publishes at 10 Hz")
	sub, err := d.p.Subscribe(context.Background(), "demo/ticks", d.ticks.add)
	if err != nil {
		return err
	}
	defer sub.Close()
	if err := waitUntil(10*time.Second, func() bool { return d.ticks.latest(name) >= 0 }); err != nil {
		return fmt.Errorf("no ticks from %s: %w", name, err)
	}
	time.Sleep(500 * time.Millisecond) // half a second of ticks
	d.say("   ticks received so far: %s", tally(d.ticks.counts()))
	d.say("   restarting %s (a new process with the same name); the subscriber does nothing", name)
	c := d.children[name]
	c.Process.Signal(syscall.SIGTERM)
	c.Wait()
	delete(d.children, name)
	before := d.ticks.latest(name)
	stopped := time.Now()
	if err := d.startPeers(name); err != nil {
		return err
	}
	ready := time.Now()
	if err := waitUntil(10*time.Second, func() bool { return d.ticks.latest(name) < before }); err != nil {
		return fmt.Errorf("ticks from the restarted %s never arrived: %w", name, err)
	}
	d.say("   ticks from %s stopped at %d; the new process counts from 0 and its ticks arrived %v after it was ready",
		name, before, time.Since(ready).Round(time.Millisecond))
	d.say("   (%v from stop to first tick of the new process, process start included)", time.Since(stopped).Round(time.Millisecond))
	st := sub.Stats()
	d.say("   subscription: %d received, %d dropped", st.Received, st.Dropped)
	return nil
}

func (d *demo) calls() error {
	d.say("")
	d.say("-> calling services by name; the caller never names an endpoint")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var echo any
	if err := d.p.Call(ctx, "demo/echo", "hello, pyros", &echo); err != nil {
		return err
	}
	d.say(`   demo/echo "hello, pyros"  ->  %q`, echo)
	var sum any
	if err := d.p.Call(ctx, "demo/add", map[string]int{"a": 2, "b": 3}, &sum); err != nil {
		return err
	}
	d.say(`   demo/add {"a":2,"b":3}     ->  %v`, sum)
	counts := map[string]int{}
	for range 30 {
		var who string
		if err := d.p.Call(ctx, "demo/whoami", nil, &who); err != nil {
			return err
		}
		counts[who]++
	}
	d.say("   30 calls to demo/whoami were spread over the providers: %s", tally(counts))
	err := d.p.Call(ctx, "demo/nope", nil, nil)
	d.say("   demo/nope  ->  error: %v", err)
	return nil
}

// failover kills a provider with SIGKILL while calls flow, and reports what
// callers saw and how long the mesh took to notice.
func (d *demo) failover(victim string) error {
	d.say("")
	d.say("-> killing %s with SIGKILL (no goodbye) while a caller keeps calling demo/whoami", victim)
	load := startLoad(d.p)
	time.Sleep(200 * time.Millisecond) // let the load run before the kill
	killed := time.Now()
	d.children[victim].Process.Kill()
	d.children[victim].Wait()
	delete(d.children, victim)
	if err := waitUntil(10*time.Second, func() bool { return !contains(providers(d.p, "demo/whoami"), victim) }); err != nil {
		load.stop()
		return fmt.Errorf("%s was never declared failed: %w", victim, err)
	}
	gone := time.Since(killed)
	time.Sleep(200 * time.Millisecond) // a little load after the catalog changed
	r := load.stop()
	failed := 0
	for _, k := range r.errs {
		failed += k
	}
	d.say("   calls during the failure: %d ok, %d failed", r.ok, failed)
	for msg, k := range r.errs {
		d.say("     %d x %s", k, msg)
	}
	d.say("   first successful call after the kill: %v later; answered by %s", r.firstAfter(killed), tally(r.after(killed)))
	d.say("   the mesh declared %s failed and removed it from the catalog after %v", victim, gone.Round(time.Millisecond))
	d.say("   demo/whoami is now provided by %s", strings.Join(providers(d.p, "demo/whoami"), ", "))
	return nil
}

// stop sends SIGTERM to the remaining peers and waits for them.
func (d *demo) stop() {
	if d.p != nil {
		d.p.Close()
		d.p = nil
	}
	for name, c := range d.children {
		c.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			c.Process.Kill()
			<-done
		}
		delete(d.children, name)
	}
}

func providers(p *peer.Peer, service string) []string {
	for _, s := range p.Services() {
		if s.Name == service {
			return s.Providers
		}
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func tally(m map[string]int) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s x%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func waitUntil(d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
