package rosgw

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pyros-mesh/pyros/peer"
)

// bridge is one ROS name the gateway bridges.
type bridge struct {
	kind      string // "topic" or "service"
	direction string // "import" (ROS into the mesh) or "export"
	ros, mesh string
}

// bridgeKinds are the label pairs of pyros_ros_bridges, always reported.
var bridgeKinds = [][2]string{{"topic", "import"}, {"topic", "export"}, {"service", "import"}, {"service", "export"}}

// publishBridges records what the gateway bridges now, for Info and the
// metrics: they read this copy so that they never wait for g.mu, which a
// sync round holds while it probes ROS nodes (seconds when one does not
// answer).
func (g *Gateway) publishBridges() {
	g.mu.Lock()
	var bs []bridge
	add := func(kind, dir string, names []string) {
		for _, n := range names {
			bs = append(bs, bridge{kind: kind, direction: dir, ros: n, mesh: g.meshName(n)})
		}
	}
	add("topic", "import", sortedKeys(g.imports))
	add("topic", "export", sortedKeys(g.exports))
	add("service", "import", sortedKeys(g.srvImports))
	add("service", "export", sortedKeys(g.srvExports))
	g.mu.Unlock()
	g.bridges.Store(&bs)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// current is what the gateway bridged at the end of its last sync round.
func (g *Gateway) current() []bridge {
	if bs := g.bridges.Load(); bs != nil {
		return *bs
	}
	return nil
}

// Info reports the ROS master and what the gateway bridges, by mesh name,
// as of its last sync round. The peer's Observation carries it.
func (g *Gateway) Info() peer.GatewayInfo {
	info := peer.GatewayInfo{Master: g.cfg.Master}
	lists := map[[2]string]*[]string{
		{"topic", "import"}: &info.TopicsImported, {"topic", "export"}: &info.TopicsExported,
		{"service", "import"}: &info.ServicesImported, {"service", "export"}: &info.ServicesExported,
	}
	for _, b := range g.current() {
		l := lists[[2]string{b.kind, b.direction}]
		*l = append(*l, b.mesh)
	}
	return info
}

var (
	bridgesDesc = prometheus.NewDesc("pyros_ros_bridges",
		"ROS topics and services this gateway bridges, by kind (topic, service) and direction (import: from ROS into the mesh, export: from the mesh into ROS).",
		[]string{"kind", "direction"}, nil)
	bridgeInfoDesc = prometheus.NewDesc("pyros_ros_bridge_info",
		"1 for each ROS name this gateway bridges, with its mesh name.",
		[]string{"kind", "direction", "ros", "mesh"}, nil)
	bridgeFailuresDesc = prometheus.NewDesc("pyros_ros_bridge_failures_total",
		"Attempts to bridge a ROS topic or service, or a mesh stream or service, that failed (each is retried every "+retryAfter.String()+").",
		nil, nil)
	masterUpDesc = prometheus.NewDesc("pyros_ros_master_up",
		"1 if this gateway's last read of the ROS graph from its master succeeded.",
		nil, nil)
)

// collector exports a gateway's bridges to Prometheus at scrape time.
type collector struct{ g *Gateway }

var _ prometheus.Collector = (*collector)(nil)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- bridgesDesc
	ch <- bridgeInfoDesc
	ch <- bridgeFailuresDesc
	ch <- masterUpDesc
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	bs := c.g.current()
	count := make(map[[2]string]int)
	for _, b := range bs {
		count[[2]string{b.kind, b.direction}]++
		ch <- prometheus.MustNewConstMetric(bridgeInfoDesc, prometheus.GaugeValue, 1, b.kind, b.direction, b.ros, b.mesh)
	}
	for _, k := range bridgeKinds {
		ch <- prometheus.MustNewConstMetric(bridgesDesc, prometheus.GaugeValue, float64(count[k]), k[0], k[1])
	}
	ch <- prometheus.MustNewConstMetric(bridgeFailuresDesc, prometheus.CounterValue, float64(c.g.failed.Load()))
	up := 0.0
	if c.g.masterUp.Load() {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(masterUpDesc, prometheus.GaugeValue, up)
}
