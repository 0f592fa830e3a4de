package e2e

import (
	"crypto/rand"
	"encoding/binary"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var readyRE = regexp.MustCompile(`gossip (\S+), links (tcp://\S+) (ipc://\S+)?`)

// TestHostileBytesOnEveryPort sends garbage, truncated handshakes and
// frames claiming 64 GiB to every port a peer process opens (gossip tcp and
// udp, tcp and ipc links), then checks it still serves and did not balloon.
func TestHostileBytesOnEveryPort(t *testing.T) {
	m := newMesh(t)
	victim := m.startPeer("target", "--demo")
	parts := readyRE.FindStringSubmatch(victim.ready)
	if parts == nil {
		t.Fatalf("ready line: %q", victim.ready)
	}
	gossip, tcpLink, ipcLink := parts[1], strings.TrimPrefix(parts[2], "tcp://"), strings.TrimPrefix(parts[3], "ipc://")

	streams := hostileStreams()
	for _, target := range []struct{ network, addr string }{{"tcp", gossip}, {"tcp", tcpLink}, {"unix", ipcLink}} {
		for _, s := range streams {
			c, err := net.DialTimeout(target.network, target.addr, time.Second)
			if err != nil {
				t.Fatalf("dial %s %s: %v", target.network, target.addr, err)
			}
			c.SetDeadline(time.Now().Add(time.Second))
			c.Write(s)
			c.Close()
		}
	}
	udp, err := net.Dial("udp", gossip)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range streams {
		udp.Write(s)
	}
	for range 2000 {
		udp.Write(randomBytes(1 + int(randomBytes(1)[0])*4))
	}
	udp.Close()

	select {
	case <-victim.done:
		t.Fatal("the peer died")
	default:
	}
	out, errOut, code := m.cli("call", "demo/echo", `"still here"`)
	if code != 0 || out != "\"still here\"\n" {
		t.Fatalf("peer no longer serves: exit %d %q %q", code, out, errOut)
	}
	if rss := rssMiB(t, victim.cmd.Process.Pid); rss > 300 {
		t.Fatalf("peer grew to %d MiB", rss)
	}
}

func hostileStreams() [][]byte {
	greeting := make([]byte, 64)
	greeting[0], greeting[9], greeting[10] = 0xff, 0x7f, 3
	copy(greeting[12:], "NULL")
	huge := append(append([]byte{}, greeting...), 0x02, 0, 0, 0, 0x10, 0, 0, 0, 0) // 64 GiB frame
	hugeCmd := append(append([]byte{}, greeting...), 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	// memberlist stream headers claiming huge sizes: a push/pull with a
	// giant node count, a compressed and an encrypted message with giant lengths
	pushPull := []byte{6, 0x83}
	pushPull = append(pushPull, []byte("Nodes\xce\xff\xff\xff\xff")...)
	compressed := []byte{9, 0xdb, 0xff, 0xff, 0xff, 0xff}
	labeled := []byte{11, 0xff}
	big := make([]byte, 4)
	binary.BigEndian.PutUint32(big, 0xffffffff)
	encrypted := append([]byte{8}, big...)
	streams := [][]byte{huge, hugeCmd, greeting[:20], pushPull, compressed, labeled, encrypted}
	for i := range 300 {
		streams = append(streams, randomBytes(1+i*7), append(append([]byte{}, greeting...), randomBytes(1+i*3)...), append([]byte{byte(i % 16)}, randomBytes(i)...))
	}
	return streams
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func rssMiB(t *testing.T, pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return kb / 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
