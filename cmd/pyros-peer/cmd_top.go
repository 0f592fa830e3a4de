package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/pyros-mesh/pyros/ui"
)

func cmdTop(args []string, out, errw io.Writer) int {
	fs := newFlagSet("top", "[--interval 1s] [--once] [peer flags]",
		"Show the mesh live in the terminal: members with their state, role and links (dead and cut-off\n"+
			"ones too), services with their request rates and latencies, streams with their message rates\n"+
			"and drops, refreshed in place. The same picture as the map of pyros-peer ui.")
	var pf peerFlags
	pf.register(fs)
	interval := fs.Duration("interval", time.Second, "refresh period")
	once := fs.Bool("once", false, "print one picture (rates over one interval) and exit")
	if _, code, ok := parse(fs, args, errw, 0, 0); !ok {
		return code
	}
	if *interval < 100*time.Millisecond {
		fmt.Fprintln(errw, "pyros-peer top: --interval must be 100ms or more")
		return exitUsage
	}
	p, code := queryPeer("top", &pf, errw, false)
	if p == nil {
		return code
	}
	defer p.Close()
	sampler, err := ui.NewSampler(p, ui.Config{ObserveTimeout: min(time.Second, *interval)})
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer top:", err)
		return exitFail
	}
	defer sampler.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sampler.Snapshot(ctx) // the counters that the first rates start from
	t := time.NewTicker(*interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return exitOK
		case <-t.C:
		}
		snap := sampler.Snapshot(ctx)
		if !*once {
			fmt.Fprint(out, "\x1b[H\x1b[2J") // home, clear
		}
		drawTop(out, snap)
		if *once {
			return exitOK
		}
	}
}

// drawTop prints one picture of the mesh; the peer running top is left out.
func drawTop(out io.Writer, snap ui.Snapshot) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "pyros mesh at %s, seen from %s%s\n\n", snap.At.Format("15:04:05"), snap.Self, partitionNote(snap))
	fmt.Fprintln(tw, "MEMBER\tSTATE\tROLE\tUP\tSEES\tLINKS TO / WHY")
	members := 0
	for _, v := range snap.Peers {
		if !v.Self && v.Since.IsZero() {
			members++
		}
	}
	for _, v := range snap.Peers {
		if v.Self {
			continue
		}
		up, sees, last := "-", "-", v.Reason
		if v.State == ui.StateAlive {
			up = (time.Duration(v.Uptime) * time.Second).String()
			sees = fmt.Sprintf("%d/%d", len(slices.DeleteFunc(slices.Clone(v.Sees), func(s string) bool { return s == snap.Self })), members)
			last = strings.Join(v.Links, " ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, strings.ReplaceAll(v.State, " ", "-"), roleOf(v), up, sees, last)
	}
	fmt.Fprintln(tw, "\nSERVICE\tPROVIDERS\tREQ/S\tERR/S\tMEAN")
	for _, s := range snap.Services {
		var names []string
		var rate, errRate, weighted float64
		for _, pv := range s.Providers {
			names = append(names, pv.Peer)
			rate, errRate, weighted = rate+pv.Rate, errRate+pv.ErrorRate, weighted+pv.Rate*pv.MeanMs
		}
		mean := "-"
		if rate > 0 {
			mean = time.Duration(weighted / rate * 1e6).Round(time.Microsecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%s\n", s.Name, strings.Join(names, " "), rate, errRate, mean)
	}
	fmt.Fprintln(tw, "\nSTREAM\tPUBLISHERS\tSUBSCRIBERS\tSENT/S\tRECV/S\tDROPPED/S")
	for _, st := range snap.Streams {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f\t%.1f\t%.1f\n", st.Name, strings.Join(st.Publishers, " "), strings.Join(st.Subscribers, " "),
			st.Rate, st.ReceivedRate, st.DropRate)
	}
	tw.Flush()
}

// roleOf names a member's roles: leader or server, and ros-gateway.
func roleOf(v ui.PeerView) string {
	var roles []string
	if v.Role != "" {
		roles = append(roles, v.Role)
	}
	if v.Gateway {
		roles = append(roles, "ros-gateway")
	}
	if len(roles) == 0 {
		return "-"
	}
	return strings.Join(roles, ",")
}

// partitionNote says how the mesh is partitioned, or "".
func partitionNote(snap ui.Snapshot) string {
	if !snap.Partitioned {
		return ""
	}
	for _, g := range snap.Groups {
		if g.Cut {
			return "  PARTITIONED: " + strings.Join(g.Peers, ", ") + " cut off"
		}
	}
	parts := make([]string, len(snap.Groups))
	for i, g := range snap.Groups {
		parts[i] = strings.Join(g.Peers, ",")
	}
	return "  PARTITIONED: " + strings.Join(parts, " | ")
}
