package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// netLab is a test's private network: hosts in their own network namespaces
// on a virtual switch that can be split into partitions.
//
// The switch is a namespace of its own holding one bridge per group; host i
// is a namespace whose eth0 is one end of a veth pair, the other end being
// port vI-SUFFIX of the switch. A partition moves ports between bridges, so
// packets between groups are really lost. Nothing touches the machine's own
// interfaces.
type netLab struct {
	t       testing.TB
	suffix  string       // random, makes names unique per test
	hosts   int          // number of hosts
	sw      string       // the switch namespace
	made    []string     // namespaces made so far, for cleanup
	bridges map[int]bool // bridges made so far, by group
}

// netLabTimeout bounds how long a change to the lab may take to settle.
const netLabTimeout = 5 * time.Second

// newNetLab creates n hosts on one switch, all able to talk to each other.
// It fails the test when namespaces cannot be made; cleanup deletes them.
func newNetLab(t testing.TB, n int) *netLab {
	t.Helper()
	if n < 1 || n > 240 {
		t.Fatalf("netLab: %d hosts, want 1..240", n)
	}
	l := &netLab{t: t, hosts: n, bridges: map[int]bool{}}
	t.Cleanup(l.cleanup)
	l.makeSwitch()
	for i := range n {
		l.makeHost(i)
	}
	l.waitPorts(make([]int, n))
	return l
}

// makeSwitch creates the switch namespace under a fresh random suffix.
func (l *netLab) makeSwitch() {
	l.t.Helper()
	var err error
	for range 5 {
		l.suffix = fmt.Sprintf("%04x", rand.IntN(1<<16))
		l.sw = "pyr-sw-" + l.suffix
		if err = l.ip("netns", "add", l.sw); err == nil {
			l.made = append(l.made, l.sw)
			l.bridge(0)
			return
		}
		if !strings.Contains(err.Error(), "File exists") {
			break
		}
	}
	l.t.Fatalf("netLab needs root and iproute2 (ip netns): %v", err)
}

// makeHost creates host i's namespace and plugs its eth0 into bridge 0.
func (l *netLab) makeHost(i int) {
	l.t.Helper()
	ns, port := l.ns(i), l.port(i)
	l.must("netns", "add", ns)
	l.made = append(l.made, ns)
	l.must("-n", l.sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
	l.must("-n", ns, "link", "set", "lo", "up")
	l.must("-n", ns, "addr", "add", l.addr(i)+"/24", "dev", "eth0")
	l.must("-n", ns, "link", "set", "eth0", "up")
	l.must("-n", l.sw, "link", "set", port, "master", "br0", "up")
}

// bridge makes sure the bridge of group g exists and is up. STP is off and
// the forward delay zero, so a port forwards as soon as it joins; multicast
// is flooded to every port, as a plain LAN switch does.
func (l *netLab) bridge(g int) string {
	l.t.Helper()
	br := fmt.Sprintf("br%d", g)
	if !l.bridges[g] {
		l.must("-n", l.sw, "link", "add", br, "type", "bridge", "forward_delay", "0", "stp_state", "0", "mcast_snooping", "0")
		l.bridges[g] = true
	}
	l.must("-n", l.sw, "link", "set", br, "up")
	return br
}

// cleanup deletes every namespace the lab made, the switch first; the
// bridges and veth pairs go with them.
func (l *netLab) cleanup() {
	for _, ns := range l.made {
		if err := l.ip("netns", "del", ns); err != nil {
			l.t.Errorf("netLab cleanup: %v", err)
		}
	}
}

// addr is host i's IPv4 address.
func (l *netLab) addr(i int) string { return fmt.Sprintf("10.201.0.%d", 10+i) }

// ns is host i's namespace name.
func (l *netLab) ns(i int) string { return fmt.Sprintf("pyr-h%d-%s", i, l.suffix) }

// port is the switch-side end of host i's veth pair.
func (l *netLab) port(i int) string { return fmt.Sprintf("v%d-%s", i, l.suffix) }

// command runs name inside host i's namespace.
func (l *netLab) command(i int, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", l.ns(i), name}, args...)...)
}

// partition splits the hosts: hosts in different groups can no longer
// exchange packets, hosts in the same group still can, and hosts not listed
// go to the first group. It returns once the switch forwards that way.
// Call it from the test's goroutine only.
func (l *netLab) partition(groups ...[]int) {
	l.t.Helper()
	group := make([]int, l.hosts)
	seen := make([]bool, l.hosts)
	for g, hosts := range groups {
		for _, i := range hosts {
			if i < 0 || i >= l.hosts || seen[i] {
				l.t.Fatalf("netLab partition %v: bad or repeated host %d", groups, i)
			}
			seen[i], group[i] = true, g
		}
	}
	l.apply(group)
}

// heal puts every host back on one bridge, so everyone can talk again.
func (l *netLab) heal() {
	l.t.Helper()
	l.apply(make([]int, l.hosts))
}

// apply moves host i's port to the bridge of group[i] and waits for it.
func (l *netLab) apply(group []int) {
	l.t.Helper()
	for i, g := range group {
		l.must("-n", l.sw, "link", "set", l.port(i), "master", l.bridge(g))
	}
	l.waitPorts(group)
}

// waitPorts polls until host i's port is a forwarding port of the bridge
// of group[i], for every host.
func (l *netLab) waitPorts(group []int) {
	l.t.Helper()
	deadline := time.Now().Add(netLabTimeout)
	for i, g := range group {
		want := fmt.Sprintf("br%d forwarding", g)
		for got := l.portState(i); got != want; got = l.portState(i) {
			if time.Now().After(deadline) {
				l.t.Fatalf("netLab: port %s is %q, want %q after %v", l.port(i), got, want, netLabTimeout)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// portState is host i's switch port as "MASTER STATE", e.g. "br0 forwarding".
func (l *netLab) portState(i int) string {
	out, err := l.output("-j", "-n", l.sw, "-d", "link", "show", l.port(i))
	if err != nil {
		return err.Error()
	}
	var links []struct {
		Master   string `json:"master"`
		LinkInfo struct {
			SlaveData struct {
				State string `json:"state"`
			} `json:"info_slave_data"`
		} `json:"linkinfo"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		return fmt.Sprintf("unparsable %q", out)
	}
	return links[0].Master + " " + links[0].LinkInfo.SlaveData.State
}

// must runs ip with args and fails the test if it fails.
func (l *netLab) must(args ...string) {
	l.t.Helper()
	if err := l.ip(args...); err != nil {
		l.t.Fatalf("netLab: %v", err)
	}
}

// ip runs ip with args; the error names the command and its output.
func (l *netLab) ip(args ...string) error {
	_, err := l.output(args...)
	return err
}

// output runs ip with args and returns its stdout.
func (l *netLab) output(args ...string) ([]byte, error) {
	cmd := exec.Command("ip", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)+stderr.String()))
	}
	return out, nil
}

// TestNetLabPartition checks the lab with real TCP connections: every host
// runs a listener that answers with its name, and a host reaches another
// when it reads that name back.
func TestNetLabPartition(t *testing.T) {
	for _, tool := range []string{"ip", "python3", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("netLab test needs root, iproute2, python3 and bash: %v", err)
		}
	}
	l := newNetLab(t, 3)
	for i := range 3 {
		listen(t, l, i)
	}
	for from := range 3 {
		for to := range 3 {
			if from != to {
				waitReach(t, l, from, to)
			}
		}
	}

	l.partition([]int{0}, []int{1, 2})
	cut := make(chan string, 4)
	for _, p := range [][2]int{{0, 1}, {1, 0}, {0, 2}, {2, 0}} {
		go func() {
			if reach(l, p[0], p[1]) {
				cut <- fmt.Sprintf("host %d reaches host %d across the partition", p[0], p[1])
				return
			}
			cut <- ""
		}()
	}
	waitReach(t, l, 1, 2)
	waitReach(t, l, 2, 1)
	for range 4 {
		if msg := <-cut; msg != "" {
			t.Error(msg)
		}
	}

	l.heal()
	waitReach(t, l, 0, 1)
	waitReach(t, l, 1, 0)
}

// netLabPort is the TCP port of the listeners in TestNetLabPartition.
const netLabPort = "7070"

// listen runs a listener on host i that writes "host I" to every
// connection, and waits until it listens.
func listen(t *testing.T, l *netLab, i int) {
	t.Helper()
	const server = `
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.sendall(sys.argv[3].encode() + b"\n")
    c.close()
`
	cmd := l.command(i, "python3", "-c", server, l.addr(i), netLabPort, fmt.Sprintf("host %d", i))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = testWriter{t, fmt.Sprintf("listener %d", i)}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("listener on host %d did not start", i)
	}
}

// reach reports whether host from gets host to's name over TCP within a second.
func reach(l *netLab, from, to int) bool {
	const client = `exec 3<>"/dev/tcp/$0/$1" && read -r line <&3 && printf %s "$line"`
	cmd := l.command(from, "bash", "-c", client, l.addr(to), netLabPort)
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		return false
	}
	timer := time.AfterFunc(time.Second, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	return err == nil && out.String() == fmt.Sprintf("host %d", to)
}

// waitReach polls until host from reaches host to.
func waitReach(t *testing.T, l *netLab, from, to int) {
	t.Helper()
	waitFor(t, netLabTimeout, fmt.Sprintf("host %d reaches host %d", from, to), func() bool { return reach(l, from, to) })
}
