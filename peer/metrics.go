package peer

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pyros-mesh/pyros/mesh"
)

// metrics are a peer's Prometheus metrics, registered in Config.Metrics.
// Counters and histograms are updated as things happen; gauges and the
// stream totals are read from the peer at scrape time.
type metrics struct {
	calls        *prometheus.CounterVec   // by service and outcome, as a caller
	callSeconds  *prometheus.HistogramVec // by service
	served       *prometheus.CounterVec   // by service and outcome, as a provider
	serveSeconds *prometheus.HistogramVec
	events       *prometheus.CounterVec // gossip membership events, by type
	commit       prometheus.Histogram   // state writes applied here (the leader), in seconds
	leaderChange prometheus.Counter
}

func newMetrics(p *Peer, reg prometheus.Registerer) (*metrics, error) {
	buckets := prometheus.ExponentialBuckets(50e-6, 2.5, 14) // 50 µs to ~7 min
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pyros_calls_total",
			Help: "Service calls made by this peer, by service and outcome (ok, error, unknown)."}, []string{"service", "outcome"}),
		callSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pyros_call_seconds",
			Help: "Latency of the service calls this peer made.", Buckets: buckets}, []string{"service"}),
		served: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pyros_served_total",
			Help: "Requests this peer's handlers answered, by service and outcome (ok, error)."}, []string{"service", "outcome"}),
		serveSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pyros_serve_seconds",
			Help: "Time this peer's handlers took.", Buckets: buckets}, []string{"service"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pyros_member_events_total",
			Help: "Membership events this peer saw (joined, left, failed, updated)."}, []string{"type"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pyros_state_commit_seconds",
			Help: "Time to commit a state write on this peer, as raft leader.", Buckets: buckets}),
		leaderChange: prometheus.NewCounter(prometheus.CounterOpts{Name: "pyros_state_leader_changes_total",
			Help: "Changes of the state leader seen by this peer."}),
	}
	cs := []prometheus.Collector{m.calls, m.callSeconds, m.served, m.serveSeconds, m.events, m.commit, m.leaderChange,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pyros_members", Help: "Members of the mesh this peer sees alive, itself included."},
			func() float64 { return float64(len(p.Members())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pyros_links", Help: "Links this peer dialed to other peers and keeps open."},
			func() float64 { return float64(len(p.node.Links())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pyros_state_leader", Help: "1 if this peer leads the shared state."},
			func() float64 { return boolGauge(p.server != nil && p.server.Status().Leader) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pyros_state_term", Help: "This state server's raft term."},
			func() float64 {
				if p.server == nil {
					return 0
				}
				return float64(p.server.Status().Term)
			}),
		&streamCollector{p},
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// outcome names how a call ended.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrUnknownOutcome):
		return "unknown"
	}
	return "error"
}

// observeCall counts a call this peer made.
func (m *metrics) observeCall(service string, began time.Time, err error) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(service, outcome(err)).Inc()
	m.callSeconds.WithLabelValues(service).Observe(time.Since(began).Seconds())
}

// observeServe counts a request this peer's handler answered.
func (m *metrics) observeServe(service string, began time.Time, err error) {
	if m == nil {
		return
	}
	o := "ok"
	if err != nil {
		if errors.Is(err, mesh.ErrNoService) {
			return // not served here
		}
		o = "error"
	}
	m.served.WithLabelValues(service, o).Inc()
	m.serveSeconds.WithLabelValues(service).Observe(time.Since(began).Seconds())
}

func (m *metrics) event(t EventType) {
	if m != nil {
		m.events.WithLabelValues(t.String()).Inc()
	}
}

func (m *metrics) observeCommit(began time.Time) {
	if m != nil {
		m.commit.Observe(time.Since(began).Seconds())
	}
}

func (m *metrics) leaderChanged() {
	if m != nil {
		m.leaderChange.Inc()
	}
}

// streamCollector reads the stream totals of the peer's publishers and
// subscriptions at scrape time.
type streamCollector struct{ p *Peer }

var (
	streamSent     = prometheus.NewDesc("pyros_stream_sent_total", "Messages this peer published, by stream.", []string{"stream"}, nil)
	streamDropped  = prometheus.NewDesc("pyros_stream_dropped_total", "Messages dropped, by stream and side (publisher: a link full or gone; subscriber: a handler behind).", []string{"stream", "side"}, nil)
	streamReceived = prometheus.NewDesc("pyros_stream_received_total", "Messages this peer's subscriptions received, by stream.", []string{"stream"}, nil)
	streamBytes    = prometheus.NewDesc("pyros_stream_bytes_total", "Payload bytes of the messages this peer published (side publisher) or received (side subscriber), by stream.", []string{"stream", "side"}, nil)
	streamLost     = prometheus.NewDesc("pyros_stream_lost_total", "Messages missing from publishers' sequences, by stream.", []string{"stream"}, nil)
)

func (c *streamCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- streamSent
	ch <- streamDropped
	ch <- streamReceived
	ch <- streamLost
	ch <- streamBytes
}

func (c *streamCollector) Collect(ch chan<- prometheus.Metric) {
	pubs, subs := c.p.streams.totals()
	for name, s := range pubs {
		ch <- prometheus.MustNewConstMetric(streamSent, prometheus.CounterValue, float64(s.Sent), name)
		ch <- prometheus.MustNewConstMetric(streamDropped, prometheus.CounterValue, float64(s.Dropped), name, "publisher")
		ch <- prometheus.MustNewConstMetric(streamBytes, prometheus.CounterValue, float64(s.Bytes), name, "publisher")
	}
	for name, s := range subs {
		ch <- prometheus.MustNewConstMetric(streamReceived, prometheus.CounterValue, float64(s.Received), name)
		ch <- prometheus.MustNewConstMetric(streamDropped, prometheus.CounterValue, float64(s.Dropped), name, "subscriber")
		ch <- prometheus.MustNewConstMetric(streamLost, prometheus.CounterValue, float64(s.Lost), name)
		ch <- prometheus.MustNewConstMetric(streamBytes, prometheus.CounterValue, float64(s.Bytes), name, "subscriber")
	}
}
