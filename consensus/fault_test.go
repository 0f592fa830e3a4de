package consensus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/fault"
	"github.com/pyros-mesh/pyros/meshkey"
)

// A leader that a fault partition (set on every server) separates from the
// two others loses its leadership: they elect one of them, which commits
// without it; once healed, the old leader catches up.
func TestFaultPartitionedLeaderReplaced(t *testing.T) {
	faults := make(map[string]*fault.Injector)
	withFaults := func(c *Config) {
		faults[c.Name] = fault.New(c.Name, c.Logger)
		c.Faults = faults[c.Name]
	}
	servers := startCluster(t, 3, func() *meshkey.Ring { return nil }, withFaults)
	replicate(t, servers, "before")
	old := leader(servers)
	if old == nil {
		t.Fatal("no leader")
	}
	var rest []*Server
	var restNames []string
	for _, s := range servers {
		if s != old {
			rest = append(rest, s)
			restNames = append(restNames, s.cfg.Name)
		}
	}
	rules := fault.Rules{Partition: [][]string{{old.cfg.Name}, restNames}}
	for _, f := range faults {
		if err := f.Set(rules); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	waitFor(t, 20*time.Second, func() bool { return leader(rest) != nil })
	t.Logf("%s elected %v after %s was partitioned", leader(rest).cfg.Name, time.Since(start).Round(time.Millisecond), old.cfg.Name)
	waitFor(t, 20*time.Second, func() bool { return !old.Status().Leader })
	replicate(t, rest, "during")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := old.Apply(ctx, Command{Op: OpPut, Key: "lost", Value: []byte("x")}); err == nil {
		t.Fatal("the partitioned server committed a write alone")
	}
	if _, err := old.layer.Dial(rest[0].trans.LocalAddr(), time.Second); !errors.Is(err, fault.ErrPartitioned) {
		t.Fatalf("dial across the partition: %v", err)
	}
	for _, f := range faults {
		f.Heal()
	}
	replicate(t, servers, "after")
}

// A delay on one server holds back each of its writes; drop 1 loses them
// all, with their connections.
func TestFaultDelayAndDropOnWrites(t *testing.T) {
	servers := startCluster(t, 1, func() *meshkey.Ring { return nil })
	f := fault.New("x", nil)
	l := &tcpLayer{faults: f}
	c, err := l.Dial(servers[0].trans.LocalAddr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	const delay = 100 * time.Millisecond
	f.Set(fault.Rules{Delay: delay})
	start := time.Now()
	if _, err := c.Write([]byte{0}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < delay {
		t.Fatalf("write took %v, less than the delay %v", took, delay)
	}
	f.Set(fault.Rules{Drop: 1})
	if _, err := c.Write([]byte{0}); !errors.Is(err, errFaultDrop) {
		t.Fatalf("write with drop 1: %v", err)
	}
	f.Heal()
	if _, err := c.Write([]byte{0}); err == nil {
		t.Fatal("a dropped connection still writes")
	}
}
