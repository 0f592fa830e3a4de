package experiment

import (
	"fmt"
	"time"
)

// Options tunes Analyze. Zero fields take DefaultOptions' values.
type Options struct {
	// CheckTimeout bounds the linearizability check; past it, the keys not
	// yet decided are Undecided. Default 30s: porcupine decides a few
	// thousand ops per key in well under a second, unless the ops overlap
	// heavily, which more time seldom cures.
	CheckTimeout time.Duration
	// Deadline is the context deadline the runner gave each op; an op that
	// took longer than Deadline + Slack ignored it and is counted hung.
	// Default 0: hung ops are not counted.
	Deadline time.Duration
	// Slack is how long past its deadline an op may return before it is
	// counted hung. Default 1s: a reply in flight, scheduling and GC
	// pauses of a loaded test machine.
	Slack time.Duration
	// RecoveryRun is how many consecutive answered ops make a recovery.
	// Default 5: fewer mistake a lucky op for recovery, more make the
	// figure depend on the load's rate.
	RecoveryRun int
	// Visualize, if set, names an HTML file to write porcupine's view of
	// the non-linearizable keys' histories to; drawing it checks those
	// keys again, within CheckTimeout.
	Visualize string
}

// DefaultOptions returns the options Analyze uses for zero fields.
func DefaultOptions() Options {
	return Options{CheckTimeout: 30 * time.Second, Slack: time.Second, RecoveryRun: 5}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = d.CheckTimeout
	}
	if o.Slack <= 0 {
		o.Slack = d.Slack
	}
	if o.RecoveryRun <= 0 {
		o.RecoveryRun = d.RecoveryRun
	}
	return o
}

// Report is the analysis of one experiment's history.
type Report struct {
	Start    time.Time     `json:"start"`       // when the first op started
	Duration time.Duration `json:"duration_ns"` // from then to the last op's end
	Ops      int           `json:"ops"`
	// Throughput and Latency are those of ok requests: every kind but
	// publish and receive.
	Throughput float64              `json:"throughput"`
	Latency    Latency              `json:"latency"`
	HungAfter  time.Duration        `json:"hung_after_ns,omitempty"` // Options.Deadline + Slack, if set
	Kinds      map[string]KindStats `json:"kinds"`

	Linearizability Linearizability `json:"linearizability"`
	Durability      Durability      `json:"durability"`
	Streams         []StreamStats   `json:"streams,omitempty"`
	// UnmatchedReceipts counts receive ops of a message no publish op sent.
	UnmatchedReceipts int             `json:"unmatched_receipts,omitempty"`
	Recovery          []FaultRecovery `json:"recovery,omitempty"`
}

// Analyze checks a history: ops in any order, the faults injected during
// it, and final, each state key's value read once the workload stopped
// and the faults healed (a key missing from it was found absent). With a
// nil final, the last gets of each key that began after its writes had
// returned serve as final reads.
func Analyze(ops []Op, faults []Fault, final map[string]string, opts Options) Report {
	opts = opts.withDefaults()
	ops = append([]Op(nil), ops...)
	sortByStart(ops)
	r := Report{Ops: len(ops)}
	if opts.Deadline > 0 {
		r.HungAfter = opts.Deadline + opts.Slack
	}
	var reqs []time.Duration
	var okReqs int
	for i, op := range ops {
		if i == 0 || op.Start.Before(r.Start) {
			r.Start = op.Start
		}
		r.Duration = max(r.Duration, op.End.Sub(r.Start))
		if op.request() && op.Outcome == OK {
			okReqs++
			reqs = append(reqs, op.duration())
		}
	}
	r.Throughput = perSecond(okReqs, r.Duration)
	r.Latency = latency(reqs)
	r.Kinds = kindStats(ops, r.Duration, r.HungAfter)
	r.Linearizability = checkLinearizable(ops, opts.CheckTimeout, opts.Visualize)
	r.Durability = checkDurability(ops, final)
	r.Streams, r.UnmatchedReceipts = checkStreams(ops)
	r.Recovery = checkRecovery(ops, faults, opts.RecoveryRun)
	return r
}

// Problems lists what the history shows to be wrong, not merely slow: a
// non-linearizable state, lost acknowledged writes, hung ops, receipts of
// messages never sent. Lossy streams and failed ops are not problems.
func (r Report) Problems() []string {
	var ps []string
	if l := r.Linearizability; l.Verdict == Illegal {
		ps = append(ps, fmt.Sprintf("state history not linearizable on %d of %d keys: %s",
			len(l.Illegal), l.Keys, listNames(l.Illegal, 10)))
	}
	if n := len(r.Durability.Lost); n > 0 {
		ps = append(ps, fmt.Sprintf("%d acknowledged writes lost", n))
	}
	hung := 0
	for _, k := range r.Kinds {
		hung += k.Hung
	}
	if hung > 0 {
		ps = append(ps, fmt.Sprintf("%d ops hung past their deadline", hung))
	}
	if r.UnmatchedReceipts > 0 {
		ps = append(ps, fmt.Sprintf("%d messages received that no publish sent", r.UnmatchedReceipts))
	}
	return ps
}
