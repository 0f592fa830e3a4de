package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/peer"
	"github.com/pyros-mesh/pyros/rosgw"
)

// rosMaster is a real ROS 1 master (Debian's rosmaster) private to a test.
type rosMaster struct {
	uri  string
	port int
	home string // ROS_HOME: logs of the ROS tools
	proc *proc  // the running rosmaster
}

// startROSMaster runs rosmaster on a free loopback port.
func startROSMaster(t testing.TB, m *mesh) *rosMaster {
	t.Helper()
	for _, tool := range []string{"/usr/bin/rosmaster", "/usr/bin/rostopic", "/usr/bin/rosservice", "/usr/bin/rosparam"} {
		if _, err := os.Stat(tool); err != nil {
			t.Fatalf("%s is missing: the ROS tests need Debian's python3-rosmaster, python3-rostopic, python3-rosservice and python3-rosparam (./scripts/test.sh installs them as root)", tool)
		}
	}
	port := freePort(t)
	r := &rosMaster{uri: fmt.Sprintf("http://127.0.0.1:%d", port), port: port, home: t.TempDir()}
	r.launch(t, m)
	return r
}

// launch runs rosmaster on the master's port and waits until it listens;
// after r.proc.kill(), it starts the master again.
func (r *rosMaster) launch(t testing.TB, m *mesh) {
	t.Helper()
	cmd := exec.Command("/usr/bin/rosmaster", "--core", "-p", fmt.Sprint(r.port), "-w", "1")
	cmd.Env = r.env()
	r.proc, _ = m.spawn("rosmaster", cmd)
	waitFor(t, 20*time.Second, "rosmaster listening", func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.port), 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// freePort asks the OS for a free tcp port on loopback (rosmaster takes a
// port number, not a listener).
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// env is the environment of ROS processes talking to this master on
// loopback only.
func (r *rosMaster) env() []string {
	return append(os.Environ(), "ROS_MASTER_URI="+r.uri, "ROS_HOSTNAME=127.0.0.1", "ROS_HOME="+r.home,
		"ROS_LOG_DIR="+r.home, "PYTHONUNBUFFERED=1")
}

// tool runs a ROS command-line tool of this master in the background.
func (r *rosMaster) tool(m *mesh, name string, args ...string) *proc {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = r.env()
	p, _ := m.spawn(name, cmd)
	return p
}

// run runs a ROS tool to its end, within d.
func (r *rosMaster) run(t testing.TB, d time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = r.env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// startGateway runs a pyros peer that bridges the master.
func (r *rosMaster) startGateway(m *mesh, name string) *proc {
	return m.startPeer(name, "--ros-master", r.uri)
}

// TestROSTopicToMesh: rostopic pub on ROS, pyros-peer echo on the mesh, for
// a flat and a nested type.
func TestROSTopicToMesh(t *testing.T) {
	m := newMesh(t)
	ros := startROSMaster(t, m)
	ros.startGateway(m, "gw")
	ros.tool(m, "rostopic-chatter", "/usr/bin/rostopic", "pub", "-r", "10", "/chatter", "std_msgs/String", "data: hello from ROS")
	ros.tool(m, "rostopic-twist", "/usr/bin/rostopic", "pub", "-r", "10", "/turtle/cmd_vel", "geometry_msgs/Twist", "{linear: {x: 0.25}, angular: {z: -1.5}}")
	out, errOut, code := m.cli("echo", "ros/chatter", "--count", "2", "--timeout", "30s")
	if code != 0 || strings.Count(out, `{"data":"hello from ROS"}`) != 2 {
		t.Fatalf("echo ros/chatter: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = m.cli("echo", "ros/turtle/cmd_vel", "--count", "1", "--timeout", "30s")
	if code != 0 || !strings.Contains(out, `"linear":{"x":0.25,"y":0,"z":0}`) || !strings.Contains(out, `"z":-1.5`) {
		t.Fatalf("echo ros/turtle/cmd_vel: exit %d\n%s\n%s", code, out, errOut)
	}
	streams, _, _ := m.cli("streams", "--json")
	if !strings.Contains(streams, `"type": "geometry_msgs/Twist"`) {
		t.Fatalf("the stream does not declare its ROS type:\n%s", streams)
	}
}

// TestMeshTopicToROS: pyros-peer pub on the mesh, rostopic echo on ROS.
func TestMeshTopicToROS(t *testing.T) {
	m := newMesh(t)
	ros := startROSMaster(t, m)
	ros.startGateway(m, "gw")
	pub := exec.Command(peerBin, "pub", "ros/robot/cmd_vel", `{"linear":{"x":1.5},"angular":{"z":0.5}}`,
		"--type", "geometry_msgs/Twist", "--rate", "10", "--count", "0")
	m.spawn("pub", pub)
	pub2 := exec.Command(peerBin, "pub", "ros/greeting", `{"data":"hello from the mesh"}`,
		"--type", "std_msgs/String", "--rate", "10", "--count", "0")
	m.spawn("pub2", pub2)
	var out string
	waitFor(t, 40*time.Second, "rostopic echo receiving /robot/cmd_vel", func() bool {
		o, err := ros.run(t, 10*time.Second, "/usr/bin/rostopic", "echo", "-n", "1", "/robot/cmd_vel")
		out = o
		return err == nil && strings.Contains(o, "x: 1.5") && strings.Contains(o, "z: 0.5")
	})
	waitFor(t, 20*time.Second, "rostopic echo receiving /greeting", func() bool {
		o, err := ros.run(t, 10*time.Second, "/usr/bin/rostopic", "echo", "-n", "1", "/greeting")
		out = o
		return err == nil && strings.Contains(o, `data: "hello from the mesh"`)
	})
	_ = out
}

// TestROSParamsAndState: a parameter set in ROS is read with pyros-peer
// state get, a state key under ros/ becomes a ROS parameter, and a
// parameter deleted in ROS leaves the shared state.
func TestROSParamsAndState(t *testing.T) {
	m := newMesh(t)
	ros := startROSMaster(t, m)
	m.startPeer("gw", "--ros-master", ros.uri, "--data", t.TempDir(), "--bootstrap-expect", "1")
	if out, err := ros.run(t, 20*time.Second, "/usr/bin/rosparam", "set", "/robot/speed", "3"); err != nil {
		t.Fatalf("rosparam set: %v\n%s", err, out)
	}
	waitFor(t, 20*time.Second, "the ROS parameter in the shared state", func() bool {
		out, _, code := m.cli("state", "get", "ros/robot/speed")
		return code == 0 && out == "3\n"
	})
	if _, errOut, code := m.cli("state", "put", "ros/robot/mode", `"auto"`); code != 0 {
		t.Fatalf("state put: %s", errOut)
	}
	waitFor(t, 20*time.Second, "the state key as a ROS parameter", func() bool {
		out, err := ros.run(t, 10*time.Second, "/usr/bin/rosparam", "get", "/robot/mode")
		return err == nil && strings.TrimSpace(out) == "auto"
	})
	if out, err := ros.run(t, 20*time.Second, "/usr/bin/rosparam", "set", "/robot/speed", "4.5"); err != nil {
		t.Fatalf("rosparam set: %v\n%s", err, out)
	}
	waitFor(t, 20*time.Second, "the changed ROS parameter in the shared state", func() bool {
		out, _, code := m.cli("state", "get", "ros/robot/speed")
		return code == 0 && out == "4.5\n"
	})
	if out, err := ros.run(t, 20*time.Second, "/usr/bin/rosparam", "delete", "/robot/speed"); err != nil {
		t.Fatalf("rosparam delete: %v\n%s", err, out)
	}
	waitFor(t, 20*time.Second, "the deleted ROS parameter gone from the shared state", func() bool {
		_, errOut, code := m.cli("state", "get", "ros/robot/speed")
		return code != 0 && strings.Contains(errOut, "not found")
	})
	if out, _, code := m.cli("state", "get", "ros/robot/mode"); code != 0 || out != "\"auto\"\n" {
		t.Fatalf("ros/robot/mode after another parameter's delete: exit %d %q", code, out)
	}
}

// TestROSParamLists: lists and dictionaries cross the gateway. A ROS
// dictionary's leaves become keys, lists included; a mesh list becomes a
// ROS list; a mesh map becomes a ROS dictionary whose leaves then take
// the map key's place, and a map written again at its name replaces them.
// Each value is copied once: the keys' revisions settle, every key at its
// first version.
func TestROSParamLists(t *testing.T) {
	m := newMesh(t)
	ros := startROSMaster(t, m)
	m.startPeer("gw", "--ros-master", ros.uri, "--data", t.TempDir(), "--bootstrap-expect", "1")
	c := m.peer("observer")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	rosparam := func(args ...string) {
		t.Helper()
		if out, err := ros.run(t, 20*time.Second, append([]string{"/usr/bin/rosparam"}, args...)...); err != nil {
			t.Fatalf("rosparam %v: %v\n%s", args, err, out)
		}
	}
	rosValue := func(name, want string) func() bool {
		return func() bool {
			out, err := ros.run(t, 10*time.Second, "/usr/bin/rosparam", "get", name)
			return err == nil && strings.TrimSpace(out) == want
		}
	}
	statePut := func(key, value string) {
		t.Helper()
		if _, errOut, code := m.cli("state", "put", key, value); code != 0 {
			t.Fatalf("state put %s %s: %s", key, value, errOut)
		}
	}
	// keys reads the keys under ros/: key -> value as JSON, rev, version.
	type entry struct {
		value    string
		rev, ver int64
	}
	keys := func() map[string]entry {
		es, _, err := c.State().List(ctx, "ros/")
		if err != nil {
			return nil
		}
		out := make(map[string]entry, len(es))
		for _, e := range es {
			var v any
			e.Decode(&v)
			b, _ := json.Marshal(codec.JSONable(v))
			out[e.Key] = entry{string(b), e.Rev, e.Version}
		}
		return out
	}
	has := func(want map[string]string) func() bool {
		return func() bool {
			got := keys()
			if len(got) != len(want) {
				return false
			}
			for k, v := range want {
				if got[k].value != v {
					return false
				}
			}
			return true
		}
	}
	// settled waits until the keys under ros/ have not changed for six
	// polls of the gateway, and checks that each was written once.
	settled := func(what string) {
		t.Helper()
		var last map[string]entry
		var since time.Time
		waitFor(t, 30*time.Second, what+": the keys under ros/ settling for 3 s", func() bool {
			got := keys()
			if got == nil || !maps.Equal(got, last) {
				last, since = got, time.Now()
				return false
			}
			return time.Since(since) > 3*time.Second
		})
		for k, e := range last {
			if e.ver != 1 {
				t.Errorf("%s: %s is at version %d: it was written %d times", what, k, e.ver, e.ver)
			}
		}
	}

	rosparam("set", "/pid", "{kp: 1.5, gains: [1, 2, 3], name: arm}")
	waitFor(t, 20*time.Second, "the leaves of the ROS dictionary /pid in the shared state", has(map[string]string{
		"ros/pid/kp": "1.5", "ros/pid/gains": "[1,2,3]", "ros/pid/name": `"arm"`}))
	if out, _, code := m.cli("state", "get", "ros/pid/gains"); code != 0 || out != "[1,2,3]\n" {
		t.Fatalf("state get ros/pid/gains: exit %d, %q", code, out)
	}

	statePut("ros/limits", "[0.5, 2.5]")
	waitFor(t, 20*time.Second, "the mesh list as a ROS list", rosValue("/limits", "- 0.5\n- 2.5"))

	statePut("ros/cfg", `{"a":1,"b":[true,false]}`)
	waitFor(t, 20*time.Second, "the mesh map as a ROS dictionary", rosValue("/cfg", "a: 1\nb:\n- true\n- false"))
	waitFor(t, 20*time.Second, "the map key giving way to the dictionary's leaves", has(map[string]string{
		"ros/pid/kp": "1.5", "ros/pid/gains": "[1,2,3]", "ros/pid/name": `"arm"`, "ros/limits": "[0.5,2.5]",
		"ros/cfg/a": "1", "ros/cfg/b": "[true,false]"}))
	settled("after the map")

	statePut("ros/cfg", `{"c":[{"x":1}]}`)
	waitFor(t, 20*time.Second, "the new map replacing the ROS dictionary", rosValue("/cfg", "c:\n- x: 1"))
	waitFor(t, 20*time.Second, "the new map's leaves replacing the old ones", has(map[string]string{
		"ros/pid/kp": "1.5", "ros/pid/gains": "[1,2,3]", "ros/pid/name": `"arm"`, "ros/limits": "[0.5,2.5]",
		"ros/cfg/c": `[{"x":1}]`}))
	settled("after the second map")
	if out, err := ros.run(t, 10*time.Second, "/usr/bin/rosparam", "list"); err != nil || strings.Contains(out, "/cfg/a") {
		t.Fatalf("rosparam list after the second map: %v\n%s", err, out)
	}

	// A client other than rospy sets an integer over 32 bits, which
	// rosmaster then cannot send: the rest is still mirrored.
	call := `<?xml version="1.0"?><methodCall><methodName>setParam</methodName><params>` +
		`<param><value>/other_client</value></param><param><value>/big</value></param>` +
		`<param><value><i8>5000000000</i8></value></param></params></methodCall>`
	resp, err := http.Post(ros.uri, "text/xml", strings.NewReader(call))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := ros.run(t, 10*time.Second, "/usr/bin/rosparam", "get", "/"); err == nil {
		t.Fatal("rosmaster sends its tree with an integer over 32 bits: the test no longer checks reading one by one")
	}
	rosparam("set", "/after_big", "[4, 5]")
	waitFor(t, 20*time.Second, "a parameter set next to one rosmaster cannot send", func() bool {
		e, ok := keys()["ros/after_big"]
		return ok && e.value == "[4,5]"
	})
	if _, ok := keys()["ros/big"]; ok {
		t.Fatal("ros/big in the shared state")
	}
}

// rospyServer is a rospy node providing /robot/reset (std_srvs/SetBool).
const rospyServer = `
import rospy
from std_srvs.srv import SetBool, SetBoolResponse
rospy.init_node('resetter')
rospy.Service('/robot/reset', SetBool, lambda req: SetBoolResponse(True, 'reset=%s by rospy' % req.data))
print('ready', flush=True)
rospy.spin()
`

// TestROSServicesBothWays: rosservice call reaches a Go mesh service, and
// pyros-peer call reaches a rospy service.
func TestROSServicesBothWays(t *testing.T) {
	m := newMesh(t)
	ros := startROSMaster(t, m)
	ros.startGateway(m, "gw")
	m.startRole("enabler", "setbool")
	var out string
	waitFor(t, 30*time.Second, "rosservice call of the Go service", func() bool {
		o, err := ros.run(t, 10*time.Second, "/usr/bin/rosservice", "call", "/robot/enable", "data: true")
		out = o
		return err == nil && strings.Contains(o, "success: True") && strings.Contains(o, "enabled=true by a Go peer")
	})
	py := exec.Command("/usr/bin/python3", "-c", rospyServer)
	py.Env = ros.env()
	m.start("rospy", py)
	waitFor(t, 30*time.Second, "pyros-peer call of the rospy service", func() bool {
		o, _, code := m.cli("call", "ros/robot/reset", `{"data":true}`)
		out = o
		return code == 0 && strings.Contains(o, `"message":"reset=True by rospy"`) && strings.Contains(o, `"success":true`)
	})
	_ = out
}

// rospyCounter publishes an increasing std_msgs/Int32 on /count at 20 Hz.
const rospyCounter = `
import rospy
from std_msgs.msg import Int32
rospy.init_node('counter')
pub = rospy.Publisher('/count', Int32, queue_size=100)
print('ready', flush=True)
n = 0
r = rospy.Rate(20)
while not rospy.is_shutdown():
    n += 1
    pub.publish(Int32(n))
    r.sleep()
`

// TestROSGatewayFailover runs two gateways to one master: exactly one
// bridges /count; SIGKILLed, the other takes over, and no message is ever
// delivered twice.
func TestROSGatewayFailover(t *testing.T) {
	m := newMesh(t)
	ros := startROSMaster(t, m)
	dir := t.TempDir()
	gws := map[string]*proc{}
	for _, name := range []string{"gw1", "gw2"} {
		gws[name] = m.startPeer(name, "--ros-master", ros.uri, "--data", dir+"/"+name, "--bootstrap-expect", "3")
	}
	m.startPeer("s3", "--data", dir+"/s3", "--bootstrap-expect", "3")
	py := exec.Command("/usr/bin/python3", "-c", rospyCounter)
	py.Env = ros.env()
	m.start("counter", py)

	c := m.peer("listener")
	var mu sync.Mutex
	seen := map[int]int{}          // value -> deliveries
	from := map[string]time.Time{} // gateway -> last delivery
	count := map[string]int{}      // gateway -> deliveries
	sub, err := c.Subscribe(context.Background(), "ros/count", func(msg peer.Message) {
		var v struct {
			Data int `msgpack:"data"`
		}
		msg.Decode(&v)
		mu.Lock()
		seen[v.Data]++
		from[msg.From()] = time.Now()
		count[msg.From()]++
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var owner string
	waitFor(t, 40*time.Second, "one gateway bridging /count", func() bool {
		es, _, err := c.State().List(ctx, "pyros/rosgw/owner/")
		for _, e := range es {
			if strings.HasSuffix(e.Key, "/topic /count") && err == nil {
				e.Decode(&owner)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		return owner != "" && count[owner] >= 20
	})
	other := map[string]string{"gw1": "gw2", "gw2": "gw1"}[owner]
	gws[owner].kill()
	killed := time.Now()
	var took time.Duration
	waitFor(t, 30*time.Second, other+" taking over", func() bool {
		mu.Lock()
		defer mu.Unlock()
		if took == 0 && from[other].After(killed) {
			took = time.Since(killed)
		}
		return count[other] >= 20
	})
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for _, n := range seen {
		if n > 1 {
			dups++
		}
	}
	if dups > 0 {
		t.Fatalf("%d values delivered more than once", dups)
	}
	t.Logf("%s bridged /count (%d messages); SIGKILLed, %s took over after %v (%d messages); %d values received, none twice",
		owner, count[owner], other, took.Round(time.Millisecond), count[other], len(seen))
}

// TestROSTwoMastersJoined joins two ROS masters through two gateways: a
// topic of master A reaches a subscriber on master B, and a service of
// master B answers a client on master A.
func TestROSTwoMastersJoined(t *testing.T) {
	m := newMesh(t)
	a, b := startROSMaster(t, m), startROSMaster(t, m)
	a.startGateway(m, "gw-a")
	b.startGateway(m, "gw-b")
	a.tool(m, "talker-a", "/usr/bin/rostopic", "pub", "-r", "10", "/chatter", "std_msgs/String", "data: hello from master A")
	py := exec.Command("/usr/bin/python3", "-c", rospyServer)
	py.Env = b.env()
	m.start("rospy-b", py)
	waitFor(t, 40*time.Second, "master B hearing master A's /chatter", func() bool {
		o, err := b.run(t, 10*time.Second, "/usr/bin/rostopic", "echo", "-n", "1", "/chatter")
		return err == nil && strings.Contains(o, "hello from master A")
	})
	waitFor(t, 40*time.Second, "master A calling master B's /robot/reset", func() bool {
		o, err := a.run(t, 10*time.Second, "/usr/bin/rosservice", "call", "/robot/reset", "data: false")
		return err == nil && strings.Contains(o, "reset=False by rospy")
	})
	// No loop: master A's /chatter has one publisher besides the talker at
	// most (none: gw-a only subscribes), and master B's only gw-b.
	o, err := a.run(t, 10*time.Second, "/usr/bin/rostopic", "info", "/chatter")
	pubs, _, _ := strings.Cut(o, "Subscribers:")
	if err != nil || strings.Contains(pubs, "pyros_") {
		t.Fatalf("a gateway publishes /chatter back into master A:\n%s", o)
	}
}

// TestROSGatewayMetrics: a gateway run with --http exports what it bridges
// at /metrics, and its Observation, asked from another peer, names it. In
// process, a gateway started, closed and started again on one registry
// reports, then leaves the registry and the Observation.
func TestROSGatewayMetrics(t *testing.T) {
	m := newMesh(t)
	ros := startROSMaster(t, m)
	gw := m.startPeer("gw", "--ros-master", ros.uri, "--http", "127.0.0.1:0", "--log-level", "info")
	mt := metricsRE.FindStringSubmatch(gw.ready)
	if mt == nil {
		t.Fatalf("ready line names no metrics URL: %q", gw.ready)
	}
	ros.tool(m, "rostopic-chatter", "/usr/bin/rostopic", "pub", "-r", "10", "/chatter", "std_msgs/String", "data: metered")
	py := exec.Command("/usr/bin/python3", "-c", rospyServer)
	py.Env = ros.env()
	m.start("rospy", py)

	var fams map[string]*dto.MetricFamily
	waitFor(t, 40*time.Second, "/chatter and /robot/reset bridged, in /metrics", func() bool {
		fams = scrapeMetrics(t, mt[1])
		topics, _ := metricValue(fams, "pyros_ros_bridges", map[string]string{"kind": "topic", "direction": "import"})
		services, _ := metricValue(fams, "pyros_ros_bridges", map[string]string{"kind": "service", "direction": "import"})
		up, _ := metricValue(fams, "pyros_ros_master_up", nil)
		_, chatter := metricValue(fams, "pyros_ros_bridge_info", map[string]string{"kind": "topic", "direction": "import", "ros": "/chatter", "mesh": "ros/chatter"})
		_, reset := metricValue(fams, "pyros_ros_bridge_info", map[string]string{"kind": "service", "direction": "import", "ros": "/robot/reset", "mesh": "ros/robot/reset"})
		return topics >= 1 && services >= 1 && up == 1 && chatter && reset
	})
	for _, kind := range []string{"topic", "service"} {
		for _, dir := range []string{"import", "export"} {
			if _, ok := metricValue(fams, "pyros_ros_bridges", map[string]string{"kind": kind, "direction": dir}); !ok {
				t.Errorf("pyros_ros_bridges{kind=%q,direction=%q} missing", kind, dir)
			}
		}
	}
	if _, ok := metricValue(fams, "pyros_ros_bridge_failures_total", nil); !ok {
		t.Error("pyros_ros_bridge_failures_total missing")
	}
	if _, ok := metricValue(fams, "pyros_members", nil); !ok {
		t.Error("the peer's own metrics are missing next to the gateway's")
	}

	c := m.peer("observer")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var o peer.Observation
	waitFor(t, 20*time.Second, "the gateway's observation naming its bridges", func() bool {
		octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
		defer ocancel()
		var err error
		o, err = c.Observe(octx, "gw")
		return err == nil && o.Gateway != nil && o.Gateway.Master == ros.uri &&
			slices.Contains(o.Gateway.TopicsImported, "ros/chatter") && slices.Contains(o.Gateway.ServicesImported, "ros/robot/reset")
	})
	if self := c.Observation(); self.Gateway != nil {
		t.Fatalf("a peer that is no gateway reports one: %+v", self.Gateway)
	}
	for _, svc := range o.Gateway.ServicesImported {
		if strings.HasSuffix(svc, "/get_loggers") || strings.HasSuffix(svc, "/set_logger_level") {
			t.Errorf("a node's logger service is bridged: %s", svc)
		}
	}
	if out, errs, code := m.cli("top", "--once"); code != 0 || !regexp.MustCompile(`(?m)^gw +alive +ros-gateway `).MatchString(out) {
		t.Errorf("top does not name gw a ros-gateway: exit %d\n%s%s", code, out, errs)
	}

	reg := prometheus.NewRegistry()
	for i := range 2 {
		g, err := rosgw.Start(ctx, c, rosgw.Config{Master: ros.uri, Include: []string{"/nothing"}, Metrics: reg})
		if err != nil {
			t.Fatalf("start %d on one registry: %v", i, err)
		}
		waitFor(t, 10*time.Second, "the in-process gateway reading the master", func() bool {
			fams, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			up, _ := metricValue(familyMap(fams), "pyros_ros_master_up", nil)
			return up == 1
		})
		if gi := c.Observation().Gateway; gi == nil || gi.Master != ros.uri {
			t.Fatalf("in-process gateway %d: observation %+v", i, gi)
		}
		g.Close()
		if fams, _ := reg.Gather(); len(fams) != 0 {
			t.Fatalf("closed gateway %d left %d metric families registered", i, len(fams))
		}
		if gi := c.Observation().Gateway; gi != nil {
			t.Fatalf("closed gateway %d still observed: %+v", i, gi)
		}
	}
	t.Logf("gateway observed: %+v", *o.Gateway)
}

// TestROSMasterRestart kills the ROS master under a running gateway and
// starts it again on the same port, as fault-tolerance experiments do with
// roscore: the gateway joins the new master by itself and bridges, both
// ways, the nodes started again, and the new parameter server gets the
// mesh's parameters back. A gateway started while the master is down fails,
// unless told to wait for it.
func TestROSMasterRestart(t *testing.T) {
	m := newMesh(t)
	ros := startROSMaster(t, m)
	gw := m.startPeer("gw", "--ros-master", ros.uri, "--http", "127.0.0.1:0", "--log-level", "info",
		"--data", t.TempDir(), "--bootstrap-expect", "1")
	mt := metricsRE.FindStringSubmatch(gw.ready)
	if mt == nil {
		t.Fatalf("ready line names no metrics URL: %q", gw.ready)
	}
	masterUp := func() float64 {
		v, _ := metricValue(scrapeMetrics(t, mt[1]), "pyros_ros_master_up", nil)
		return v
	}
	talker := ros.tool(m, "talker-before", "/usr/bin/rostopic", "pub", "-r", "10", "/chatter", "std_msgs/String", "data: before")
	m.spawn("pub-greeting", exec.Command(peerBin, "pub", "ros/greeting", `{"data":"hello from the mesh"}`,
		"--type", "std_msgs/String", "--rate", "10", "--count", "0"))

	c := m.peer("listener")
	var mu sync.Mutex
	count := map[string]int{}
	var firstAfter time.Time
	sub, err := c.Subscribe(context.Background(), "ros/chatter", func(msg peer.Message) {
		var v struct {
			Data string `msgpack:"data"`
		}
		msg.Decode(&v)
		mu.Lock()
		defer mu.Unlock()
		count[v.Data]++
		if v.Data == "after" && firstAfter.IsZero() {
			firstAfter = time.Now()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	received := func(data string, n int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return count[data] >= n
		}
	}
	waitFor(t, 40*time.Second, "'before' from /chatter on the mesh", received("before", 3))
	waitFor(t, 20*time.Second, "ros/greeting exported into ROS", func() bool {
		_, ok := metricValue(scrapeMetrics(t, mt[1]), "pyros_ros_bridge_info",
			map[string]string{"kind": "topic", "direction": "export", "ros": "/greeting", "mesh": "ros/greeting"})
		return ok
	})

	if _, errOut, code := m.cli("state", "put", "ros/robot/mode", `"auto"`); code != 0 {
		t.Fatalf("state put: %s", errOut)
	}
	rosParam := func(name, want string) func() bool {
		return func() bool {
			out, err := ros.run(t, 10*time.Second, "/usr/bin/rosparam", "get", name)
			return err == nil && strings.TrimSpace(out) == want
		}
	}
	waitFor(t, 20*time.Second, "the state key as a ROS parameter", rosParam("/robot/mode", "auto"))

	ros.proc.kill()
	talker.kill()
	waitFor(t, 10*time.Second, "the gateway seeing its master down", func() bool { return masterUp() == 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if g, err := rosgw.Start(ctx, c, rosgw.Config{Master: ros.uri, Include: []string{"/nothing"}}); err == nil {
		g.Close()
		t.Fatal("a gateway started with its master down")
	}
	reg := prometheus.NewRegistry()
	waiting, err := rosgw.Start(ctx, c, rosgw.Config{Master: ros.uri, Include: []string{"/nothing"}, Metrics: reg, WaitForMaster: true})
	if err != nil {
		t.Fatalf("a gateway told to wait for its master: %v", err)
	}
	defer waiting.Close()

	ros.launch(t, m)
	restarted := time.Now()
	ros.tool(m, "talker-after", "/usr/bin/rostopic", "pub", "-r", "10", "/chatter", "std_msgs/String", "data: after")
	waitFor(t, 30*time.Second, "'after' from /chatter on the mesh, past the master's restart", received("after", 3))
	mu.Lock()
	took := firstAfter.Sub(restarted)
	mu.Unlock()

	waitFor(t, 30*time.Second, "rostopic echo receiving the mesh's /greeting on the new master", func() bool {
		o, err := ros.run(t, 10*time.Second, "/usr/bin/rostopic", "echo", "-n", "1", "/greeting")
		return err == nil && strings.Contains(o, `data: "hello from the mesh"`)
	})
	py := exec.Command("/usr/bin/python3", "-c", rospyServer)
	py.Env = ros.env()
	m.start("rospy", py)
	waitFor(t, 30*time.Second, "pyros-peer call of a rospy service of the new master", func() bool {
		o, _, code := m.cli("call", "ros/robot/reset", `{"data":true}`)
		return code == 0 && strings.Contains(o, `"message":"reset=True by rospy"`)
	})
	waitFor(t, 20*time.Second, "the state key restored as a parameter of the new master", rosParam("/robot/mode", "auto"))
	if out, err := ros.run(t, 20*time.Second, "/usr/bin/rosparam", "set", "/robot/speed", "7"); err != nil {
		t.Fatalf("rosparam set: %v\n%s", err, out)
	}
	waitFor(t, 20*time.Second, "a parameter of the new master in the shared state", func() bool {
		out, _, code := m.cli("state", "get", "ros/robot/speed")
		return code == 0 && out == "7\n"
	})
	waitFor(t, 10*time.Second, "the waiting gateway joining the master", func() bool {
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		up, _ := metricValue(familyMap(fams), "pyros_ros_master_up", nil)
		return up == 1
	})
	if up := masterUp(); up != 1 {
		t.Fatalf("pyros_ros_master_up %v after the restart", up)
	}
	t.Logf("first 'after' on the mesh %v after the master's restart (rostopic pub started then)", took.Round(time.Millisecond))
}

// TestROSWait starts a gateway before its master: without --ros-wait it
// fails at once with a clear error; with it, it waits and bridges once
// rosmaster is up.
func TestROSWait(t *testing.T) {
	m := newMesh(t)
	port := freePort(t)
	ros := &rosMaster{uri: fmt.Sprintf("http://127.0.0.1:%d", port), port: port, home: t.TempDir()}
	_, errs, code := m.cli("run", "--name", "impatient", "--ros-master", ros.uri)
	if code == 0 || !strings.Contains(errs, "no ROS master at "+ros.uri) {
		t.Fatalf("a gateway without a master: exit %d, %q", code, errs)
	}
	m.startPeer("patient", "--ros-master", ros.uri, "--ros-wait")
	ros.launch(t, m)
	ros.tool(m, "rostopic-chatter", "/usr/bin/rostopic", "pub", "-r", "10", "/chatter", "std_msgs/String", "data: late master")
	out, errOut, code := m.cli("echo", "ros/chatter", "--count", "1", "--timeout", "30s")
	if code != 0 || !strings.Contains(out, `{"data":"late master"}`) {
		t.Fatalf("echo ros/chatter: exit %d\n%s\n%s", code, out, errOut)
	}
}
