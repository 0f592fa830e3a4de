package launcher

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ErrUnknownPeer is returned for a peer name the mesh does not run.
var ErrUnknownPeer = errors.New("launcher: no such peer")

// Config configures a Mesh.
type Config struct {
	Dir    string   // run directory, created if needed
	Binary string   // the pyros-peer binary; default this executable
	File   File     // the peers
	Args   []string // extra flags for every peer, e.g. --registry DIR or --key FILE
	Env    []string // extra environment for every peer
	// Netns runs each peer in a network namespace of its own, on a
	// virtual switch, so that Partition cuts a real network (root and
	// iproute2 needed). Peers bind their namespace's address.
	Netns  bool
	Logger *slog.Logger
}

// Status of a peer process.
const (
	Running    = "running"
	Paused     = "paused"
	Killed     = "killed"     // stopped by a fault; restarted only by Restart
	Restarting = "restarting" // exited on its own; restarted shortly
	Stopped    = "stopped"
)

// PeerInfo is what the launcher knows of one peer.
type PeerInfo struct {
	Name     string `json:"name"`
	PID      int    `json:"pid"`
	Status   string `json:"status"`
	Ready    string `json:"ready"` // the peer's ready line: where it is
	State    bool   `json:"state"`
	Restarts int    `json:"restarts"`
	Log      string `json:"log"`
	Netns    string `json:"netns,omitempty"` // its network namespace, with Config.Netns
}

// Mesh is a supervised local mesh of peer processes.
type Mesh struct {
	cfg      Config
	log      *slog.Logger
	faultLog *os.File
	lab      *lab // with Config.Netns

	mu      sync.Mutex
	peers   map[string]*proc
	order   []string
	closing bool
	wg      sync.WaitGroup
	once    sync.Once
	done    chan struct{}
}

type proc struct {
	spec     PeerSpec
	index    int // its place in the description, and its host with Netns
	cmd      *exec.Cmd
	status   string
	ready    string
	restarts int
	exited   chan struct{} // closed when the current process has exited
}

// readyTimeout bounds how long a peer may take to print its ready line.
const readyTimeout = 20 * time.Second

// restartDelay is how long a peer that exited on its own stays down the
// first time; it doubles with each restart, up to 32 times.
const restartDelay = time.Second

// Start starts every peer of cfg.File and waits until each is ready.
func Start(cfg Config) (*Mesh, error) {
	if err := cfg.File.check(); err != nil {
		return nil, err
	}
	if cfg.Binary == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cfg.Binary = self
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("launcher: %w", err)
	}
	fl, err := os.OpenFile(filepath.Join(cfg.Dir, "faults.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("launcher: %w", err)
	}
	m := &Mesh{cfg: cfg, log: cfg.Logger, faultLog: fl, peers: make(map[string]*proc), done: make(chan struct{})}
	for i, s := range cfg.File.Peers {
		p := &proc{spec: s, index: i}
		m.peers[s.Name] = p
		m.order = append(m.order, s.Name)
	}
	if cfg.Netns {
		if m.lab, err = newLab(len(m.order)); err != nil {
			fl.Close()
			return nil, err
		}
	}
	for _, name := range m.order {
		m.mu.Lock()
		err := m.startLocked(m.peers[name])
		m.mu.Unlock()
		if err != nil {
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

// args are the flags of a peer's `pyros-peer run`.
func (m *Mesh) args(p *proc) []string {
	s := p.spec
	gossip := m.cfg.File.Gossip
	if gossip == "" {
		gossip = "local"
	}
	bind := "127.0.0.1:0"
	if m.lab != nil {
		bind = m.lab.addr(p.index) + ":0"
	}
	a := []string{"run", "--name", s.Name, "--bind", bind, "--gossip", gossip, "--faults"}
	if s.State {
		a = append(a, "--data", filepath.Join(m.cfg.Dir, s.Name, "data"), "--bootstrap-expect", strconv.Itoa(min(m.cfg.File.servers(), 3)))
	}
	if s.Demo {
		a = append(a, "--demo")
	}
	a = append(a, m.cfg.Args...)
	return append(a, s.Args...)
}

// startLocked runs p's process and waits for its ready line.
func (m *Mesh) startLocked(p *proc) error {
	logPath := filepath.Join(m.cfg.Dir, p.spec.Name+".log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	cmd := exec.Command(m.cfg.Binary, m.args(p)...)
	if m.lab != nil {
		cmd = m.lab.command(p.index, m.cfg.Binary, m.args(p)...)
	}
	cmd.Env = append(os.Environ(), m.cfg.Env...)
	cmd.Stderr = lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		lf.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("launcher: start %s: %w", p.spec.Name, err)
	}
	p.cmd, p.status, p.exited = cmd, Running, make(chan struct{})
	ready := make(chan string, 1)
	m.wg.Add(1)
	go func() { // owns the process: copies its output, waits for it, supervises
		defer m.wg.Done()
		copyOutput(out, lf, ready)
		cmd.Wait()
		lf.Close()
		m.exited(p, cmd)
	}()
	select {
	case line := <-ready:
		if line == "" {
			return fmt.Errorf("launcher: %s exited before it was ready (see %s)", p.spec.Name, logPath)
		}
		p.ready = line
		return nil
	case <-time.After(readyTimeout):
		cmd.Process.Kill()
		return fmt.Errorf("launcher: %s not ready within %v (see %s)", p.spec.Name, readyTimeout, logPath)
	}
}

// copyOutput sends the first line to ready and everything to the log.
func copyOutput(r io.Reader, log io.Writer, ready chan<- string) {
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		if first {
			ready <- sc.Text()
			first = false
		}
		fmt.Fprintln(log, sc.Text())
	}
	if first {
		ready <- ""
	}
}

// exited supervises: a peer that exits on its own is restarted.
func (m *Mesh) exited(p *proc, cmd *exec.Cmd) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.cmd != cmd {
		return // an older process of this peer
	}
	close(p.exited)
	if m.closing || p.status == Killed || p.status == Stopped {
		return
	}
	p.status = Restarting
	p.restarts++
	delay := restartDelay << min(p.restarts-1, 5) // a peer that keeps failing is retried less often
	m.logFault("exited on its own (%s); restarting in %v", p.spec.Name, cmd.ProcessState, delay)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		select {
		case <-m.done:
			return
		case <-time.After(delay):
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if p.cmd == cmd && p.status == Restarting && !m.closing {
			if err := m.startLocked(p); err != nil {
				m.log.Warn("restart failed", "peer", p.spec.Name, "err", err)
			}
		}
	}()
}

// logFault writes one timestamped line to faults.log and the logger.
func (m *Mesh) logFault(format string, peer string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(m.faultLog, "%s %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), peer, msg)
	m.log.Warn("fault", "peer", peer, "what", msg)
}

// Peers describes every peer, in the order of the description.
func (m *Mesh) Peers() []PeerInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []PeerInfo
	for _, n := range m.order {
		p := m.peers[n]
		info := PeerInfo{Name: n, Status: p.status, Ready: p.ready, State: p.spec.State, Restarts: p.restarts,
			Log: filepath.Join(m.cfg.Dir, n+".log")}
		if p.cmd != nil && p.cmd.Process != nil {
			info.PID = p.cmd.Process.Pid
		}
		if m.lab != nil {
			info.Netns = m.lab.ns(p.index)
		}
		out = append(out, info)
	}
	return out
}

// Names lists the peers.
func (m *Mesh) Names() []string { return slices.Clone(m.order) }

func (m *Mesh) peer(name string) (*proc, error) {
	p := m.peers[name]
	if p == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownPeer, name)
	}
	return p, nil
}

// Kill SIGKILLs a peer; it stays down until Restart.
func (m *Mesh) Kill(name string) error {
	m.mu.Lock()
	p, err := m.peer(name)
	if err != nil || p.status == Killed {
		m.mu.Unlock()
		return err
	}
	p.status = Killed
	p.cmd.Process.Kill()
	exited := p.exited
	m.logFault("kill", name)
	m.mu.Unlock()
	<-exited
	return nil
}

// Pause stops a peer's process (SIGSTOP): it keeps its sockets but answers
// nothing until Resume.
func (m *Mesh) Pause(name string) error {
	return m.signal(name, syscall.SIGSTOP, Running, Paused, "pause")
}

// Resume continues a paused peer (SIGCONT).
func (m *Mesh) Resume(name string) error {
	return m.signal(name, syscall.SIGCONT, Paused, Running, "resume")
}

func (m *Mesh) signal(name string, sig syscall.Signal, from, to, what string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := m.peer(name)
	if err != nil {
		return err
	}
	if p.status != from {
		return fmt.Errorf("launcher: %s is %s, not %s", name, p.status, from)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("launcher: %s %s: %w", what, name, err)
	}
	p.status = to
	m.logFault(what, name)
	return nil
}

// Restart stops a peer (SIGTERM, SIGKILL after 10 s) if it runs, and
// starts it again on the same data directory.
func (m *Mesh) Restart(name string) error {
	m.mu.Lock()
	p, err := m.peer(name)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	if p.status != Killed && p.status != Restarting {
		p.status = Stopped
		cmd, exited := p.cmd, p.exited
		m.mu.Unlock()
		stopProcess(cmd, exited)
		m.mu.Lock()
	}
	defer m.mu.Unlock()
	m.logFault("restart", name)
	if m.closing {
		return errors.New("launcher: closing")
	}
	return m.startLocked(p)
}

// stopProcess ends a process gracefully, forcefully after 10 s.
func stopProcess(cmd *exec.Cmd, exited <-chan struct{}) {
	cmd.Process.Signal(syscall.SIGCONT) // a paused process cannot handle SIGTERM
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

// Done is closed once Close has begun.
func (m *Mesh) Done() <-chan struct{} { return m.done }

// Close stops every peer (SIGTERM, then SIGKILL after 10 s) and waits for
// the launcher's goroutines. It is idempotent.
func (m *Mesh) Close() error {
	m.once.Do(func() {
		m.mu.Lock()
		m.closing = true
		close(m.done)
		var wait []chan struct{}
		for _, p := range m.peers {
			if p.cmd != nil && p.exited != nil {
				p.cmd.Process.Signal(syscall.SIGCONT)
				p.cmd.Process.Signal(syscall.SIGTERM)
				wait = append(wait, p.exited)
			}
		}
		m.mu.Unlock()
		deadline := time.After(10 * time.Second)
		for _, c := range wait {
			select {
			case <-c:
			case <-deadline:
				m.mu.Lock()
				for _, p := range m.peers {
					if p.cmd != nil {
						p.cmd.Process.Kill()
					}
				}
				m.mu.Unlock()
				<-c
			}
		}
		m.wg.Wait()
		if m.lab != nil {
			m.lab.close()
		}
		m.faultLog.Close()
	})
	return nil
}

// ErrNotNetns is returned by Partition for a mesh run without Netns.
var ErrNotNetns = errors.New("launcher: real partitions need a mesh run with network namespaces (up --netns)")

// Partition splits the mesh's network (Config.Netns): peers named in
// different groups can no longer exchange packets; peers named nowhere
// stay with the first group. Heal with Partition(nil).
func (m *Mesh) Partition(groups [][]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lab == nil {
		return ErrNotNetns
	}
	group := make([]int, len(m.order))
	for g, names := range groups {
		for _, n := range names {
			p, err := m.peer(n)
			if err != nil {
				return err
			}
			group[p.index] = g
		}
	}
	if err := m.lab.apply(group); err != nil {
		return err
	}
	if groups == nil {
		m.logFault("heal: one network again", "*")
	} else {
		m.logFault("partition %v (network namespaces)", "*", groups)
	}
	return nil
}
