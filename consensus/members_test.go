package consensus

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func voter(name string) raft.Server {
	return raft.Server{ID: raft.ServerID(name), Address: raft.ServerAddress(name + ":1"), Suffrage: raft.Voter}
}

func nonvoter(name string) raft.Server {
	s := voter(name)
	s.Suffrage = raft.Nonvoter
	return s
}

func info(names ...string) []ServerInfo {
	var out []ServerInfo
	for _, n := range names {
		out = append(out, ServerInfo{Name: n, Addr: n + ":1"})
	}
	return out
}

func TestPlanMembership(t *testing.T) {
	now := time.Now()
	long := map[string]time.Time{"c": now.Add(-time.Minute), "e": now.Add(-time.Minute)}
	recent := map[string]time.Time{"c": now}
	cases := []struct {
		name string
		conf []raft.Server
		live []ServerInfo
		gone map[string]time.Time
		want string
	}{
		{"steady", []raft.Server{voter("a"), voter("b"), voter("c")}, info("a", "b", "c"), nil, "[]"},
		{"newcomer joins as nonvoter", []raft.Server{voter("a"), voter("b"), voter("c")}, info("a", "b", "c", "d"), nil, "[{nonvoter d d:1}]"},
		{"grow to 3 voters", []raft.Server{voter("a")}, info("a", "b", "c"), nil, "[{nonvoter b b:1} {nonvoter c c:1} {voter b b:1} {voter c c:1}]"},
		{"dead voter kept within grace", []raft.Server{voter("a"), voter("b"), voter("c"), nonvoter("d")}, info("a", "b", "d"), recent, "[]"},
		{"dead voter replaced", []raft.Server{voter("a"), voter("b"), voter("c"), nonvoter("d")}, info("a", "b", "d"), long, "[{voter d d:1} {remove c }]"},
		{"dead voter kept without replacement", []raft.Server{voter("a"), voter("b"), voter("c")}, info("a", "b"), long, "[]"},
		{"dead nonvoter removed", []raft.Server{voter("a"), voter("b"), voter("d"), nonvoter("e")}, info("a", "b", "d"), long, "[{remove e }]"},
		{"address change followed", []raft.Server{voter("a"), voter("b"), voter("c")}, []ServerInfo{{Name: "a", Addr: "a:1"}, {Name: "b", Addr: "b:2"}, {Name: "c", Addr: "c:1"}}, nil, "[{voter b b:2}]"},
		{"five voters from six", []raft.Server{voter("a"), voter("b"), voter("c"), nonvoter("d"), nonvoter("e"), nonvoter("f")}, info("a", "b", "c", "d", "e", "f"), nil, "[{voter d d:1} {voter e e:1}]"},
	}
	for _, c := range cases {
		got := fmt.Sprint(planMembership(c.conf, c.live, c.gone, now, 10*time.Second))
		if got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

func TestBootstrapPlan(t *testing.T) {
	if _, ok := bootstrapPlan("a", 3, info("a", "b")); ok {
		t.Error("bootstrapped short of the expected servers")
	}
	if _, ok := bootstrapPlan("b", 3, info("a", "b", "c")); ok {
		t.Error("a server other than the lowest bootstrapped")
	}
	joined := info("a", "b", "c")
	joined[2].Joined = true
	if _, ok := bootstrapPlan("a", 3, joined); ok {
		t.Error("bootstrapped beside an existing cluster")
	}
	plan, ok := bootstrapPlan("a", 3, info("c", "a", "b", "d"))
	if !ok || len(plan) != 4 || plan[0].Name != "a" {
		t.Errorf("plan %+v %v", plan, ok)
	}
}

func TestClaimsAreExclusive(t *testing.T) {
	var c claims
	now := time.Now()
	if !c.take("a", now) || c.take("b", now) || !c.take("a", now) {
		t.Fatal("a claim is not exclusive")
	}
	if !c.take("b", now.Add(claimTTL+time.Millisecond)) {
		t.Fatal("an expired claim still holds")
	}
}
