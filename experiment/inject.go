package experiment

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/pyros-mesh/pyros/fault"
	"github.com/pyros-mesh/pyros/launcher"
	"github.com/pyros-mesh/pyros/peer"
)

// step is one action of the fault timeline: a fault begins or is undone.
type step struct {
	at   time.Duration
	spec FaultSpec
	undo bool
	n    int // which occurrence
}

// timeline flattens the scenario's faults into steps in time order.
func (s Scenario) timeline() []step {
	var steps []step
	for _, f := range s.Faults {
		for i := range f.Count {
			at := f.At.Duration + time.Duration(i)*f.Every.Duration
			steps = append(steps, step{at: at, spec: f, n: i})
			if f.For.Duration > 0 {
				steps = append(steps, step{at: at + f.For.Duration, spec: f, undo: true, n: i})
			}
		}
	}
	slices.SortStableFunc(steps, func(a, b step) int { return cmp.Compare(a.at, b.at) })
	return steps
}

// schedule runs the fault timeline until ctx ends.
func (r *runner) schedule(ctx context.Context) {
	open := map[string]int{} // a fault's description -> its index in r.faults, while it lasts
	undoOf := map[[2]int]func(){}
	for _, st := range r.s.timeline() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(r.began.Add(st.at))):
		}
		key := [2]int{slices.IndexFunc(r.s.Faults, func(f FaultSpec) bool { return f == st.spec }), st.n}
		if st.undo {
			if undo := undoOf[key]; undo != nil {
				undo()
				delete(undoOf, key)
			}
			continue
		}
		began := time.Now()
		name, undo, err := r.inject(ctx, st.spec)
		if err != nil {
			r.say("fault %s %s failed: %v", st.spec.Do, st.spec.Peer+st.spec.Groups, err)
			continue
		}
		r.say("fault: %s", name)
		i := len(r.faults)
		r.faults = append(r.faults, Fault{Name: name, Start: began})
		open[name] = i
		undoOf[key] = func() {
			if undo != nil {
				undo()
			}
			r.faults[i].End = time.Now()
			delete(open, name)
			r.say("undone: %s", name)
		}
		if st.spec.Do == "heal" || st.spec.Do == "resume" || st.spec.Do == "restart" {
			r.faults[i].End = time.Now() // an action, over once done
		}
	}
}

// inject applies one fault and returns its description and how to undo it.
func (r *runner) inject(ctx context.Context, f FaultSpec) (string, func(), error) {
	switch f.Do {
	case "kill", "pause", "resume", "restart":
		name, err := r.resolve(f.Peer)
		if err != nil {
			return "", nil, err
		}
		act := map[string]func(string) error{"kill": r.mesh.Kill, "pause": r.mesh.Pause, "resume": r.mesh.Resume, "restart": r.mesh.Restart}
		if err := act[f.Do](name); err != nil {
			return "", nil, err
		}
		undo := map[string]func(string) error{"kill": r.mesh.Restart, "pause": r.mesh.Resume}[f.Do]
		return f.Do + " " + name, func() {
			if undo != nil {
				if err := undo(name); err != nil {
					r.say("undoing %s %s: %v", f.Do, name, err)
				}
			}
		}, nil
	case "partition":
		groups, err := r.groups(f.Groups)
		if err != nil {
			return "", nil, err
		}
		err = r.setRules(ctx, r.allPeers(), func(ru *fault.Rules) { ru.Partition = groups })
		return "partition " + groupsText(groups), func() { r.heal(ctx) }, err
	case "delay", "drop":
		name, err := r.resolve(f.Peer)
		if err != nil {
			return "", nil, err
		}
		set, err := f.rules()
		if err != nil {
			return "", nil, err
		}
		err = r.setRules(ctx, []string{name}, set)
		return f.Do + " " + name + " " + f.Value, func() {
			r.setRules(ctx, []string{name}, func(ru *fault.Rules) { ru.Delay, ru.Drop = 0, 0 })
		}, err
	case "heal":
		r.heal(ctx)
		return "heal", nil, nil
	}
	return "", nil, fmt.Errorf("unknown fault %q", f.Do)
}

// resolve names the peer a fault targets: leader, follower, any, or a
// name. Right after another fault the mesh may have no leader yet: it
// waits up to leaderWait for one.
func (r *runner) resolve(who string) (string, error) {
	deadline := time.Now().Add(leaderWait)
	for {
		name, err := r.resolveNow(who)
		if err == nil || (who != "leader" && who != "follower") || time.Now().After(deadline) {
			return name, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leaderWait bounds how long a fault waits for a leader to target.
const leaderWait = 5 * time.Second

func (r *runner) resolveNow(who string) (string, error) {
	var servers []string
	leader := ""
	for _, m := range r.client.Members() {
		switch m.Role {
		case "leader":
			leader = m.Name
		case "server":
			servers = append(servers, m.Name)
		}
	}
	switch who {
	case "leader":
		if leader == "" {
			return "", fmt.Errorf("no leader now")
		}
		return leader, nil
	case "follower":
		if len(servers) == 0 {
			return "", fmt.Errorf("no follower now")
		}
		slices.Sort(servers)
		return servers[0], nil
	case "any":
		names := r.meshNames()
		return names[rand.IntN(len(names))], nil
	}
	if r.isMeshPeer(who) || r.runnerPeer(who) != nil {
		return who, nil
	}
	return "", fmt.Errorf("no peer %q", who)
}

// groups resolves "leader,p2 / rest": names, leader, follower, and rest
// for the mesh's peers named nowhere else.
func (r *runner) groups(spec string) ([][]string, error) {
	var groups [][]string
	used := map[string]bool{}
	rest := -1
	for _, g := range strings.Split(spec, "/") {
		var names []string
		for _, tok := range strings.FieldsFunc(g, func(c rune) bool { return c == ',' || c == ' ' }) {
			if tok == "rest" {
				rest = len(groups)
				continue
			}
			n, err := r.resolve(tok)
			if err != nil {
				return nil, err
			}
			if !used[n] {
				used[n] = true
				names = append(names, n)
			}
		}
		groups = append(groups, names)
	}
	if rest >= 0 {
		for _, n := range r.meshNames() {
			if !used[n] {
				groups[rest] = append(groups[rest], n)
			}
		}
	}
	groups = slices.DeleteFunc(groups, func(g []string) bool { return len(g) == 0 })
	if len(groups) < 2 {
		return nil, fmt.Errorf("partition %q leaves fewer than two groups", spec)
	}
	return groups, nil
}

func groupsText(groups [][]string) string {
	var parts []string
	for _, g := range groups {
		parts = append(parts, strings.Join(g, ","))
	}
	return strings.Join(parts, " / ")
}

func (r *runner) meshNames() []string {
	var names []string
	for _, p := range r.s.Mesh.Peer {
		names = append(names, p.Name)
	}
	return names
}

// allPeers is every peer that takes network faults: the mesh's and the
// runner's own.
func (r *runner) allPeers() []string {
	names := r.meshNames()
	for _, p := range []*peer.Peer{r.client, r.pub, r.sub} {
		if p != nil {
			names = append(names, p.Name())
		}
	}
	return names
}

func (r *runner) runnerPeer(name string) *peer.Peer {
	for _, p := range []*peer.Peer{r.client, r.pub, r.sub} {
		if p != nil && p.Name() == name {
			return p
		}
	}
	return nil
}

// setRules changes the fault rules of the named peers: the runner's own
// directly, the mesh's through their control sockets.
func (r *runner) setRules(ctx context.Context, names []string, change func(*fault.Rules)) error {
	var errs []error
	for _, n := range names {
		if p := r.runnerPeer(n); p != nil {
			ru := p.Faults().Rules()
			change(&ru)
			errs = append(errs, p.Faults().Set(ru))
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		path := fault.SocketPath(r.registry, n)
		ru, err := fault.Get(cctx, path)
		if err == nil {
			change(&ru)
			_, err = fault.Apply(cctx, path, ru)
		}
		cancel()
		if err != nil && !r.down(n) {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
		}
	}
	return joinErrs(errs)
}

// down reports whether a mesh peer is not running (killed, restarting):
// it has no rules to change, and starts with none.
func (r *runner) down(name string) bool {
	for _, p := range r.mesh.Peers() {
		if p.Name == name {
			return p.Status != launcher.Running && p.Status != launcher.Paused
		}
	}
	return false
}

// heal removes every network fault.
func (r *runner) heal(ctx context.Context) {
	if err := r.setRules(ctx, r.allPeers(), func(ru *fault.Rules) { *ru = fault.Rules{} }); err != nil {
		r.say("heal: %v", err)
	}
}

func joinErrs(errs []error) error {
	errs = slices.DeleteFunc(errs, func(e error) bool { return e == nil })
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%v", errs)
}

// finish undoes every fault still in force (network faults healed, paused
// peers resumed, killed ones restarted), lets the mesh settle, and reads
// every key back, recording the reads.
func (r *runner) finish(ctx context.Context) (map[string]string, error) {
	r.heal(ctx)
	for _, p := range r.mesh.Peers() {
		switch p.Status {
		case launcher.Paused:
			r.mesh.Resume(p.Name)
		case launcher.Killed:
			if err := r.mesh.Restart(p.Name); err != nil {
				return nil, fmt.Errorf("experiment: restarting %s: %w", p.Name, err)
			}
		}
	}
	now := time.Now()
	for i := range r.faults {
		if r.faults[i].End.IsZero() {
			r.faults[i].End = now
		}
	}
	r.say("workload done; faults undone; settling for %v", r.s.Settle.Duration)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(r.s.Settle.Duration):
	}
	if r.s.Workload.Clients == 0 {
		return nil, nil
	}
	final := map[string]string{}
	for i := range r.s.Workload.Keys {
		key := "exp/k" + fmt.Sprint(i)
		v, ok, err := r.finalRead(ctx, key)
		if err != nil {
			return nil, err
		}
		if ok {
			final[key] = v
		}
	}
	r.say("read back %d keys", r.s.Workload.Keys)
	return final, nil
}

// finalRead reads key until it succeeds or a minute has passed.
func (r *runner) finalRead(ctx context.Context, key string) (string, bool, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		op := Op{Client: "final", Kind: "get", Key: key, Start: time.Now()}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		e, err := r.client.State().Get(rctx, key)
		cancel()
		if err == nil {
			err = e.Decode(&op.Value)
			op.Rev = e.Rev
		}
		op = op.Done(err)
		r.rec.Add(op)
		if op.Outcome == OK {
			return op.Value, op.Rev > 0, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return "", false, fmt.Errorf("experiment: final read of %s: %w", key, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
