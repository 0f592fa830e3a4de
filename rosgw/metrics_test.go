package rosgw

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/pyros-mesh/pyros/peer"
)

// scrape gathers reg as Prometheus text, the named families only (none:
// all).
func scrape(t *testing.T, reg prometheus.Gatherer, names ...string) string {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		if len(names) == 0 || slices.Contains(names, f.GetName()) {
			if err := enc.Encode(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	return buf.String()
}

// collect registers c alone and scrapes it.
func collect(t *testing.T, c prometheus.Collector, names ...string) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	return scrape(t, reg, names...)
}

func compare(t *testing.T, got, want string) {
	t.Helper()
	if got != strings.TrimPrefix(want, "\n") {
		t.Fatalf("metrics:\n%s\nwant:\n%s", got, want)
	}
}

// testGateway is a gateway that bridges what the maps say, with no ROS
// master behind it: enough for what it reports.
func testGateway(imports, exports, srvImports, srvExports []string) *Gateway {
	g := &Gateway{cfg: Config{Master: "http://127.0.0.1:11311", Prefix: "ros"},
		imports: map[string]*importer{}, exports: map[string]*exporter{},
		srvImports: map[string]*srvImport{}, srvExports: map[string]*srvExport{}}
	for _, n := range imports {
		g.imports[n] = nil
	}
	for _, n := range exports {
		g.exports[n] = nil
	}
	for _, n := range srvImports {
		g.srvImports[n] = nil
	}
	for _, n := range srvExports {
		g.srvExports[n] = nil
	}
	g.publishBridges()
	return g
}

func TestMetricsBridges(t *testing.T) {
	g := testGateway([]string{"/chatter", "/a/odom"}, []string{"/cmd_vel"}, []string{"/reset"}, nil)
	g.failed.Add(3)
	g.masterUp.Store(true)
	want := `
# HELP pyros_ros_bridge_failures_total Attempts to bridge a ROS topic or service, or a mesh stream or service, that failed (each is retried every 5s).
# TYPE pyros_ros_bridge_failures_total counter
pyros_ros_bridge_failures_total 3
# HELP pyros_ros_bridge_info 1 for each ROS name this gateway bridges, with its mesh name.
# TYPE pyros_ros_bridge_info gauge
pyros_ros_bridge_info{direction="export",kind="topic",mesh="ros/cmd_vel",ros="/cmd_vel"} 1
pyros_ros_bridge_info{direction="import",kind="service",mesh="ros/reset",ros="/reset"} 1
pyros_ros_bridge_info{direction="import",kind="topic",mesh="ros/a/odom",ros="/a/odom"} 1
pyros_ros_bridge_info{direction="import",kind="topic",mesh="ros/chatter",ros="/chatter"} 1
# HELP pyros_ros_bridges ROS topics and services this gateway bridges, by kind (topic, service) and direction (import: from ROS into the mesh, export: from the mesh into ROS).
# TYPE pyros_ros_bridges gauge
pyros_ros_bridges{direction="export",kind="service"} 0
pyros_ros_bridges{direction="export",kind="topic"} 1
pyros_ros_bridges{direction="import",kind="service"} 1
pyros_ros_bridges{direction="import",kind="topic"} 2
# HELP pyros_ros_master_up 1 if this gateway's last read of the ROS graph from its master succeeded.
# TYPE pyros_ros_master_up gauge
pyros_ros_master_up 1
`
	compare(t, collect(t, &collector{g}), want)
}

// TestMetricsNoBridges: every kind and direction is reported, at 0, before
// anything is bridged, and the master counts as down until it answered.
func TestMetricsNoBridges(t *testing.T) {
	g := &Gateway{cfg: Config{Prefix: "ros"}} // before its first sync round
	want := `
# HELP pyros_ros_bridges ROS topics and services this gateway bridges, by kind (topic, service) and direction (import: from ROS into the mesh, export: from the mesh into ROS).
# TYPE pyros_ros_bridges gauge
pyros_ros_bridges{direction="export",kind="service"} 0
pyros_ros_bridges{direction="export",kind="topic"} 0
pyros_ros_bridges{direction="import",kind="service"} 0
pyros_ros_bridges{direction="import",kind="topic"} 0
# HELP pyros_ros_master_up 1 if this gateway's last read of the ROS graph from its master succeeded.
# TYPE pyros_ros_master_up gauge
pyros_ros_master_up 0
`
	compare(t, collect(t, &collector{g}, "pyros_ros_bridges", "pyros_ros_bridge_info", "pyros_ros_master_up"), want)
}

// TestMetricsReregister: what Close unregisters can be registered again on
// the same registry, as a second Start does.
func TestMetricsReregister(t *testing.T) {
	reg := prometheus.NewRegistry()
	first := &collector{testGateway([]string{"/a"}, nil, nil, nil)}
	if err := reg.Register(first); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(&collector{testGateway(nil, nil, nil, nil)}); err == nil {
		t.Fatal("a second gateway registered on the same registry")
	}
	if !reg.Unregister(first) {
		t.Fatal("unregister failed")
	}
	if err := reg.Register(&collector{testGateway([]string{"/b"}, nil, nil, nil)}); err != nil {
		t.Fatalf("register after unregister: %v", err)
	}
	compare(t, scrape(t, reg, "pyros_ros_bridge_info"), `
# HELP pyros_ros_bridge_info 1 for each ROS name this gateway bridges, with its mesh name.
# TYPE pyros_ros_bridge_info gauge
pyros_ros_bridge_info{direction="import",kind="topic",mesh="ros/b",ros="/b"} 1
`)
}

func TestInfo(t *testing.T) {
	g := testGateway([]string{"/z", "/chatter"}, []string{"/cmd_vel"}, []string{"/reset"}, []string{"/enable", "/b/x"})
	want := peer.GatewayInfo{
		Master:           "http://127.0.0.1:11311",
		TopicsImported:   []string{"ros/chatter", "ros/z"},
		TopicsExported:   []string{"ros/cmd_vel"},
		ServicesImported: []string{"ros/reset"},
		ServicesExported: []string{"ros/b/x", "ros/enable"},
	}
	if got := g.Info(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Info() = %+v, want %+v", got, want)
	}
	g.mu.Lock()
	delete(g.imports, "/z")
	g.mu.Unlock()
	g.publishBridges()
	if got := g.Info().TopicsImported; !reflect.DeepEqual(got, []string{"ros/chatter"}) {
		t.Fatalf("after a round: topics imported %v", got)
	}
}
