package experiment

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Plot geometry, in SVG pixels.
const (
	plotW, plotH        = 1200, 780
	plotLeft, plotRight = 80, 1000 // the panels' x range; the legend is right of it
	faultTop            = 48       // fault windows and their labels start here
	thrTop, thrBot      = 90, 360  // throughput panel
	latTop, latBot      = 420, 720 // latency panel
	minBucket           = 100 * time.Millisecond
	maxBuckets          = 20000 // past it, buckets grow: a history of over half an hour
	maxMarks            = 3000  // failed ops marked at most
)

var kindColors = []string{"#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#e377c2", "#7f7f7f", "#bcbd22"}

// Plot writes a standalone SVG of the history to w: throughput (ok ops per
// 100 ms, by kind) and latency (p50 and p99 of ok requests per 100 ms, log
// scale) over time in seconds, failed and unknown ops marked, fault
// windows shaded and labelled. Histories longer than half an hour get
// longer buckets.
func Plot(ops []Op, faults []Fault, w io.Writer) error {
	p := newPlot(ops, faults)
	bw := bufio.NewWriter(w)
	s := &svg{w: bw}
	s.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		plotW, plotH, plotW, plotH)
	s.printf(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	s.text(plotLeft, 22, "start", "font-size=\"15\" font-weight=\"bold\"",
		fmt.Sprintf("%d ops over %.1f s from %s", len(ops), p.span.Seconds(), p.t0.Format("2006-01-02 15:04:05")))
	p.faults(s)
	p.throughput(s)
	p.latency(s)
	p.legend(s)
	s.printf("</svg>\n")
	if s.err != nil {
		return fmt.Errorf("experiment: plot: %w", s.err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("experiment: plot: %w", err)
	}
	return nil
}

// plot is a history laid out in buckets.
type plot struct {
	ops    []Op
	fs     []Fault
	t0     time.Time
	span   time.Duration
	bucket time.Duration
	n      int               // buckets
	kinds  []string          // with ok ops, in legend order
	counts map[string][]int  // ok ops ending in each bucket, by kind
	lat    [][]time.Duration // ok requests' durations, by bucket
	marks  []Op              // failed and unknown ops to mark
}

func newPlot(ops []Op, faults []Fault) *plot {
	p := &plot{ops: ops, fs: faults, counts: make(map[string][]int)}
	var t1 time.Time
	for i, op := range ops {
		if i == 0 || op.Start.Before(p.t0) {
			p.t0 = op.Start
		}
		if op.End.After(t1) {
			t1 = op.End
		}
	}
	for _, f := range faults {
		if len(ops) == 0 && (p.t0.IsZero() || f.Start.Before(p.t0)) {
			p.t0 = f.Start
		}
		t1 = latest(t1, f.Start, f.End)
	}
	p.span = max(t1.Sub(p.t0), time.Second)
	p.bucket = minBucket
	for p.span/p.bucket >= maxBuckets {
		p.bucket *= 2
	}
	p.n = int((p.span + p.bucket - 1) / p.bucket)
	p.lat = make([][]time.Duration, p.n)
	for _, op := range ops {
		i := p.bucketOf(op.End)
		switch {
		case op.Outcome == OK:
			if p.counts[op.Kind] == nil {
				p.kinds = append(p.kinds, op.Kind)
				p.counts[op.Kind] = make([]int, p.n)
			}
			p.counts[op.Kind][i]++
			if op.request() {
				p.lat[i] = append(p.lat[i], op.duration())
			}
		case !op.answered():
			p.marks = append(p.marks, op)
		}
	}
	slices.Sort(p.kinds)
	if len(p.marks) > maxMarks { // keep an even sample
		step := float64(len(p.marks)) / maxMarks
		sample := make([]Op, maxMarks)
		for i := range sample {
			sample[i] = p.marks[int(float64(i)*step)]
		}
		p.marks = sample
	}
	return p
}

func latest(t time.Time, ts ...time.Time) time.Time {
	for _, u := range ts {
		if u.After(t) {
			t = u
		}
	}
	return t
}

func (p *plot) bucketOf(t time.Time) int {
	return min(max(int(t.Sub(p.t0)/p.bucket), 0), p.n-1)
}

// x maps a time to the panels' x axis.
func (p *plot) x(t time.Time) float64 {
	f := float64(t.Sub(p.t0)) / float64(p.span)
	return plotLeft + (plotRight-plotLeft)*min(max(f, 0), 1)
}

// bx is the x of bucket i's middle.
func (p *plot) bx(i int) float64 {
	return p.x(p.t0.Add(time.Duration(i)*p.bucket + p.bucket/2))
}

func (p *plot) faults(s *svg) {
	for i, f := range p.fs {
		end := f.End
		if end.IsZero() {
			end = p.t0.Add(p.span)
		}
		x0, x1 := p.x(f.Start), p.x(end)
		label := fmt.Sprintf("%s (%.2f–%.2f s)", f.Name, f.Start.Sub(p.t0).Seconds(), end.Sub(p.t0).Seconds())
		s.printf(`<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#d62728" fill-opacity="0.10" stroke="#d62728" stroke-opacity="0.4"><title>%s</title></rect>`+"\n",
			x0, faultTop, max(x1-x0, 1), latBot-faultTop, xmlText(label))
		s.text(x0+3, float64(faultTop+10+12*(i%3)), "start", `fill="#a01010"`, f.Name)
	}
}

func (p *plot) timeAxis(s *svg, top, bot int) {
	step := niceTime(p.span)
	for t := time.Duration(0); t <= p.span; t += step {
		x := p.x(p.t0.Add(t))
		s.printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e5e5e5"/>`+"\n", x, top, x, bot)
		s.text(x, float64(bot+16), "middle", "", trimFloat(t.Seconds())+" s")
	}
	s.printf(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#444"/>`+"\n", plotLeft, top, plotRight-plotLeft, bot-top)
}

func (p *plot) throughput(s *svg) {
	top := 0
	for _, c := range p.counts {
		top = max(top, slices.Max(c))
	}
	step := niceCount(top)
	top = max(int(math.Ceil(float64(top)/float64(step)))*step, step)
	y := func(v int) float64 { return thrBot - float64(v)/float64(top)*(thrBot-thrTop) }
	s.text(plotLeft, 40, "start", `font-weight="bold"`, "throughput: ok ops per "+fmtDur(p.bucket)+", by kind")
	p.timeAxis(s, thrTop, thrBot)
	for v := 0; v <= top; v += step {
		s.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e5e5"/>`+"\n", plotLeft, y(v), plotRight, y(v))
		s.text(plotLeft-6, y(v)+4, "end", "", fmt.Sprint(v))
	}
	for k, kind := range p.kinds {
		var d strings.Builder
		pen := "M"
		for i, c := range p.counts[kind] {
			fmt.Fprintf(&d, "%s%.1f %.1f ", pen, p.bx(i), y(c))
			pen = "L"
		}
		s.printf(`<path d="%s" fill="none" stroke="%s" stroke-width="1.5"/>`+"\n", strings.TrimSpace(d.String()), kindColors[k%len(kindColors)])
	}
}

func (p *plot) latency(s *svg) {
	p50, p99 := make([]time.Duration, p.n), make([]time.Duration, p.n)
	lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
	for i, ds := range p.lat {
		if len(ds) > 0 {
			l := latency(ds)
			p50[i], p99[i] = l.P50, l.P99
			lo, hi = min(lo, max(l.P50, time.Microsecond)), max(hi, l.P99)
		}
	}
	for _, op := range p.marks {
		lo, hi = min(lo, max(op.duration(), time.Microsecond)), max(hi, op.duration())
	}
	if hi == 0 {
		lo, hi = time.Millisecond, time.Second
	}
	dlo, dhi := math.Floor(math.Log10(float64(lo))), math.Ceil(math.Log10(float64(max(hi, lo+1))))
	dlo = min(dlo, dhi-2)
	y := func(d time.Duration) float64 {
		v := math.Log10(float64(max(d, 1)))
		f := (min(max(v, dlo), dhi) - dlo) / (dhi - dlo)
		return latBot - f*(latBot-latTop)
	}
	s.text(plotLeft, latTop-12, "start", `font-weight="bold"`, "latency of ok requests per "+fmtDur(p.bucket)+": p50, p99 (log scale); failed and unknown ops marked")
	p.timeAxis(s, latTop, latBot)
	for e := dlo; e <= dhi; e++ {
		d := time.Duration(math.Pow(10, e))
		s.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e5e5"/>`+"\n", plotLeft, y(d), plotRight, y(d))
		s.text(plotLeft-6, y(d)+4, "end", "", d.String())
	}
	s.text((plotLeft+plotRight)/2, latBot+36, "middle", "", "time since the first op (s)")
	for _, q := range []struct {
		ds   []time.Duration
		dash string
	}{{p50, ""}, {p99, ` stroke-dasharray="5 3"`}} {
		var d strings.Builder
		pen := "M"
		for i, v := range q.ds {
			if len(p.lat[i]) == 0 {
				pen = "M"
				continue
			}
			fmt.Fprintf(&d, "%s%.1f %.1f ", pen, p.bx(i), y(v))
			pen = "L"
		}
		if d.Len() > 0 {
			s.printf(`<path d="%s" fill="none" stroke="#333" stroke-width="1.2"%s/>`+"\n", strings.TrimSpace(d.String()), q.dash)
		}
	}
	for _, op := range p.marks {
		s.printf(`<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s" fill-opacity="0.7"><title>%s</title></circle>`+"\n",
			p.x(op.End), y(op.duration()), outcomeColor(op.Outcome), xmlText(markTitle(op)))
	}
}

// markTitle is a marked op's tooltip.
func markTitle(op Op) string {
	return fmt.Sprintf("%s %s %s by %s after %s: %s", op.Outcome, op.Kind, op.Key, op.Client, fmtDur(op.duration()), op.Err)
}

func outcomeColor(outcome string) string {
	if outcome == Unknown {
		return "#ff9f1c"
	}
	return "#d62728"
}

func (p *plot) legend(s *svg) {
	x, y := float64(plotRight+20), float64(thrTop+10)
	line := func(stroke, dash, label string) {
		s.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", x, y-4, x+24, y-4, stroke, dash)
		s.text(x+30, y, "start", "", label)
		y += 18
	}
	dot := func(fill, label string) {
		s.printf(`<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>`+"\n", x+12, y-4, fill)
		s.text(x+30, y, "start", "", label)
		y += 18
	}
	for k, kind := range p.kinds {
		line(kindColors[k%len(kindColors)], "", kind)
	}
	y = latTop + 10
	line("#333", "", "p50")
	line("#333", ` stroke-dasharray="5 3"`, "p99")
	dot("#d62728", "failed")
	dot("#ff9f1c", "unknown outcome")
	if len(p.fs) > 0 {
		s.printf(`<rect x="%.1f" y="%.1f" width="24" height="12" fill="#d62728" fill-opacity="0.10" stroke="#d62728" stroke-opacity="0.4"/>`+"\n", x, y-12)
		s.text(x+30, y, "start", "", "fault")
	}
}

// niceTime returns a tick step giving at most 12 ticks over span.
func niceTime(span time.Duration) time.Duration {
	for _, s := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute} {
		if span/s <= 12 {
			return s
		}
	}
	return span / 12
}

// niceCount returns a step of 1, 2 or 5 times a power of 10 giving at most
// 6 ticks up to top.
func niceCount(top int) int {
	for step := 1; ; step *= 10 {
		for _, m := range []int{1, 2, 5} {
			if top <= 6*step*m {
				return step * m
			}
		}
	}
}

func trimFloat(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
}

// svg writes SVG, keeping the first error.
type svg struct {
	w   io.Writer
	err error
}

func (s *svg) printf(format string, args ...any) {
	if s.err == nil {
		_, s.err = fmt.Fprintf(s.w, format, args...)
	}
}

func (s *svg) text(x, y float64, anchor, attrs, text string) {
	s.printf(`<text x="%.1f" y="%.1f" text-anchor="%s" %s>%s</text>`+"\n", x, y, anchor, attrs, xmlText(text))
}

func xmlText(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
