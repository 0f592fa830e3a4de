package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/experiment"
)

// TestExperimentSuite runs pyros's own fault-tolerance suite: every
// scenario of examples/experiments but the soak, through `pyros-peer
// experiment`, as a user would. Each must pass its checks: no
// acknowledged write lost, the state history linearizable, no op past its
// deadline. The recovery times are logged per fault.
func TestExperimentSuite(t *testing.T) {
	files, err := filepath.Glob("../../examples/experiments/*.toml")
	if err != nil || len(files) < 7 {
		t.Fatalf("scenarios: %v, %v", files, err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".toml")
		if name == "soak" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "results")
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, peerBin, "experiment", f, "--out", out)
			cmd.Env = append(os.Environ(), "PYROS_LAN=off")
			b, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("pyros-peer experiment %s: %v\n%s", f, err, b)
			}
			var res experiment.Result
			raw, err := os.ReadFile(filepath.Join(out, "report.json"))
			if err == nil {
				err = json.Unmarshal(raw, &res)
			}
			if err != nil {
				t.Fatalf("report.json: %v", err)
			}
			if len(res.Problems) > 0 {
				t.Fatalf("problems: %v", res.Problems)
			}
			for _, art := range []string{"summary.txt", "plot.svg", "history.jsonl"} {
				if fi, err := os.Stat(filepath.Join(out, art)); err != nil || fi.Size() == 0 {
					t.Errorf("%s missing or empty", art)
				}
			}
			r := res.Report
			t.Logf("%d ops, linearizability %s, %d acknowledged writes lost", r.Ops, r.Linearizability.Verdict, len(r.Durability.Lost))
			summary, _ := os.ReadFile(filepath.Join(out, "summary.txt"))
			if i := strings.Index(string(summary), "faults ("); i >= 0 {
				t.Logf("%s", strings.SplitN(string(summary[i:]), "problems:", 2)[0])
			}
		})
	}
}
