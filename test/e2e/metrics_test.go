package e2e

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var metricsRE = regexp.MustCompile(`metrics (http://\S+/metrics)`)

// TestMetrics scrapes a peer's /metrics after it served calls, committed
// state writes and published a stream, and parses what Prometheus would.
func TestMetrics(t *testing.T) {
	m := newMesh(t)
	p := m.startPeer("metered", "--demo", "--http", "127.0.0.1:0", "--data", t.TempDir(), "--bootstrap-expect", "1")
	mt := metricsRE.FindStringSubmatch(p.ready)
	if mt == nil {
		t.Fatalf("ready line names no metrics URL: %q", p.ready)
	}
	for range 3 {
		if _, errs, code := m.cli("call", "demo/echo", `"x"`); code != 0 {
			t.Fatalf("call: %s", errs)
		}
	}
	waitFor(t, 20*time.Second, "a state write", func() bool {
		_, _, code := m.cli("state", "put", "k", "1")
		return code == 0
	})
	if _, errs, code := m.cli("echo", "demo/ticks", "--count", "2", "--timeout", "10s"); code != 0 {
		t.Fatalf("echo: %s", errs)
	}
	fams := scrapeMetrics(t, mt[1])
	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"pyros_served_total", map[string]string{"service": "demo/echo", "outcome": "ok"}, 3},
		{"pyros_serve_seconds", map[string]string{"service": "demo/echo"}, 3},
		{"pyros_state_commit_seconds", nil, 1},
		{"pyros_state_leader", nil, 1},
		{"pyros_state_term", nil, 1},
		{"pyros_members", nil, 1},
		{"pyros_member_events_total", nil, 1},
		{"pyros_stream_sent_total", map[string]string{"stream": "demo/ticks"}, 1},
		{"pyros_stream_bytes_total", map[string]string{"stream": "demo/ticks", "side": "publisher"}, 1},
		{"go_goroutines", nil, 1},
	} {
		v, ok := metricValue(fams, c.name, c.labels)
		if !ok || v < c.min {
			t.Errorf("%s%v = %v (present %v), want >= %v", c.name, c.labels, v, ok, c.min)
		}
	}
	if _, ok := metricValue(fams, "pyros_links", nil); !ok {
		t.Error("pyros_links missing")
	}
	t.Logf("%d metric families", len(fams))
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			n++
		}
	}
	return n == len(want)
}

// scrapeMetrics reads and parses a peer's /metrics.
func scrapeMetrics(t testing.TB, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

func familyMap(fams []*dto.MetricFamily) map[string]*dto.MetricFamily {
	out := make(map[string]*dto.MetricFamily, len(fams))
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// metricValue is the value of the first series of the named gauge or
// counter with the given labels (a histogram's sample count), and whether
// there is one.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	for _, m := range fams[name].GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}
