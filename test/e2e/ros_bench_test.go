package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

// rospyBurst publishes std_msgs/Float64 stamps (time.time()) on /bench as
// fast as it can, once a subscriber is connected, then stops.
const rospyBurst = `
import rospy, sys, time
from std_msgs.msg import Float64
rospy.init_node('burst')
pub = rospy.Publisher('/bench', Float64, queue_size=10000)
print('ready', flush=True)
while pub.get_num_connections() < int(sys.argv[1]) and not rospy.is_shutdown():
    time.sleep(0.01)
time.sleep(1)
for i in range(int(sys.argv[2])):
    pub.publish(Float64(time.time()))
    if i % 200 == 0:
        time.sleep(0.01)  # as a sensor would, in bursts
time.sleep(5)
`

// rospyReceiver counts /bench on ROS directly and prints its figures as
// JSON once no message came for 2 s.
const rospyReceiver = `
import rospy, time, json, threading
from std_msgs.msg import Float64
rospy.init_node('receiver')
lat, first, last = [], [0], [0]
def cb(m):
    now = time.time()
    if not lat: first[0] = now
    last[0] = now
    lat.append(now - m.data)
rospy.Subscriber('/bench', Float64, cb, queue_size=10000)
print('ready', flush=True)
while not lat: time.sleep(0.05)
while time.time() - last[0] < 2: time.sleep(0.1)
lat.sort()
print(json.dumps({"n": len(lat), "secs": last[0]-first[0], "p50": lat[len(lat)//2], "p99": lat[len(lat)*99//100]}), flush=True)
`

type benchFigures struct {
	N    int     `json:"n"`
	Secs float64 `json:"secs"`
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
}

// BenchmarkROSBridge compares, in one run, a rospy subscriber receiving a
// rospy publisher's burst directly with a mesh subscriber receiving the
// same burst through a gateway: messages per second and latency.
func BenchmarkROSBridge(b *testing.B) {
	const burst = 5000
	for range b.N {
		direct, bridged := rosBridgeOnce(b, burst)
		b.ReportMetric(float64(direct.N)/direct.Secs, "direct-msg/s")
		b.ReportMetric(float64(bridged.N)/bridged.Secs, "bridged-msg/s")
		b.ReportMetric(direct.P50*1e6, "direct-p50-µs")
		b.ReportMetric(bridged.P50*1e6, "bridged-p50-µs")
		b.ReportMetric(bridged.P99*1e6, "bridged-p99-µs")
		b.ReportMetric(float64(bridged.N), "bridged-received")
		b.ReportMetric(float64(direct.N), "direct-received")
	}
}

func rosBridgeOnce(b *testing.B, burst int) (direct, bridged benchFigures) {
	m := newMesh(b)
	ros := startROSMaster(b, m)
	ros.startGateway(m, "gw")
	recv := exec.Command("/usr/bin/python3", "-c", rospyReceiver)
	recv.Env = ros.env()
	rp := m.start("receiver", recv)
	c := m.peer("bench-sub")
	var mu sync.Mutex
	var lat []float64
	var first, last time.Time
	sub, err := c.Subscribe(context.Background(), "ros/bench", func(msg peer.Message) {
		var v struct {
			Data float64 `msgpack:"data"`
		}
		msg.Decode(&v)
		now := time.Now()
		mu.Lock()
		if first.IsZero() {
			first = now
		}
		last = now
		lat = append(lat, float64(now.UnixNano())/1e9-v.Data)
		mu.Unlock()
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	pub := exec.Command("/usr/bin/python3", "-c", rospyBurst, "2", strconv.Itoa(burst))
	pub.Env = ros.env()
	m.start("burst", pub)
	waitFor(b, 60*time.Second, "the direct receiver's figures", func() bool {
		return strings.Contains(rp.output(), `"n"`)
	})
	lines := strings.Split(rp.output(), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &direct); err != nil {
		b.Fatalf("receiver: %v: %q", err, rp.output())
	}
	waitFor(b, 30*time.Second, "the bridged burst to end", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(lat) > 0 && time.Since(last) > 2*time.Second
	})
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	bridged = benchFigures{N: len(lat), Secs: last.Sub(first).Seconds(), P50: lat[len(lat)/2], P99: lat[len(lat)*99/100]}
	b.Logf("direct: %d msgs, %.0f msg/s, p50 %.0f µs; bridged: %d msgs, %.0f msg/s, p50 %.0f µs, p99 %.0f µs",
		direct.N, float64(direct.N)/direct.Secs, direct.P50*1e6, bridged.N, float64(bridged.N)/bridged.Secs, bridged.P50*1e6, bridged.P99*1e6)
	return direct, bridged
}
