package experiment_test

import (
	"fmt"
	"time"

	"github.com/pyros-mesh/pyros/experiment"
)

func ExampleAnalyze() {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	rec := experiment.NewRecorder(nil)
	rec.Add(experiment.Op{Client: "c1", Kind: "put", Key: "k", Value: "a", Rev: 1, Start: at(0), End: at(5), Outcome: experiment.OK})
	rec.Add(experiment.Op{Client: "c2", Kind: "put", Key: "k", Value: "b", Start: at(10), End: at(2010),
		Outcome: experiment.Unknown, Err: "context deadline exceeded"})
	rec.Add(experiment.Op{Client: "c1", Kind: "get", Key: "k", Value: "b", Rev: 2, Start: at(2100), End: at(2105), Outcome: experiment.OK})
	faults := []experiment.Fault{{Name: "kill leader", Start: at(8), End: at(1500)}}

	r := experiment.Analyze(rec.Ops(), faults, map[string]string{"k": "b"}, experiment.Options{Deadline: 2 * time.Second})
	fmt.Println("linearizability:", r.Linearizability.Verdict)
	fmt.Println("lost writes:", len(r.Durability.Lost))
	fmt.Println("first failure after the fault began:", r.Recovery[0].FirstFailure)
	fmt.Println("problems:", r.Problems())
	// Output:
	// linearizability: ok
	// lost writes: 0
	// first failure after the fault began: 2.002s
	// problems: []
}
