package experiment

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary renders the report as text for a terminal.
func (r Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "history: %d ops in %s from %s\n", r.Ops, fmtDur(r.Duration), r.Start.Format("2006-01-02 15:04:05.000"))
	fmt.Fprintf(&b, "requests: %.1f ok/s, latency p50 %s p99 %s max %s\n",
		r.Throughput, fmtDur(r.Latency.P50), fmtDur(r.Latency.P99), fmtDur(r.Latency.Max))
	r.kindTable(&b)
	r.linearizabilitySummary(&b)
	r.durabilitySummary(&b)
	r.streamsSummary(&b)
	r.recoverySummary(&b)
	if ps := r.Problems(); len(ps) > 0 {
		fmt.Fprintf(&b, "PROBLEMS:\n")
		for _, p := range ps {
			fmt.Fprintf(&b, "  - %s\n", p)
		}
	} else {
		fmt.Fprintf(&b, "problems: none\n")
	}
	return b.String()
}

func (r Report) kindTable(b *strings.Builder) {
	if len(r.Kinds) == 0 {
		return
	}
	hung := "hung"
	if r.HungAfter > 0 {
		hung = fmt.Sprintf("hung(>%s)", fmtDur(r.HungAfter))
	}
	fmt.Fprintln(b)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "kind\tops\tok\tfail\tunknown\tconflict\t%s\tok/s\tp50\tp99\tmax\t\n", hung)
	for _, k := range sortedNames(r.Kinds) {
		s := r.Kinds[k]
		h := "-"
		if r.HungAfter > 0 {
			h = fmt.Sprint(s.Hung)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%.1f\t%s\t%s\t%s\t\n", k, s.Ops, s.OK, s.Fail, s.Unknown,
			s.Conflicts, h, s.Throughput, fmtDur(s.Latency.P50), fmtDur(s.Latency.P99), fmtDur(s.Latency.Max))
	}
	tw.Flush()
	fmt.Fprintln(b)
}

func (r Report) linearizabilitySummary(b *strings.Builder) {
	l := r.Linearizability
	switch l.Verdict {
	case NotChecked:
		fmt.Fprintf(b, "linearizability: no state ops to check\n")
		return
	case Linearizable:
		fmt.Fprintf(b, "linearizability: ok;")
	case Illegal:
		fmt.Fprintf(b, "linearizability: ILLEGAL on %d keys: %s;", len(l.Illegal), listNames(l.Illegal, 10))
	case Undecided:
		fmt.Fprintf(b, "linearizability: UNKNOWN, the check timed out on %d keys: %s;", len(l.Unknown), listNames(l.Unknown, 10))
	}
	fmt.Fprintf(b, " %d ops on %d keys checked in %s\n", l.Ops, l.Keys, fmtDur(l.Elapsed))
	if l.Visualization != "" {
		fmt.Fprintf(b, "  see %s\n", l.Visualization)
	}
	if l.VisualizeErr != "" {
		fmt.Fprintf(b, "  %s\n", l.VisualizeErr)
	}
}

func (r Report) durabilitySummary(b *strings.Builder) {
	d := r.Durability
	fmt.Fprintf(b, "durability: %d keys checked, %d acknowledged writes lost", d.Keys, len(d.Lost))
	if len(d.Unread) > 0 {
		fmt.Fprintf(b, "; %d keys without a final read: %s", len(d.Unread), listNames(d.Unread, 5))
	}
	fmt.Fprintln(b)
	for i, l := range d.Lost {
		if i == 10 {
			fmt.Fprintf(b, "  ... and %d more\n", len(d.Lost)-i)
			break
		}
		got := fmt.Sprintf("%q", l.Got)
		if l.Absent {
			got = "no key"
		}
		want := fmt.Sprintf("%s %q @%d", l.Kind, l.Want, l.Rev)
		if l.Kind == "delete" {
			want = "delete"
		}
		fmt.Fprintf(b, "  LOST %s: %s, final read found %s\n", l.Key, want, got)
	}
}

func (r Report) streamsSummary(b *strings.Builder) {
	if len(r.Streams) == 0 && r.UnmatchedReceipts == 0 {
		return
	}
	fmt.Fprintf(b, "streams:\n")
	for _, s := range r.Streams {
		fmt.Fprintf(b, "  %s from %s: %d published\n", s.Stream, s.Publisher, s.Published)
		for _, d := range s.Subscribers {
			fmt.Fprintf(b, "    %s: %d/%d received (%.2f%% lost), %d gaps (longest %d), %d duplicates, %d reordered\n",
				d.Subscriber, d.Received, d.Expected, 100*d.Loss, d.Gaps, d.LongestGap, d.Duplicates, d.Reordered)
		}
	}
	if r.UnmatchedReceipts > 0 {
		fmt.Fprintf(b, "  %d receipts matched no published message\n", r.UnmatchedReceipts)
	}
}

func (r Report) recoverySummary(b *strings.Builder) {
	if len(r.Recovery) == 0 {
		return
	}
	fmt.Fprintf(b, "faults (times from the fault's start or end):\n")
	for _, f := range r.Recovery {
		open := f.Fault.End.IsZero()
		end := "the end"
		if !open {
			end = fmtOffset(f.Fault.End.Sub(r.Start))
		}
		fmt.Fprintf(b, "  %s, %s to %s: %s\n", f.Fault.Name, fmtOffset(f.Fault.Start.Sub(r.Start)), end,
			recoveryLine(f.Recovery, open))
		for _, k := range sortedNames(f.ByKind) {
			fmt.Fprintf(b, "    %-8s %s\n", k, recoveryLine(f.ByKind[k], open))
		}
	}
}

// recoveryLine describes r; open: the fault lasted to the end.
func recoveryLine(r Recovery, open bool) string {
	var b strings.Builder
	if r.Failures == 0 {
		fmt.Fprintf(&b, "%d ops, none failed", r.Ops)
	} else {
		fmt.Fprintf(&b, "%d of %d ops failed, the first %s after the start; ", r.Failures, r.Ops, fmtDur(r.FirstFailure))
		if r.Recovered == Never {
			b.WriteString("no recovery seen")
		} else {
			fmt.Fprintf(&b, "recovered %s after the start", fmtDur(r.Recovered))
		}
	}
	if r.Stalled > 0 {
		fmt.Fprintf(&b, "; longest stall %s", fmtDur(r.Stalled))
	}
	switch {
	case open:
	case r.AfterEnd == Never:
		b.WriteString("; no recovery seen after the end")
	default:
		fmt.Fprintf(&b, "; %s from the end to recovery", fmtDur(r.AfterEnd))
	}
	return b.String()
}

// offset formats a time from the history's start.
func fmtOffset(d time.Duration) string { return fmt.Sprintf("%+.2fs", d.Seconds()) }

// dur formats d with a precision that suits its size.
func fmtDur(d time.Duration) string {
	switch {
	case d == Never:
		return "never"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// list joins up to n names, saying how many more there are.
func listNames(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
