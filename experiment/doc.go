// Package experiment is the analysis half of pyros's Jepsen-style
// experiments. A runner drives workloads against a mesh (state reads and
// writes, service calls, streams) while it injects faults (kills,
// partitions, pauses), records every operation as its client saw it, and
// hands the history to this package, which tells:
//
//   - whether the shared state stayed linearizable (checked with porcupine
//     against a model of the store's keys and revisions, writes of unknown
//     outcome taking effect or not);
//   - whether acknowledged writes survived, against a final read of every
//     key;
//   - how many ops of each kind succeeded, failed or ended unknown, how
//     many ignored their deadline, their throughput and latency;
//   - what each subscriber received of each publisher's messages: loss,
//     gaps, duplicates, reordering;
//   - how long after each fault began the first op failed, and how long
//     after it began and ended ops succeeded again.
//
// Record with a Recorder, from any number of goroutines; each Op says
// who did what, when, and whether it happened (OK), certainly did not
// (Fail) or may have (Unknown); Op.Done fills the outcome from the error a
// pyros call returned:
//
//	f, _ := os.Create("history.jsonl")
//	rec := experiment.NewRecorder(f) // nil: in memory only
//
//	op := experiment.Op{Client: "c1", Kind: "cas", Key: k, Value: v, Prev: rev, Start: time.Now()}
//	op.Rev, err = p.State().CompareAndSwap(ctx, k, rev, v)
//	rec.Add(op.Done(err))
//
// Once the workload has stopped and the faults healed, read every key
// written, then analyse:
//
//	rec.Flush()
//	ops := rec.Ops()
//	r := experiment.Analyze(ops, faults, final, experiment.Options{Deadline: 2 * time.Second})
//	fmt.Print(r.Summary())           // for a terminal
//	json.NewEncoder(out).Encode(r)    // for a machine
//	experiment.Plot(ops, faults, svg) // for a browser
//	if ps := r.Problems(); len(ps) > 0 {
//		// a bug: not linearizable, lost writes, hung calls, phantom messages
//	}
//
// The state checks need each written value to be unique, keys that did
// not exist before the history began, and linearizable reads only (no
// Stale reads). A history read back from a file (ReadOps) analyses the
// same.
package experiment
