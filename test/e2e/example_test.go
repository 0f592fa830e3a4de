package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestExampleServices runs examples/services against a demo peer, as the
// README tells a newcomer to.
func TestExampleServices(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "services")
	if out, err := exec.Command("go", "build", "-o", bin, "../../examples/services").CombinedOutput(); err != nil {
		t.Fatalf("build example: %v\n%s", err, out)
	}
	m := newMesh(t)
	m.startPeer("alice", "--demo")
	ex := m.start("greeter", exec.Command(bin))
	waitFor(t, 20*time.Second, "the example calling demo/add", func() bool {
		return strings.Contains(ex.output(), "demo/add(2, 3) = 5")
	})
	waitFor(t, 20*time.Second, "example/greet callable", func() bool {
		out, _, code := m.cli("call", "example/greet", `"newcomer"`)
		return code == 0 && out == "\"hello, newcomer, from greeter\"\n"
	})
}

// TestExampleStreams runs examples/streams next to a demo peer: it receives
// demo/ticks, and `pyros-peer echo` receives its example/temperature.
func TestExampleStreams(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "streams")
	if out, err := exec.Command("go", "build", "-o", bin, "../../examples/streams").CombinedOutput(); err != nil {
		t.Fatalf("build example: %v\n%s", err, out)
	}
	m := newMesh(t)
	m.startPeer("alice", "--demo")
	ex := m.start("thermometer", exec.Command(bin))
	waitFor(t, 20*time.Second, "the example printing ticks", func() bool {
		return strings.Contains(ex.output(), "from alice")
	})
	out, errOut, code := m.cli("echo", "example/temperature", "--count", "2", "--timeout", "20s")
	if code != 0 || strings.Count(out, `"celsius"`) != 2 || !strings.Contains(out, `"sensor":"lab"`) {
		t.Fatalf("echo example/temperature: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestExampleState runs two examples/state next to a state server: one
// holds the lock and counts; SIGKILLed, the other takes over and counts on.
func TestExampleState(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "state")
	if out, err := exec.Command("go", "build", "-o", bin, "../../examples/state").CombinedOutput(); err != nil {
		t.Fatalf("build example: %v\n%s", err, out)
	}
	m := newMesh(t)
	m.startPeer("keeper", "--data", t.TempDir(), "--bootstrap-expect", "1")
	first := m.start("worker-1", exec.Command(bin, "--name", "worker-1"))
	waitFor(t, 20*time.Second, "worker-1 counting", func() bool { return strings.Contains(first.output(), "counter = 2") })
	second := m.start("worker-2", exec.Command(bin, "--name", "worker-2"))
	if !strings.Contains(second.ready, "waiting for example/lock held by worker-1") {
		t.Fatalf("worker-2 began with %q", second.ready)
	}
	first.kill()
	waitFor(t, 20*time.Second, "worker-2 taking over", func() bool {
		return strings.Contains(second.output(), "holding example/lock as worker-2")
	})
	waitFor(t, 10*time.Second, "worker-2 counting on", func() bool {
		out, _, code := m.cli("state", "get", "example/counter")
		var n int
		fmt.Sscan(out, &n)
		return code == 0 && n >= 4
	})
}

// TestExampleROS runs examples/ros with a gateway to a real ROS master: ROS
// tools see its topic and call its service, and it hears a ROS topic.
func TestExampleROS(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ros")
	if out, err := exec.Command("go", "build", "-o", bin, "../../examples/ros").CombinedOutput(); err != nil {
		t.Fatalf("build example: %v\n%s", err, out)
	}
	m := newMesh(t)
	ros := startROSMaster(t, m)
	ros.startGateway(m, "gw")
	ex := m.start("ros-example", exec.Command(bin))
	waitFor(t, 40*time.Second, "rostopic echo /turtle1/cmd_vel", func() bool {
		o, err := ros.run(t, 10*time.Second, "/usr/bin/rostopic", "echo", "-n", "1", "/turtle1/cmd_vel")
		return err == nil && strings.Contains(o, "x: 1.0") && strings.Contains(o, "z: 0.5")
	})
	waitFor(t, 30*time.Second, "rosservice call /robot/enable", func() bool {
		o, err := ros.run(t, 10*time.Second, "/usr/bin/rosservice", "call", "/robot/enable", "data: true")
		return err == nil && strings.Contains(o, "enabled=true")
	})
	ros.tool(m, "talker", "/usr/bin/rostopic", "pub", "-r", "10", "/chatter", "std_msgs/String", "data: hi example")
	waitFor(t, 30*time.Second, "the example hearing /chatter", func() bool {
		return strings.Contains(ex.output(), "/chatter: hi example")
	})
}

// TestExamplePython runs examples/python/camera.py with Debian's CPython
// next to a Go demo peer that keeps the shared state.
func TestExamplePython(t *testing.T) {
	m := newMesh(t)
	m.startPeer("alice", "--demo", "--data", t.TempDir(), "--bootstrap-expect", "1")
	root, _ := filepath.Abs("../..")
	cmd := exec.Command(debianPython, filepath.Join(root, "examples/python/camera.py"))
	cmd.Env = []string{"PYROS_PEER=" + peerBin, "PYTHONPATH=" + filepath.Join(root, "python"), "PYTHONUNBUFFERED=1"}
	ex := m.start("camera", cmd)
	if ex.ready != "demo/add(2, 3) = 5" {
		t.Fatalf("the example began with %q", ex.ready)
	}
	waitFor(t, 20*time.Second, "the example's ticks and state", func() bool {
		out := ex.output()
		return strings.Contains(out, "tick ") && strings.Contains(out, "shots so far: 5")
	})
	out, errOut, code := m.cli("call", "cam/snap", `{"fail":false}`)
	if code != 0 || !strings.Contains(out, `"width":640`) {
		t.Fatalf("call cam/snap: exit %d %q %q", code, out, errOut)
	}
	if _, errOut, code := m.cli("call", "cam/snap", `{"fail":true}`); code != 1 || !strings.Contains(errOut, "ValueError: the lens cap is on") {
		t.Fatalf("a Python exception: exit %d %q", code, errOut)
	}
	if out, _, code := m.cli("state", "get", "cam/shots"); code != 0 || out != "5\n" {
		t.Fatalf("cam/shots: %q", out)
	}
}

// TestExampleLAN runs examples/lan/lan.sh as the README says (as root):
// three namespaced machines find each other with no address and one key,
// and an outsider with another key sees nobody.
func TestExampleLAN(t *testing.T) {
	cmd := exec.Command("bash", "../../examples/lan/lan.sh", peerBin)
	cmd.WaitDelay = 10 * time.Second
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
		case <-time.After(90 * time.Second):
			cmd.Process.Signal(os.Interrupt)
		}
	}()
	out, err := cmd.CombinedOutput()
	t.Logf("lan.sh:\n%s", out)
	if err != nil {
		t.Fatalf("lan.sh: %v", err)
	}
	s := string(out)
	members := s[strings.Index(s, "as machine2 sees them"):strings.Index(s, "machine2 calls")]
	for i := range 3 {
		if !strings.Contains(members, fmt.Sprintf("\nmachine%d ", i)) {
			t.Errorf("machine%d missing from the members", i)
		}
	}
	if !strings.Contains(s, "provided by machine0\n5\n") {
		t.Error("the call across machines did not answer 5")
	}
	outsider := s[strings.Index(s, "an outsider"):]
	if strings.Contains(outsider, "\nmachine") {
		t.Errorf("the outsider saw members:\n%s", outsider)
	}
	if left, err := exec.Command("pgrep", "-f", peerBin+" run --name machine").Output(); err == nil {
		t.Errorf("lan.sh left peers running: pids %s", strings.Fields(string(left)))
	}
}

// TestExampleObserve runs examples/observe next to a demo peer: it prints
// what alice served, and serves the map and its metrics.
func TestExampleObserve(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "observe")
	if out, err := exec.Command("go", "build", "-o", bin, "../../examples/observe").CombinedOutput(); err != nil {
		t.Fatalf("build example: %v\n%s", err, out)
	}
	m := newMesh(t)
	m.startPeer("alice", "--demo")
	ex := m.start("watcher", exec.Command(bin, "-http", "127.0.0.1:0", "-every", "300ms"))
	u := regexp.MustCompile(`^map at (http://\S+/), metrics at (\S+)$`).FindStringSubmatch(ex.ready)
	if u == nil {
		t.Fatalf("the example began with %q", ex.ready)
	}
	waitFor(t, 20*time.Second, "a call to alice's demo/echo", func() bool {
		_, _, code := m.cli("call", "demo/echo", `"hi"`)
		return code == 0
	})
	waitFor(t, 20*time.Second, "the example printing alice's served calls", func() bool {
		return regexp.MustCompile(`alice +up \S+ +sees \d+, links to \d+, served: .*demo/echo [1-9]`).MatchString(ex.output())
	})
	for _, c := range []struct{ url, want string }{{u[1], "app.js"}, {u[2], "pyros_members"}} {
		resp, err := http.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), c.want) {
			t.Errorf("GET %s: %d, no %q in %.200s", c.url, resp.StatusCode, c.want, body)
		}
	}
}
