package experiment

import (
	"slices"
	"time"
)

// Durability is the check that acknowledged writes survive: each key's
// last acknowledged write must be what a final read finds, unless a write
// that may have come after it (one of unknown outcome, or a concurrent
// acknowledged one) explains what it finds.
type Durability struct {
	Keys   int         `json:"keys"`                  // keys with acknowledged writes checked
	Unread []string    `json:"unread_keys,omitempty"` // keys with acknowledged writes but no final read
	Lost   []LostWrite `json:"lost,omitempty"`
}

// LostWrite is a key whose last acknowledged write the final read does not
// show.
type LostWrite struct {
	Key    string `json:"key"`
	Kind   string `json:"kind"`             // of the lost write: put, cas or delete
	Want   string `json:"want,omitempty"`   // the value it wrote
	Rev    int64  `json:"rev,omitempty"`    // its revision
	Got    string `json:"got,omitempty"`    // what the final read found
	Absent bool   `json:"absent,omitempty"` // the final read found no key
}

// finalRead is a key's value at the end of the history.
type finalRead struct {
	value  string
	absent bool
}

// checkDurability checks ops' acknowledged writes against final, the
// value of every key at the end (a key missing from it is absent); a nil
// final is taken from the gets that began after every write of their key
// had returned.
func checkDurability(ops []Op, final map[string]string) Durability {
	byKey := make(map[string][]Op)
	var keys []string
	for _, op := range ops {
		if !isState(op.Kind) {
			continue
		}
		if byKey[op.Key] == nil {
			keys = append(keys, op.Key)
		}
		byKey[op.Key] = append(byKey[op.Key], op)
	}
	slices.Sort(keys)
	var d Durability
	for _, k := range keys {
		kops := byKey[k]
		last := lastAcked(kops)
		if len(last) == 0 {
			continue
		}
		got, ok := finalOf(k, kops, final)
		if !ok {
			d.Unread = append(d.Unread, k)
			continue
		}
		d.Keys++
		if !explains(got, last, kops) {
			w := slices.MaxFunc(last, func(a, b Op) int { return a.End.Compare(b.End) })
			d.Lost = append(d.Lost, LostWrite{Key: k, Kind: w.Kind, Want: writes(w), Rev: w.Rev,
				Got: got.value, Absent: got.absent})
		}
	}
	return d
}

func isWrite(op Op) bool { return op.Kind == "put" || op.Kind == "cas" || op.Kind == "delete" }

// writes returns the value op leaves: "" for a delete.
func writes(op Op) string {
	if op.Kind == "delete" {
		return ""
	}
	return op.Value
}

// lastAcked returns the acknowledged writes of a key that no other
// acknowledged write certainly followed: by a higher revision, or by
// starting after it returned.
func lastAcked(ops []Op) []Op {
	var maxRev int64
	var maxStart time.Time
	for _, op := range ops {
		if isWrite(op) && op.Outcome == OK {
			maxRev = max(maxRev, revOf(op))
			if op.Start.After(maxStart) {
				maxStart = op.Start
			}
		}
	}
	var last []Op
	for _, op := range ops {
		if isWrite(op) && op.Outcome == OK && (revOf(op) == 0 || revOf(op) == maxRev) && !maxStart.After(op.End) {
			last = append(last, op)
		}
	}
	if len(last) == 0 { // revisions contradict real time: keep the highest
		for _, op := range ops {
			if isWrite(op) && op.Outcome == OK && revOf(op) == maxRev {
				last = append(last, op)
			}
		}
	}
	return last
}

// revOf returns the revision a write is known to have (deletes have none);
// one without is not ordered by revision.
func revOf(op Op) int64 {
	if op.Kind == "delete" || op.Rev <= 0 {
		return 0
	}
	return op.Rev
}

// explains reports whether the final read got can be the effect of one of
// the last acknowledged writes, or of a write of unknown outcome, which may
// have taken effect at any time.
func explains(got finalRead, last, ops []Op) bool {
	match := func(w Op) bool {
		if w.Kind == "delete" {
			return got.absent
		}
		return !got.absent && w.Value == got.value
	}
	if slices.ContainsFunc(last, match) {
		return true
	}
	return slices.ContainsFunc(ops, func(w Op) bool { return isWrite(w) && w.Outcome == Unknown && match(w) })
}

// finalOf returns key's final value: from final if given, else from the
// last ok get that began after every write of the key had returned.
func finalOf(key string, ops []Op, final map[string]string) (finalRead, bool) {
	if final != nil {
		v, ok := final[key]
		return finalRead{value: v, absent: !ok}, true
	}
	var quiet time.Time // when the key's last write returned
	for _, op := range ops {
		if isWrite(op) && op.End.After(quiet) {
			quiet = op.End
		}
	}
	var read *Op
	for i, op := range ops {
		if op.Kind == "get" && op.Outcome == OK && op.Start.After(quiet) &&
			(read == nil || !op.Start.Before(read.Start)) {
			read = &ops[i]
		}
	}
	if read == nil {
		return finalRead{}, false
	}
	return finalRead{value: read.Value, absent: read.Rev == 0}, true
}
