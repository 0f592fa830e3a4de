package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/pyros-mesh/pyros/discovery"
	"github.com/pyros-mesh/pyros/launcher"
	"github.com/pyros-mesh/pyros/peer"
)

// RunConfig says where and how a scenario runs.
type RunConfig struct {
	// Dir receives the results (report.json, summary.txt, plot.svg,
	// history.jsonl) and the mesh's run directory (mesh/).
	Dir string
	// Binary is pyros-peer; default this executable.
	Binary string
	// Progress receives a line per step; nil discards them.
	Progress io.Writer
	// Logger receives the runner's peers' logs; nil discards them.
	Logger *slog.Logger
}

// Result is a finished run: its report and what it failed, if anything.
type Result struct {
	Report   Report   `json:"report"`
	Problems []string `json:"problems,omitempty"`
}

// runner is one run of a scenario.
type runner struct {
	s        Scenario
	cfg      RunConfig
	registry string
	mesh     *launcher.Mesh
	client   *peer.Peer
	pub, sub *peer.Peer
	rec      *Recorder
	began    time.Time
	faults   []Fault
}

// Run starts the scenario's mesh, runs its workload and faults, heals
// everything, reads every key back, analyses the history and writes the
// results into cfg.Dir. An error means the experiment could not run; a
// run whose checks failed returns its Problems.
func Run(ctx context.Context, s Scenario, cfg RunConfig) (Result, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return Result{}, fmt.Errorf("experiment: %w", err)
	}
	r := &runner{s: s, cfg: cfg, registry: filepath.Join(cfg.Dir, "registry")}
	defer r.close()
	if err := r.start(ctx); err != nil {
		return Result{}, err
	}
	hist, err := os.Create(filepath.Join(cfg.Dir, "history.jsonl"))
	if err != nil {
		return Result{}, fmt.Errorf("experiment: %w", err)
	}
	defer hist.Close()
	r.rec = NewRecorder(hist)
	r.say("running the workload for %v with %d fault(s) scheduled", s.Duration.Duration, len(s.Faults))
	r.began = time.Now()
	r.runWorkload(ctx)
	final, err := r.finish(ctx)
	if err != nil {
		return Result{}, err
	}
	if err := r.rec.Flush(); err != nil {
		return Result{}, fmt.Errorf("experiment: history: %w", err)
	}
	rep := Analyze(r.rec.Ops(), r.faults, final, Options{Deadline: s.Workload.Timeout.Duration})
	res := Result{Report: rep, Problems: r.problems(rep)}
	return res, r.write(res)
}

func (r *runner) say(format string, args ...any) {
	fmt.Fprintf(r.cfg.Progress, "%s %s\n", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// start launches the mesh and the runner's own peers, and waits until the
// clients see every peer and, with state clients, a write goes through.
func (r *runner) start(ctx context.Context) error {
	if err := os.MkdirAll(r.registry, 0o700); err != nil {
		return fmt.Errorf("experiment: %w", err)
	}
	r.say("starting %d peers", len(r.s.Mesh.Peer))
	m, err := launcher.Start(launcher.Config{Dir: filepath.Join(r.cfg.Dir, "mesh"), Binary: r.cfg.Binary,
		File: r.s.meshFile(), Args: []string{"--registry", r.registry}, Env: []string{"PYROS_LAN=off"}, Logger: r.cfg.Logger})
	if err != nil {
		return err
	}
	r.mesh = m
	if r.client, err = r.peer(ctx, "exp-client"); err != nil {
		return err
	}
	if r.s.Workload.Stream {
		if r.pub, err = r.peer(ctx, "exp-pub"); err != nil {
			return err
		}
		if r.sub, err = r.peer(ctx, "exp-sub"); err != nil {
			return err
		}
	}
	return r.waitReady(ctx)
}

// peer starts one of the runner's own peers, on loopback like the mesh.
func (r *runner) peer(ctx context.Context, name string) (*peer.Peer, error) {
	gossip := discovery.LocalConfig()
	if r.s.Mesh.Gossip == "lan" {
		gossip = discovery.LANConfig()
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := peer.New(cctx, peer.Config{Name: name, RegistryDir: r.registry, Gossip: gossip,
		Logger: r.cfg.Logger.With("peer", name)})
	if err != nil {
		return nil, fmt.Errorf("experiment: %s: %w", name, err)
	}
	return p, nil
}

// waitReady waits until the client sees the whole mesh and can write.
func (r *runner) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	want := len(r.s.Mesh.Peer)
	for {
		seen := 0
		for _, m := range r.client.Members() {
			if r.isMeshPeer(m.Name) {
				seen++
			}
		}
		ready := seen == want
		if ready && hasServers(r.s.Mesh.Peer) {
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := r.client.State().Put(wctx, "exp/ready", true)
			cancel()
			ready = err == nil
		}
		if ready {
			r.say("mesh ready: %d peers", want)
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("experiment: the mesh was not ready within 60s (the client sees %d of %d peers)", seen, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *runner) isMeshPeer(name string) bool {
	for _, p := range r.s.Mesh.Peer {
		if p.Name == name {
			return true
		}
	}
	return false
}

// problems lists what failed the scenario's checks.
func (r *runner) problems(rep Report) []string {
	var ps []string
	c := r.s.Checks
	if *c.Linearizable && rep.Linearizability.Verdict != Linearizable && rep.Linearizability.Keys > 0 {
		ps = append(ps, fmt.Sprintf("state history %s", rep.Linearizability.Verdict))
	}
	if n := len(rep.Durability.Lost); n > c.LostWrites {
		ps = append(ps, fmt.Sprintf("%d acknowledged writes lost (allowed %d)", n, c.LostWrites))
	}
	if n := len(rep.Durability.Unread); n > 0 {
		ps = append(ps, fmt.Sprintf("%d keys could not be read back", n))
	}
	hung := 0
	for _, k := range rep.Kinds {
		hung += k.Hung
	}
	if hung > c.Hung {
		ps = append(ps, fmt.Sprintf("%d ops hung past their deadline (allowed %d)", hung, c.Hung))
	}
	return ps
}

// write saves the results.
func (r *runner) write(res Result) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	summary := res.Report.Summary()
	if len(res.Problems) == 0 {
		summary += "\nPASS: every check held\n"
	} else {
		summary += "\nFAIL:\n"
		for _, p := range res.Problems {
			summary += "  - " + p + "\n"
		}
	}
	svg, err := os.Create(filepath.Join(r.cfg.Dir, "plot.svg"))
	if err != nil {
		return err
	}
	defer svg.Close()
	return errors.Join(
		os.WriteFile(filepath.Join(r.cfg.Dir, "report.json"), b, 0o644),
		os.WriteFile(filepath.Join(r.cfg.Dir, "summary.txt"), []byte(summary), 0o644),
		Plot(r.rec.Ops(), r.faults, svg),
	)
}

// close stops the runner's peers and the mesh.
func (r *runner) close() {
	for _, p := range []*peer.Peer{r.sub, r.pub, r.client} {
		if p != nil {
			p.Close()
		}
	}
	if r.mesh != nil {
		r.mesh.Close()
	}
}
