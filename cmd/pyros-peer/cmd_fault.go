package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pyros-mesh/pyros/fault"
	"github.com/pyros-mesh/pyros/launcher"
)

const faultUsage = `kill|pause|resume|restart PEER
       pyros-peer fault partition A,B / C,D      (peers named in different groups exchange nothing)
       pyros-peer fault delay PEER 50ms          (PEER's outgoing traffic waits this long)
       pyros-peer fault drop PEER 20%            (PEER loses this share of its outgoing messages)
       pyros-peer fault heal                     (undo partitions, delays and drops)
       pyros-peer fault status`

func cmdFault(args []string, out, errw io.Writer) int {
	fs := newFlagSet("fault", faultUsage,
		"Break a running local mesh, reversibly. kill, pause, resume and restart act on the processes of\n"+
			"`pyros-peer up`; partition, delay and drop act inside every local peer run with --faults\n"+
			"(up's peers are), on its links, gossip and raft traffic, with no root needed. Every fault is\n"+
			"logged with a timestamp.")
	dir := upDirFlag(fs)
	var pf peerFlags
	pf.register(fs)
	pos, code, ok := parse(fs, args, errw, 1, 64)
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	switch op := pos[0]; op {
	case "kill", "pause", "resume", "restart":
		if len(pos) != 2 {
			return usageErr(fs, errw, op+" takes one PEER")
		}
		_, err = launcher.Control(ctx, *dir, launcher.Request{Op: op, Peer: pos[1]})
		if err == nil {
			fmt.Fprintf(out, "%s %s %s\n", stamp(), op, pos[1])
		}
	case "partition", "heal":
		if real, code := netnsFault(ctx, *dir, op, pos[1:], fs, out, errw); real {
			return code
		}
		return networkFault(ctx, op, pos[1:], &pf, fs, out, errw)
	case "delay", "drop", "status":
		return networkFault(ctx, op, pos[1:], &pf, fs, out, errw)
	default:
		return usageErr(fs, errw, fmt.Sprintf("unknown fault %q", op))
	}
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer fault:", err)
		return exitFail
	}
	return exitOK
}

func stamp() string { return time.Now().UTC().Format(time.RFC3339Nano) }

func usageErr(fs *flag.FlagSet, errw io.Writer, msg string) int {
	fmt.Fprintln(errw, "pyros-peer fault:", msg)
	fs.Usage()
	return exitUsage
}

// networkFault sets fault rules on the local peers run with --faults,
// through their control sockets in the registry directory.
func networkFault(ctx context.Context, op string, args []string, pf *peerFlags, fs *flag.FlagSet, out, errw io.Writer) int {
	socks, err := fault.Sockets(pf.registry)
	if err != nil || len(socks) == 0 {
		fmt.Fprintf(errw, "pyros-peer fault: no peer run with --faults in %s (pyros-peer up runs them so)\n", pf.registry)
		return exitFail
	}
	names := slices.Sorted(maps.Keys(socks))
	change := map[string]func(*fault.Rules){} // per peer
	var what string
	switch op {
	case "status":
		return faultStatus(ctx, names, socks, out, errw)
	case "heal":
		for _, n := range names {
			change[n] = func(r *fault.Rules) { *r = fault.Rules{} }
		}
		what = "heal"
	case "partition":
		groups, err := parseGroups(args)
		if err != nil {
			return usageErr(fs, errw, err.Error())
		}
		for _, n := range names {
			change[n] = func(r *fault.Rules) { r.Partition = groups }
		}
		what = fmt.Sprintf("partition %v", groups)
	case "delay", "drop":
		if len(args) != 2 {
			return usageErr(fs, errw, op+" takes PEER and a value")
		}
		if socks[args[0]] == "" {
			fmt.Fprintf(errw, "pyros-peer fault: no local peer %q runs with --faults (known: %s)\n", args[0], strings.Join(names, ", "))
			return exitFail
		}
		set, err := parseAmount(op, args[1])
		if err != nil {
			return usageErr(fs, errw, err.Error())
		}
		change[args[0]] = set
		what = op + " " + args[0] + " " + args[1]
	}
	failed := 0
	for _, n := range slices.Sorted(maps.Keys(change)) {
		r, err := fault.Get(ctx, socks[n])
		if err == nil {
			change[n](&r)
			_, err = fault.Apply(ctx, socks[n], r)
		}
		if err != nil {
			fmt.Fprintf(errw, "pyros-peer fault: %s: %v\n", n, err)
			failed++
		}
	}
	fmt.Fprintf(out, "%s %s: applied to %d of %d peers\n", stamp(), what, len(change)-failed, len(change))
	if failed > 0 {
		return exitFail
	}
	return exitOK
}

// parseGroups reads "A,B / C,D" (given as one or several arguments).
func parseGroups(args []string) ([][]string, error) {
	var groups [][]string
	for _, g := range strings.Split(strings.Join(args, " "), "/") {
		names := strings.FieldsFunc(g, func(r rune) bool { return r == ',' || r == ' ' })
		if len(names) == 0 {
			return nil, fmt.Errorf("partition needs groups of peer names: A,B / C,D")
		}
		groups = append(groups, names)
	}
	if len(groups) < 2 {
		return nil, fmt.Errorf("partition needs at least two groups: A,B / C,D")
	}
	return groups, nil
}

// parseAmount reads a delay (50ms) or a drop rate (20% or 0.2).
func parseAmount(op, v string) (func(*fault.Rules), error) {
	if op == "delay" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > fault.MaxDelay {
			return nil, fmt.Errorf("delay must be a duration from 0 to %v, like 50ms", fault.MaxDelay)
		}
		return func(r *fault.Rules) { r.Delay = d }, nil
	}
	p, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
	if strings.HasSuffix(v, "%") {
		p /= 100
	}
	if err != nil || p < 0 || p > 1 {
		return nil, fmt.Errorf("drop must be a share from 0 to 100%%, like 20%%")
	}
	return func(r *fault.Rules) { r.Drop = p }, nil
}

// faultStatus prints each local peer's rules.
func faultStatus(ctx context.Context, names []string, socks map[string]string, out, errw io.Writer) int {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tPARTITION\tDELAY\tDROP")
	code := exitOK
	for _, n := range names {
		r, err := fault.Get(ctx, socks[n])
		if err != nil {
			fmt.Fprintf(errw, "pyros-peer fault: %s: %v\n", n, err)
			code = exitFail
			continue
		}
		part := "-"
		if len(r.Partition) > 0 {
			part = fmt.Sprint(r.Partition)
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%.0f%%\n", n, part, r.Delay, r.Drop*100)
	}
	tw.Flush()
	return code
}

// netnsFault partitions or heals the real network of a mesh that `up
// --netns` runs, and reports whether there is one.
func netnsFault(ctx context.Context, dir, op string, args []string, fs *flag.FlagSet, out, errw io.Writer) (bool, int) {
	st, err := launcher.Control(ctx, dir, launcher.Request{Op: "status"})
	if err != nil || len(st.Peers) == 0 || st.Peers[0].Netns == "" {
		return false, 0
	}
	req := launcher.Request{Op: "heal"}
	what := "heal"
	if op == "partition" {
		groups, err := parseGroups(args)
		if err != nil {
			return true, usageErr(fs, errw, err.Error())
		}
		req = launcher.Request{Op: "partition", Groups: groups}
		what = fmt.Sprintf("partition %v", groups)
	}
	if _, err := launcher.Control(ctx, dir, req); err != nil {
		fmt.Fprintln(errw, "pyros-peer fault:", err)
		return true, exitFail
	}
	fmt.Fprintf(out, "%s %s: applied to the network namespaces' switch\n", stamp(), what)
	return true, exitOK
}
