// BenchmarkState measures the shared state on one 3-server mesh plus one
// client peer, on loopback, side by side in one run:
//
//   - raft-apply-leader: an encoded Put handed straight to raft.Apply on the
//     leader (consensus.Server.ApplyRaw), the baseline: a raw raft commit;
//   - put-leader, put-follower, put-client: State().Put of a 64-byte value
//     from the leader, from a follower server (through the mesh to the
//     leader) and from a client peer;
//   - get-linearizable-follower: a follower's Get, which the leader answers
//     after confirming its leadership;
//   - get-stale-follower: a follower's Get with Stale(), from its replica;
//   - put-16-writers: 16 goroutines putting concurrently from a follower,
//     reported in writes/s, beside raft-apply-16-writers: 16 goroutines
//     handing encoded Puts to raft.Apply on the leader.
//
// Each latency sub-benchmark also reports its p50 and p99 in µs; at the
// end, BenchmarkState logs put-follower p50 and put-leader p50 over
// raft-apply-leader p50, and the target itself (a follower's write p50
// within 2x the leader's raw raft commit) from follower-vs-raft, which
// alternates the two op by op so that both see the same log and disk; without -v, it also prints that line, which a
// parent benchmark's log would not show. The leader must not change during
// the run.
// Run it with:
//
//	go test -run '^$' -bench BenchmarkState -benchtime 2000x ./peer/

package peer

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/consensus"
)

// stateBenchOpTimeout bounds one benchmarked operation.
const stateBenchOpTimeout = 10 * time.Second

// stateBenchWriters is how many goroutines put-16-writers runs.
const stateBenchWriters = 16

// stateBenchResult is the outcome of a sub-benchmark's last run.
type stateBenchResult struct {
	n        int
	p50, p99 float64 // µs
}

// stateBenchResults holds, by sub-benchmark name, the last run of each
// sub-benchmark of BenchmarkState, for its summary. The sub-benchmarks run
// one after the other, each finished before b.Run returns.
var stateBenchResults = map[string]stateBenchResult{}

// stateBench is the mesh the sub-benchmarks share.
type stateBench struct {
	peers    []*Peer
	leader   *Peer // a server
	follower *Peer // another server
	client   *Peer // not a server
	term     uint64
	value    []byte // 64 bytes
	raw      []byte // an encoded Put of value to bench/raw
}

// benchSetupTB is the parent benchmark, which owns the mesh (temp dirs,
// cleanups, logs), as seen from the sub-benchmark that builds it: failures
// go to the sub-benchmark, whose goroutine it runs on.
type benchSetupTB struct {
	testing.TB
	sub *testing.B
}

func (t benchSetupTB) Fail()                     { t.sub.Fail() }
func (t benchSetupTB) FailNow()                  { t.sub.FailNow() }
func (t benchSetupTB) Error(args ...any)         { t.sub.Helper(); t.sub.Error(args...) }
func (t benchSetupTB) Errorf(f string, a ...any) { t.sub.Helper(); t.sub.Errorf(f, a...) }
func (t benchSetupTB) Fatal(args ...any)         { t.sub.Helper(); t.sub.Fatal(args...) }
func (t benchSetupTB) Fatalf(f string, a ...any) { t.sub.Helper(); t.sub.Fatalf(f, a...) }

func BenchmarkState(b *testing.B) {
	clear(stateBenchResults)
	var (
		sb    *stateBench
		tried bool
	)
	// mesh builds the mesh on the first sub-benchmark that needs it, owned
	// by this (parent) benchmark: its cleanups close it once every
	// sub-benchmark is done.
	mesh := func(sub *testing.B) *stateBench {
		sub.Helper()
		if !tried {
			tried = true
			sb = newStateBench(benchSetupTB{TB: b, sub: sub})
		}
		if sb == nil {
			sub.Fatal("the benchmark mesh failed to start (see the first sub-benchmark)")
		}
		sb.checkLeader(sub)
		return sb
	}
	latency := func(name string, op func(sb *stateBench, ctx context.Context) error) {
		b.Run(name, func(b *testing.B) {
			sb := mesh(b)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				ctx, cancel := context.WithTimeout(context.Background(), stateBenchOpTimeout)
				start := time.Now()
				err := op(sb, ctx)
				lat = append(lat, time.Since(start))
				cancel()
				if err != nil {
					b.Fatalf("%s: %v", name, err)
				}
			}
			b.StopTimer()
			sb.checkLeader(b)
			reportLatency(b, name, lat)
		})
	}

	b.Run("follower-vs-raft", func(b *testing.B) {
		sb := mesh(b)
		raw := make([]time.Duration, 0, b.N)
		put := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			start := time.Now()
			if err := sb.leader.server.ApplyRaw(sb.raw); err != nil {
				b.Fatal(err)
			}
			raw = append(raw, time.Since(start))
			ctx, cancel := context.WithTimeout(context.Background(), stateBenchOpTimeout)
			start = time.Now()
			_, err := sb.follower.State().Put(ctx, "bench/k", sb.value)
			put = append(put, time.Since(start))
			cancel()
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		sb.checkLeader(b)
		r, f := percentiles(raw), percentiles(put)
		stateBenchResults["interleaved raft-apply-leader"], stateBenchResults["interleaved put-follower"] = r, f
		b.ReportMetric(r.p50, "raft-p50-µs")
		b.ReportMetric(f.p50, "follower-put-p50-µs")
		b.ReportMetric(f.p50/r.p50, "ratio")
	})
	latency("raft-apply-leader", func(sb *stateBench, _ context.Context) error {
		return sb.leader.server.ApplyRaw(sb.raw)
	})
	latency("put-leader", func(sb *stateBench, ctx context.Context) error {
		_, err := sb.leader.State().Put(ctx, "bench/k", sb.value)
		return err
	})
	latency("put-follower", func(sb *stateBench, ctx context.Context) error {
		_, err := sb.follower.State().Put(ctx, "bench/k", sb.value)
		return err
	})
	latency("put-client", func(sb *stateBench, ctx context.Context) error {
		_, err := sb.client.State().Put(ctx, "bench/k", sb.value)
		return err
	})
	latency("get-linearizable-follower", func(sb *stateBench, ctx context.Context) error {
		return sb.checkGet(sb.follower.State().Get(ctx, "bench/k"))
	})
	latency("get-stale-follower", func(sb *stateBench, ctx context.Context) error {
		return sb.checkGet(sb.follower.State().Get(ctx, "bench/k", Stale()))
	})
	concurrent := func(name string, op func(sb *stateBench, ctx context.Context, w int) error) {
		b.Run(name, func(b *testing.B) {
			sb := mesh(b)
			var (
				next int64 // ops handed out
				wg   sync.WaitGroup
				lats [stateBenchWriters][]time.Duration
				errs [stateBenchWriters]error
			)
			b.ResetTimer()
			for w := range stateBenchWriters {
				wg.Go(func() {
					for atomic.AddInt64(&next, 1) <= int64(b.N) {
						ctx, cancel := context.WithTimeout(context.Background(), stateBenchOpTimeout)
						start := time.Now()
						err := op(sb, ctx, w)
						lats[w] = append(lats[w], time.Since(start))
						cancel()
						if err != nil {
							errs[w] = err
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			for w, err := range errs {
				if err != nil {
					b.Fatalf("writer %d: %v", w, err)
				}
			}
			sb.checkLeader(b)
			reportLatency(b, name, slices.Concat(lats[:]...))
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
	concurrent("raft-apply-16-writers", func(sb *stateBench, _ context.Context, _ int) error {
		return sb.leader.server.ApplyRaw(sb.raw)
	})
	concurrent("put-16-writers", func(sb *stateBench, ctx context.Context, w int) error {
		_, err := sb.follower.State().Put(ctx, fmt.Sprintf("bench/w%02d", w), sb.value)
		return err
	})

	raw, ok := stateBenchResults["raft-apply-leader"]
	if !ok || raw.p50 == 0 {
		return // the baseline was not run (filtered out, or it failed)
	}
	summary := fmt.Sprintf("summary: raft-apply-leader p50 %.1f µs (n=%d)", raw.p50, raw.n)
	for _, name := range []string{"put-follower", "put-leader"} {
		if r, ok := stateBenchResults[name]; ok {
			summary += fmt.Sprintf("; %s p50 %.1f µs / raft-apply-leader p50 = %.2fx", name, r.p50, r.p50/raw.p50)
		}
	}
	ir, iok := stateBenchResults["interleaved raft-apply-leader"]
	if f, ok := stateBenchResults["interleaved put-follower"]; ok && iok {
		verdict := "MET"
		if f.p50 > 2*ir.p50 {
			verdict = "MISSED"
		}
		summary += fmt.Sprintf("; interleaved, op by op: put-follower p50 %.1f µs / raw raft p50 %.1f µs = %.2fx (target <= 2x: %s)",
			f.p50, ir.p50, f.p50/ir.p50, verdict)
	}
	b.Logf("%s", summary)
	if !testing.Verbose() {
		// A parent benchmark's log shows only with -v: print it anyway.
		fmt.Printf("BenchmarkState %s\n", summary)
	}
}

// newStateBench starts the mesh, finds its leader, and warms every path the
// sub-benchmarks take. It fails (and exits) the sub-benchmark of t if not.
func newStateBench(t benchSetupTB) *stateBench {
	t.Helper()
	peers := startStateMesh(t, 3, 1)
	servers, client := peers[:3], peers[3]
	var leader *Peer
	waitFor(t, 15*time.Second, "every peer naming the raft leader", func() bool {
		leader = nil
		for _, p := range servers {
			if p.server.Status().Leader {
				leader = p
			}
		}
		if leader == nil {
			return false
		}
		for _, p := range peers {
			if leaderOf(p) != leader.Name() {
				return false
			}
		}
		return true
	})
	sb := &stateBench{peers: peers, leader: leader, client: client, term: leader.server.Status().Term,
		value: bytes.Repeat([]byte("v"), 64)}
	for _, p := range servers {
		if p != leader {
			sb.follower = p
			break
		}
	}
	var err error
	sb.raw, err = consensus.Command{Op: consensus.OpPut, Key: "bench/raw", Value: sb.value}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	// Warm up: connections, leader hints, the leader's read barrier.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 20 {
		if err := leader.server.ApplyRaw(sb.raw); err != nil {
			t.Fatalf("warm-up raw apply: %v", err)
		}
		for _, p := range []*Peer{leader, sb.follower, client} {
			if _, err := p.State().Put(ctx, "bench/k", sb.value); err != nil {
				t.Fatalf("warm-up put from %s: %v", p.Name(), err)
			}
		}
		if err := sb.checkGet(sb.follower.State().Get(ctx, "bench/k")); err != nil {
			t.Fatalf("warm-up get: %v", err)
		}
	}
	waitFor(t, 5*time.Second, "the follower's replica catching up", func() bool {
		return sb.checkGet(sb.follower.State().Get(ctx, "bench/k", Stale())) == nil
	})
	return sb
}

// checkLeader fails b if the leader changed since the mesh started.
func (sb *stateBench) checkLeader(b *testing.B) {
	b.Helper()
	st := sb.leader.server.Status()
	if !st.Leader || st.Term != sb.term {
		b.Fatalf("the raft leader changed mid-run: %s started as leader in term %d, now leader=%v in term %d (leader %q); the figures would mix elections in",
			sb.leader.Name(), sb.term, st.Leader, st.Term, st.LeaderName)
	}
}

// checkGet checks a read of bench/k.
func (sb *stateBench) checkGet(e Entry, err error) error {
	if err != nil {
		return err
	}
	var v []byte
	if err := e.Decode(&v); err != nil {
		return err
	}
	if !bytes.Equal(v, sb.value) {
		return fmt.Errorf("get bench/k: %d bytes, not the %d written", len(v), len(sb.value))
	}
	return nil
}

// reportLatency reports the p50 and p99 of lat and records them for the
// summary of BenchmarkState.
func reportLatency(b *testing.B, name string, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	r := percentiles(lat)
	b.ReportMetric(r.p50, "p50-µs")
	b.ReportMetric(r.p99, "p99-µs")
	stateBenchResults[name] = r
}

// percentiles returns the p50 and p99 of lat, in µs.
func percentiles(lat []time.Duration) stateBenchResult {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		i := max(int(math.Ceil(p*float64(len(lat))))-1, 0)
		return float64(lat[i]) / float64(time.Microsecond)
	}
	return stateBenchResult{n: len(lat), p50: pct(0.50), p99: pct(0.99)}
}
