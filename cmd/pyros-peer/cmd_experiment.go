package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pyros-mesh/pyros/experiment"
)

func cmdExperiment(args []string, out, errw io.Writer) int {
	fs := newFlagSet("experiment", "FILE [--out DIR]",
		"Run a fault-tolerance experiment described in a TOML FILE (see examples/experiments): start a local\n"+
			"mesh, run a workload against it while injecting faults on a schedule, record every operation, and\n"+
			"write report.json, summary.txt, plot.svg and history.jsonl. Exit 1 if a check failed.")
	outDir := fs.String("out", "", "where the results go (default: ./experiment-NAME-TIME)")
	pos, code, ok := parse(fs, args, errw, 1, 1)
	if !ok {
		return code
	}
	s, err := experiment.ReadScenario(pos[0])
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer experiment:", err)
		return exitUsage
	}
	dir := *outDir
	if dir == "" {
		slug := strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r
			}
			return '-'
		}, strings.ToLower(s.Name))
		dir = fmt.Sprintf("experiment-%s-%s", slug, time.Now().Format("20060102-150405"))
	}
	dir, _ = filepath.Abs(dir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(out, "experiment %q, results in %s\n", s.Name, dir)
	res, err := experiment.Run(ctx, s, experiment.RunConfig{Dir: dir, Progress: out})
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer experiment:", err)
		return exitFail
	}
	summary, _ := os.ReadFile(filepath.Join(dir, "summary.txt"))
	fmt.Fprintf(out, "\n%s\nresults: %s/{summary.txt,report.json,plot.svg,history.jsonl}\n", summary, dir)
	if len(res.Problems) > 0 {
		return exitFail
	}
	return exitOK
}
