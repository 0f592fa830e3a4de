package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

func cmdTop(args []string, out, errw io.Writer) int {
	fs := newFlagSet("top", "[--interval 1s] [--once] [peer flags]",
		"Show the mesh live in the terminal: members with their role and links, services with their request\n"+
			"rates and latencies, streams with their message rates and drops, refreshed in place.")
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	prev := observeAll(ctx, p)
	t := time.NewTicker(*interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return exitOK
		case <-t.C:
		}
		cur := observeAll(ctx, p)
		if !*once {
			fmt.Fprint(out, "\x1b[H\x1b[2J") // home, clear
		}
		drawTop(out, p, prev, cur, *interval)
		if *once {
			return exitOK
		}
		prev = cur
	}
}

// observeAll asks every member for its observation, in parallel.
func observeAll(ctx context.Context, p *peer.Peer) map[string]peer.Observation {
	var mu sync.Mutex
	var wg sync.WaitGroup
	obs := map[string]peer.Observation{}
	for _, m := range p.Members() {
		if m.Self {
			continue
		}
		wg.Go(func() {
			octx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			if o, err := p.Observe(octx, m.Name); err == nil {
				mu.Lock()
				obs[m.Name] = o
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return obs
}

// drawTop prints one picture: rates from the counters of two observations
// taken d apart.
func drawTop(out io.Writer, p *peer.Peer, prev, cur map[string]peer.Observation, d time.Duration) {
	secs := d.Seconds()
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "pyros mesh at %s, seen from %s\n\n", time.Now().Format("15:04:05"), p.Name())
	fmt.Fprintln(tw, "MEMBER\tROLE\tUP\tSEES\tLINKS TO")
	var names []string
	for _, m := range p.Members() {
		if !m.Self {
			names = append(names, m.Name)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		o, ok := cur[n]
		if !ok {
			fmt.Fprintf(tw, "%s\t?\t?\t(no answer)\t\n", n)
			continue
		}
		role := cmp.Or(o.Role, "-")
		if o.Gateway != nil {
			role = strings.TrimPrefix(role+",ros-gateway", "-,")
		}
		sees := len(slices.DeleteFunc(slices.Clone(o.Sees), func(s string) bool { return !slices.Contains(names, s) }))
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\n", n, role, time.Since(o.Started).Round(time.Second), sees, len(names), strings.Join(o.Links, " "))
	}
	fmt.Fprintln(tw, "\nSERVICE\tPROVIDERS\tREQ/S\tERR/S\tMEAN")
	for _, s := range p.Services() {
		if strings.HasPrefix(s.Name, "pyros.") {
			continue
		}
		var reqs, errs uint64
		var took float64
		for _, prov := range s.Providers {
			a, b := prev[prov].Served[s.Name], cur[prov].Served[s.Name]
			if b.Requests >= a.Requests {
				reqs += b.Requests - a.Requests
				errs += b.Errors - a.Errors
				took += b.Seconds - a.Seconds
			}
		}
		mean := "-"
		if reqs > 0 {
			mean = time.Duration(took / float64(reqs) * 1e9).Round(time.Microsecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%s\n", s.Name, strings.Join(s.Providers, " "), float64(reqs)/secs, float64(errs)/secs, mean)
	}
	fmt.Fprintln(tw, "\nSTREAM\tPUBLISHERS\tSUBSCRIBERS\tSENT/S\tRECV/S\tDROPPED/S")
	for _, st := range p.Streams() {
		var sent, recv, drop uint64
		for n, o := range cur {
			a, b := prev[n].Streams[st.Name], o.Streams[st.Name]
			if b.Sent >= a.Sent && b.Received >= a.Received && b.Dropped >= a.Dropped {
				sent += b.Sent - a.Sent
				recv += b.Received - a.Received
				drop += b.Dropped - a.Dropped
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f\t%.1f\t%.1f\n", st.Name, strings.Join(st.Publishers, " "), strings.Join(st.Subscribers, " "),
			float64(sent)/secs, float64(recv)/secs, float64(drop)/secs)
	}
	tw.Flush()
}
