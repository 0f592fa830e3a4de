package experiment

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Verdicts of the linearizability check.
const (
	Linearizable = "ok"      // every key's history is linearizable
	Illegal      = "illegal" // some key's is not
	Undecided    = "unknown" // the check ran out of time before deciding
	NotChecked   = "none"    // the history has no state operations
)

// Linearizability is the verdict on the state operations of a history.
type Linearizability struct {
	Verdict string        `json:"verdict"` // Linearizable, Illegal, Undecided or NotChecked
	Ops     int           `json:"ops"`     // operations checked
	Keys    int           `json:"keys"`
	Illegal []string      `json:"illegal_keys,omitempty"`   // keys whose history is not linearizable
	Unknown []string      `json:"undecided_keys,omitempty"` // keys the check gave up on
	Elapsed time.Duration `json:"elapsed_ns"`
	// Visualization is porcupine's HTML view of the illegal keys'
	// histories, if Options.Visualize named a file; VisualizeErr says why
	// it could not be written.
	Visualization string `json:"visualization,omitempty"`
	VisualizeErr  string `json:"visualize_err,omitempty"`
}

// checkLinearizable checks each key's history with porcupine, spending at
// most timeout in all.
func checkLinearizable(ops []Op, timeout time.Duration, visualize string) Linearizability {
	began := time.Now()
	all := StateOperations(ops)
	nm := StateModel()
	parts := nm.Partition(all)
	res := Linearizability{Verdict: NotChecked, Ops: len(all), Keys: len(parts)}
	if len(all) == 0 {
		return res
	}
	nm.Partition = nil
	model := nm.ToModel()
	deadline := began.Add(timeout)
	verdicts := make([]porcupine.CheckResult, len(parts))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, part := range parts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			left := time.Until(deadline)
			if left <= 0 {
				verdicts[i] = porcupine.Unknown
				return
			}
			verdicts[i] = porcupine.CheckOperationsTimeout(model, part, left)
		}()
	}
	wg.Wait()
	var bad []porcupine.Operation
	for i, v := range verdicts {
		key := parts[i][0].Input.(kvInput).Key
		switch v {
		case porcupine.Illegal:
			res.Illegal = append(res.Illegal, key)
			bad = append(bad, parts[i]...)
		case porcupine.Unknown:
			res.Unknown = append(res.Unknown, key)
		}
	}
	slices.Sort(res.Illegal)
	slices.Sort(res.Unknown)
	switch {
	case len(res.Illegal) > 0:
		res.Verdict = Illegal
		if visualize != "" {
			res.Visualization, res.VisualizeErr = writeVisualization(bad, visualize, timeout)
		}
	case len(res.Unknown) > 0:
		res.Verdict = Undecided
	default:
		res.Verdict = Linearizable
	}
	res.Elapsed = time.Since(began)
	return res
}

// writeVisualization writes porcupine's view of the illegal histories.
func writeVisualization(ops []porcupine.Operation, path string, timeout time.Duration) (string, string) {
	nm := StateModel()
	model := nm.ToModel()
	_, info := porcupine.CheckOperationsVerbose(model, ops, timeout)
	if err := porcupine.VisualizePath(model, info, path); err != nil {
		return "", fmt.Sprintf("experiment: visualize: %v", err)
	}
	return path, ""
}
