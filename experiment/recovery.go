package experiment

import (
	"slices"
	"time"
)

// Never is a Recovery duration for what did not come to pass: no failure,
// or no recovery before the history ended.
const Never time.Duration = -1

// Recovery is how requests (every kind but publish and receive) fared
// through a fault. A fault's period runs from its start until the next
// fault starts, or the history ends, but at least until the fault ends;
// its ops are those that started in it, and for the first fault those in
// flight when it began. Recovered can be less than FirstFailure when an op
// in flight failed late while new ones already succeeded.
// Recovered means the first op of a run of Options.RecoveryRun consecutive
// answered ops (by Start) succeeded; a swap refused for a conflict counts
// as answered.
type Recovery struct {
	Ops      int `json:"ops"`      // ops of the period
	Failures int `json:"failures"` // of them, failed or of unknown outcome
	// FirstFailure is from the fault's start to the end of the first op
	// that failed; Never if none did.
	FirstFailure time.Duration `json:"first_failure_ns"`
	// Recovered is from the fault's start to recovery after the first
	// failure; 0 if none failed, Never if the run never came.
	Recovered time.Duration `json:"recovered_ns"`
	// AfterEnd is from the fault's end to recovery among the ops started
	// after it; Never if the fault lasted to the end, or the run never came.
	AfterEnd time.Duration `json:"after_end_ns"`
	// Stalled is the longest time, from the fault's start to the first
	// answer after its end, in which no op of the period was answered: how
	// long the fault made the system unavailable, even when its ops only
	// waited rather than failed. Never if no op of the period was answered.
	Stalled time.Duration `json:"stalled_ns"`
}

// FaultRecovery is how requests fared through one fault: all together and
// by kind.
type FaultRecovery struct {
	Fault Fault `json:"fault"`
	Recovery
	ByKind map[string]Recovery `json:"by_kind,omitempty"`
}

func checkRecovery(ops []Op, faults []Fault, run int) []FaultRecovery {
	var reqs []Op
	kinds := make(map[string][]Op)
	var last time.Time
	for _, op := range ops {
		if op.End.After(last) {
			last = op.End
		}
		if op.request() {
			reqs = append(reqs, op)
			kinds[op.Kind] = append(kinds[op.Kind], op)
		}
	}
	faults = slices.Clone(faults)
	slices.SortStableFunc(faults, func(a, b Fault) int { return a.Start.Compare(b.Start) })
	var out []FaultRecovery
	var from time.Time // the previous fault's period's end
	for i, f := range faults {
		until := last.Add(1) // past every op
		if i+1 < len(faults) {
			until = faults[i+1].Start
		}
		if !f.End.IsZero() && f.End.After(until) {
			until = f.End
		}
		fr := FaultRecovery{Fault: f, Recovery: recovery(reqs, f, from, until, run)}
		for k, kops := range kinds {
			if fr.ByKind == nil {
				fr.ByKind = make(map[string]Recovery)
			}
			fr.ByKind[k] = recovery(kops, f, from, until, run)
		}
		out = append(out, fr)
		from = until
	}
	return out
}

// recovery measures ops, sorted by Start, through fault f: those started
// from from and before until, and ended after the fault began.
func recovery(ops []Op, f Fault, from, until time.Time, run int) Recovery {
	r := Recovery{FirstFailure: Never, AfterEnd: Never}
	first := -1 // the earliest started op that failed in the period
	var answered []time.Time
	for i, op := range ops {
		if op.End.Before(f.Start) || !op.Start.Before(until) || op.Start.Before(from) {
			continue
		}
		r.Ops++
		if op.answered() {
			answered = append(answered, op.End)
			continue
		}
		r.Failures++
		if d := op.End.Sub(f.Start); r.FirstFailure == Never || d < r.FirstFailure {
			r.FirstFailure = d
		}
		if first < 0 {
			first = i
		}
	}
	if first >= 0 {
		r.Recovered = since(f.Start, ops, first+1, run)
	}
	end := f.End
	if end.IsZero() {
		end = until
	}
	r.Stalled = stalled(f.Start, end, answered)
	if !f.End.IsZero() {
		i, _ := slices.BinarySearchFunc(ops, f.End, func(op Op, t time.Time) int { return op.Start.Compare(t) })
		r.AfterEnd = since(f.End, ops, i, run)
	}
	return r
}

// since returns the time from t to the end of the first op, from ops[i]
// on, that begins a run of consecutive answered ops; Never if none does.
// Ops that ended before t are not counted.
func since(t time.Time, ops []Op, i, run int) time.Duration {
	n, begin := 0, 0
	for j := i; j < len(ops); j++ {
		switch {
		case ops[j].End.Before(t):
			continue
		case !ops[j].answered():
			n = 0
			continue
		}
		if n == 0 {
			begin = j
		}
		if n++; n == run {
			return ops[begin].End.Sub(t)
		}
	}
	return Never
}

// stalled is the longest gap between answer times from start, through
// the fault's end, to the first answer after it: later quiet (the runner
// stops its load, then reads every key back) is not the fault's doing.
func stalled(start, end time.Time, answered []time.Time) time.Duration {
	if len(answered) == 0 {
		return Never
	}
	slices.SortFunc(answered, time.Time.Compare)
	longest, prev := time.Duration(0), start
	for _, t := range answered {
		if !prev.Before(end) && prev != start {
			break
		}
		longest = max(longest, t.Sub(prev))
		prev = t
	}
	return longest
}
