package consensus

import (
	"context"
	"sort"
	"time"

	"github.com/hashicorp/raft"
)

// manageTick is how often a server looks after membership.
const manageTick = 200 * time.Millisecond

// manageLoop bootstraps the cluster when it is time, and, on the leader,
// makes the voter set follow the live servers and ends dead sessions.
func (s *Server) manageLoop() {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-s.done; cancel() }()
	t := time.NewTicker(manageTick)
	defer t.Stop()
	gone := make(map[string]time.Time) // servers and sessions missing, since when
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		switch {
		case !s.joined.Load():
			s.tryBootstrap(ctx)
		case s.raft.State() == raft.Leader:
			s.reconcile(gone, time.Now())
			s.endDeadSessions(ctx, gone, time.Now())
		default:
			clear(gone) // a new leader starts counting afresh
		}
	}
}

// change is one step of the voter set.
type change struct {
	op   string // "voter", "nonvoter" or "remove"
	name string
	addr string
}

// planMembership compares the raft configuration with the live servers and
// returns the changes to make, in order: add live servers as nonvoters,
// follow address changes, promote nonvoters while fewer than the target of
// voters are alive, then remove servers gone for longer than grace — a
// voter only when enough voters remain.
func planMembership(conf []raft.Server, live []ServerInfo, gone map[string]time.Time, now time.Time, grace time.Duration) []change {
	liveAddr := make(map[string]string, len(live))
	for _, sv := range live {
		liveAddr[sv.Name] = sv.Addr
	}
	known := make(map[string]bool)
	var out []change
	var voters, dead, nonvoters []string
	for _, sv := range conf {
		name := string(sv.ID)
		known[name] = true
		addr, alive := liveAddr[name]
		isVoter := sv.Suffrage == raft.Voter
		switch {
		case alive && addr != string(sv.Address):
			out = append(out, change{op: suffrage(isVoter), name: name, addr: addr})
		case !alive && isGone(gone, name, now, grace):
			dead = append(dead, name)
			continue
		}
		if isVoter {
			voters = append(voters, name)
		} else if alive {
			nonvoters = append(nonvoters, name)
		}
	}
	for _, sv := range live {
		if !known[sv.Name] {
			out = append(out, change{op: "nonvoter", name: sv.Name, addr: sv.Addr})
			nonvoters = append(nonvoters, sv.Name)
		}
	}
	sort.Strings(nonvoters)
	total := len(known)
	for _, sv := range live {
		if !known[sv.Name] {
			total++
		}
	}
	target := voterTarget(total)
	for _, name := range nonvoters {
		if len(voters) >= target {
			break
		}
		out = append(out, change{op: "voter", name: name, addr: liveAddr[name]})
		voters = append(voters, name)
	}
	return append(out, removals(conf, dead, len(voters), target)...)
}

func suffrage(voter bool) string {
	if voter {
		return "voter"
	}
	return "nonvoter"
}

func isGone(gone map[string]time.Time, name string, now time.Time, grace time.Duration) bool {
	since, ok := gone[name]
	return ok && now.Sub(since) >= grace
}

// removals removes dead nonvoters, and dead voters while the voters left
// (alive ones counted in alive) reach the target.
func removals(conf []raft.Server, dead []string, alive, target int) []change {
	isVoter := make(map[string]bool)
	for _, sv := range conf {
		isVoter[string(sv.ID)] = sv.Suffrage == raft.Voter
	}
	var out []change
	for _, name := range dead {
		if !isVoter[name] || alive >= target {
			out = append(out, change{op: "remove", name: name})
		}
	}
	return out
}

// reconcile applies planMembership on the leader.
func (s *Server) reconcile(gone map[string]time.Time, now time.Time) {
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	conf := f.Configuration().Servers
	live := s.cfg.Mesh.Servers()
	markGone(gone, conf, live, now)
	for _, c := range planMembership(conf, live, gone, now, s.cfg.Grace) {
		if c.name == s.cfg.Name && c.op == "remove" {
			continue
		}
		var err error
		switch c.op {
		case "voter":
			err = s.raft.AddVoter(raft.ServerID(c.name), raft.ServerAddress(c.addr), 0, applyTimeout).Error()
		case "nonvoter":
			err = s.raft.AddNonvoter(raft.ServerID(c.name), raft.ServerAddress(c.addr), 0, applyTimeout).Error()
		case "remove":
			err = s.raft.RemoveServer(raft.ServerID(c.name), 0, applyTimeout).Error()
		}
		s.log.Info("state membership", "change", c.op, "server", c.name, "addr", c.addr, "err", err)
		if err != nil {
			return
		}
	}
}

// markGone records since when each configured server has been missing.
func markGone(gone map[string]time.Time, conf []raft.Server, live []ServerInfo, now time.Time) {
	alive := make(map[string]bool, len(live))
	for _, sv := range live {
		alive[sv.Name] = true
	}
	for _, sv := range conf {
		name := string(sv.ID)
		if alive[name] {
			delete(gone, name)
		} else if _, ok := gone[name]; !ok {
			gone[name] = now
		}
	}
}

// endDeadSessions ends the sessions whose peer has been gone for longer
// than SessionGrace.
func (s *Server) endDeadSessions(ctx context.Context, gone map[string]time.Time, now time.Time) {
	live := s.cfg.Mesh.Sessions()
	for _, id := range s.store.Sessions() {
		key := "session:" + id
		if live[id] {
			delete(gone, key)
			continue
		}
		since, ok := gone[key]
		if !ok {
			gone[key] = now
			continue
		}
		if now.Sub(since) < s.cfg.SessionGrace {
			continue
		}
		if _, err := s.Apply(ctx, Command{Op: OpEndSession, Key: id}); err != nil {
			s.log.Warn("end session", "session", id, "err", err)
			return
		}
		delete(gone, key)
		s.log.Info("ended the session of a dead peer", "session", id)
	}
}
