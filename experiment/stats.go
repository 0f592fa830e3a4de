package experiment

import (
	"math"
	"slices"
	"time"
)

// KindStats counts one kind of op by outcome.
type KindStats struct {
	Ops       int `json:"ops"`
	OK        int `json:"ok"`
	Fail      int `json:"fail"`
	Unknown   int `json:"unknown"`
	Conflicts int `json:"conflicts,omitempty"` // of the failed, swaps refused for a conflict
	// Hung counts ops that took longer than Options.Deadline + Slack: the
	// call ignored its deadline.
	Hung       int     `json:"hung,omitempty"`
	Throughput float64 `json:"throughput"` // ok ops per second
	Latency    Latency `json:"latency"`    // of ok ops
}

// Latency is a distribution of op durations.
type Latency struct {
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// kindStats counts ops by kind; an op is hung past hungAfter (0: never).
func kindStats(ops []Op, span, hungAfter time.Duration) map[string]KindStats {
	stats := make(map[string]KindStats)
	lat := make(map[string][]time.Duration)
	for _, op := range ops {
		s := stats[op.Kind]
		s.Ops++
		switch op.Outcome {
		case OK:
			s.OK++
			lat[op.Kind] = append(lat[op.Kind], op.duration())
		case Unknown:
			s.Unknown++
		default:
			s.Fail++
			if op.conflict() {
				s.Conflicts++
			}
		}
		if hungAfter > 0 && op.duration() > hungAfter {
			s.Hung++
		}
		stats[op.Kind] = s
	}
	for k, s := range stats {
		s.Throughput = perSecond(s.OK, span)
		s.Latency = latency(lat[k])
		stats[k] = s
	}
	return stats
}

// latency summarizes ds, which it sorts.
func latency(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	return Latency{P50: percentile(ds, 0.50), P99: percentile(ds, 0.99), Max: ds[len(ds)-1]}
}

// percentile returns the nearest-rank q-quantile of sorted ds.
func percentile(ds []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(ds)))) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

func perSecond(n int, span time.Duration) float64 {
	if span <= 0 {
		return 0
	}
	return float64(n) / span.Seconds()
}
