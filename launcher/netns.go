package launcher

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// ErrNetns is returned when network namespaces cannot be made (it needs
// root and iproute2).
var ErrNetns = errors.New("launcher: network namespaces need root and iproute2 (ip netns)")

// lab is the private LAN of a mesh run with Config.Netns: one network
// namespace per peer, each with an eth0 plugged into a virtual switch (a
// namespace holding one bridge per partition group). Partitions move the
// switch ports between bridges, so packets between groups are really
// lost. Nothing touches the machine's own interfaces.
type lab struct {
	tag     string // random suffix of every name
	hosts   int
	bridges map[int]bool
	made    []string // namespaces, switch first
}

func newLab(hosts int) (*lab, error) {
	b := make([]byte, 3)
	rand.Read(b)
	l := &lab{tag: hex.EncodeToString(b), hosts: hosts, bridges: map[int]bool{}}
	if err := l.ip("netns", "add", l.sw()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNetns, err)
	}
	l.made = append(l.made, l.sw())
	if err := l.bridge(0); err != nil {
		l.close()
		return nil, err
	}
	for i := range hosts {
		if err := l.host(i); err != nil {
			l.close()
			return nil, err
		}
	}
	return l, nil
}

func (l *lab) sw() string              { return "pyu-sw-" + l.tag }
func (l *lab) ns(i int) string         { return fmt.Sprintf("pyu-%d-%s", i, l.tag) }
func (l *lab) port(i int) string       { return fmt.Sprintf("port%d", i) }
func (l *lab) addr(i int) string       { return fmt.Sprintf("10.202.%d.%d", (10+i)/250, (10+i)%250+1) }
func (l *lab) bridgeName(g int) string { return fmt.Sprintf("br%d", g) }

// host makes host i's namespace and plugs its eth0 into bridge 0.
func (l *lab) host(i int) error {
	ns := l.ns(i)
	if err := l.ip("netns", "add", ns); err != nil {
		return err
	}
	l.made = append(l.made, ns)
	for _, args := range [][]string{
		{"-n", l.sw(), "link", "add", l.port(i), "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "addr", "add", l.addr(i) + "/16", "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", l.sw(), "link", "set", l.port(i), "master", l.bridgeName(0), "up"},
	} {
		if err := l.ip(args...); err != nil {
			return err
		}
	}
	return nil
}

// bridge makes sure the bridge of group g exists and is up: no STP, no
// forwarding delay, multicast flooded as by a plain switch.
func (l *lab) bridge(g int) error {
	if !l.bridges[g] {
		if err := l.ip("-n", l.sw(), "link", "add", l.bridgeName(g), "type", "bridge",
			"forward_delay", "0", "stp_state", "0", "mcast_snooping", "0"); err != nil {
			return err
		}
		l.bridges[g] = true
	}
	return l.ip("-n", l.sw(), "link", "set", l.bridgeName(g), "up")
}

// apply moves host i's port to the bridge of group[i] and waits until it
// forwards there.
func (l *lab) apply(group []int) error {
	for i, g := range group {
		if err := l.bridge(g); err != nil {
			return err
		}
		if err := l.ip("-n", l.sw(), "link", "set", l.port(i), "master", l.bridgeName(g)); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for i, g := range group {
		want := l.bridgeName(g) + " forwarding"
		for got := l.portState(i); got != want; got = l.portState(i) {
			if time.Now().After(deadline) {
				return fmt.Errorf("launcher: switch port %d is %q, want %q", i, got, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// portState is host i's switch port as "MASTER STATE".
func (l *lab) portState(i int) string {
	out, err := exec.Command("ip", "-j", "-n", l.sw(), "-d", "link", "show", l.port(i)).Output()
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
	if json.Unmarshal(out, &links) != nil || len(links) != 1 {
		return "unreadable"
	}
	return links[0].Master + " " + links[0].LinkInfo.SlaveData.State
}

// command runs name with args inside host i's namespace.
func (l *lab) command(i int, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", l.ns(i), name}, args...)...)
}

// close deletes the namespaces, the switch first; bridges and veth pairs
// go with them.
func (l *lab) close() {
	for _, ns := range l.made {
		l.ip("netns", "del", ns)
	}
	l.made = nil
}

func (l *lab) ip(args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.Command("ip", args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("launcher: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
