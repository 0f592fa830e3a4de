package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pyros-mesh/pyros/discovery"
	"github.com/pyros-mesh/pyros/meshkey"
	"github.com/pyros-mesh/pyros/peer"
)

// peerBin is the pyros-peer built for this run.
var peerBin string

func TestMain(m *testing.M) {
	if role := os.Getenv("PYROS_E2E_ROLE"); role != "" {
		os.Exit(runRole(role))
	}
	dir, err := os.MkdirTemp("", "pyros-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	peerBin = filepath.Join(dir, "pyros-peer")
	build := exec.Command("go", "build", "-o", peerBin, "../../cmd/pyros-peer")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build pyros-peer:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// mesh is a test's private mesh: a registry directory that its peers share,
// so they find each other on loopback and nobody else's peers.
type mesh struct {
	t        testing.TB
	registry string
}

func newMesh(t testing.TB) *mesh {
	dir, err := os.MkdirTemp("", "pyros-reg-") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return &mesh{t: t, registry: dir}
}

// env is the environment for processes of this mesh.
func (m *mesh) env(extra ...string) []string {
	return append(os.Environ(), append([]string{
		"PYROS_REGISTRY=" + m.registry,
		"PYROS_GOSSIP=local",
		"PYROS_BIND=127.0.0.1:0",
		"PYROS_JOIN=",
		"PYROS_LAN=off", // nothing is sent on the machine's interfaces
		"PYROS_MESH=",
		"PYROS_KEY_FILE=",
	}, extra...)...)
}

// proc is a running peer process.
type proc struct {
	name  string
	cmd   *exec.Cmd
	ready string // its first line of output
	done  chan struct{}

	mu    sync.Mutex
	lines []string // its output so far
}

// output returns what the process printed so far.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// start runs a process of this mesh and waits for its first output line.
func (m *mesh) start(name string, cmd *exec.Cmd) *proc {
	m.t.Helper()
	p, lines := m.spawn(name, cmd)
	select {
	case l, ok := <-lines:
		if !ok {
			m.t.Fatalf("%s exited before it was ready", name)
		}
		p.ready = l
	case <-time.After(20 * time.Second):
		m.t.Fatalf("%s not ready in time", name)
	}
	return p
}

// spawn runs a process of this mesh; the channel gets its first output line.
func (m *mesh) spawn(name string, cmd *exec.Cmd) (*proc, <-chan string) {
	m.t.Helper()
	cmd.Env = append(m.env(), cmd.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = testWriter{m.t, name}
	out, err := cmd.StdoutPipe()
	if err != nil {
		m.t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	go func() { cmd.Wait(); close(p.done) }()
	m.t.Cleanup(func() { p.kill() })
	return p, lines
}

// startPeer runs `pyros-peer run` with the given extra arguments.
func (m *mesh) startPeer(name string, args ...string) *proc {
	return m.start(name, exec.Command(peerBin, append([]string{"run", "--name", name}, args...)...))
}

// startRole runs this test peerBin as a helper process.
func (m *mesh) startRole(name, role string, env ...string) *proc {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append([]string{"PYROS_E2E_ROLE=" + role, "PYROS_E2E_NAME=" + name}, env...)
	return m.start(name, cmd)
}

func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

func (p *proc) terminate() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

// cli runs a pyros-peer command of this mesh and returns its stdout, stderr
// and exit code.
func (m *mesh) cli(args ...string) (string, string, int) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, peerBin, args...)
	cmd.Env = m.env()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		m.t.Fatalf("pyros-peer %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// peer starts an in-process peer of this mesh.
func (m *mesh) peer(name string) *peer.Peer { return m.keyedPeer(name, nil) }

// keyedPeer starts an in-process peer of this mesh with a mesh key ring.
func (m *mesh) keyedPeer(name string, keys *meshkey.Ring) *peer.Peer {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := peer.New(ctx, peer.Config{
		Name:        name,
		RegistryDir: m.registry,
		Gossip:      discovery.LocalConfig(),
		Keys:        keys,
		Logger:      slog.New(slog.NewTextHandler(testWriter{m.t, name}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		m.t.Fatal(err)
	}
	m.t.Cleanup(func() { p.Close() })
	return p
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

func providers(p *peer.Peer, service string) []string {
	for _, s := range p.Services() {
		if s.Name == service {
			return s.Providers
		}
	}
	return nil
}

type testWriter struct {
	t    testing.TB
	name string
}

func (w testWriter) Write(b []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		w.t.Logf("[%s] %s", w.name, l)
	}
	return len(b), nil
}

var _ io.Writer = testWriter{}
