package e2e

import (
	"crypto/rand"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	readyRE = regexp.MustCompile(`gossip (\S+), links (tcp://\S+) (ipc://[^\s,]+)?`)
	raftRE  = regexp.MustCompile(`raft ([0-9.:]+)\)`)
)

// TestHostileBytesOnEveryPort sends garbage, truncated handshakes and
// frames claiming 64 GiB to every port a peer process opens (gossip tcp and
// udp, tcp and ipc links, the raft transport of a state server), then
// checks it still serves and did not balloon: an open peer, and one with a
// mesh key, whose tcp ports speak TLS.
func TestHostileBytesOnEveryPort(t *testing.T) {
	t.Run("open", func(t *testing.T) { hostileBytes(t, false) })
	t.Run("keyed", func(t *testing.T) { hostileBytes(t, true) })
}

func hostileBytes(t *testing.T, keyed bool) {
	m := newMesh(t)
	var keyArgs []string
	if keyed {
		key, _, _ := m.cli("keygen")
		f := filepath.Join(t.TempDir(), "mesh.key")
		if err := os.WriteFile(f, []byte(key), 0o600); err != nil {
			t.Fatal(err)
		}
		keyArgs = []string{"--key", f}
	}
	victim := m.startPeer("target", append([]string{"--demo", "--data", t.TempDir(), "--bootstrap-expect", "1"}, keyArgs...)...)
	parts, raft := readyRE.FindStringSubmatch(victim.ready), raftRE.FindStringSubmatch(victim.ready)
	if parts == nil || raft == nil {
		t.Fatalf("ready line: %q", victim.ready)
	}
	gossip, tcpLink, ipcLink := parts[1], strings.TrimPrefix(parts[2], "tcp://"), strings.TrimPrefix(parts[3], "ipc://")

	streams := append(append(hostileStreams(), raftStreams()...), tlsStreams()...)
	for _, target := range []struct{ network, addr string }{{"tcp", gossip}, {"tcp", tcpLink}, {"unix", ipcLink}, {"tcp", raft[1]}} {
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
	out, errOut, code := m.cli(append([]string{"call", "demo/echo", `"still here"`}, keyArgs...)...)
	if code != 0 || out != "\"still here\"\n" {
		t.Fatalf("peer no longer serves: exit %d %q %q", code, out, errOut)
	}
	if out, errOut, code := m.cli(append([]string{"state", "put", "still", "1"}, keyArgs...)...); code != 0 {
		t.Fatalf("state server no longer takes writes: exit %d %q %q", code, out, errOut)
	}
	rss := rssMiB(t, victim.cmd.Process.Pid)
	t.Logf("the peer's resident memory after the hostile bytes: %d MiB", rss)
	if rss > 300 {
		t.Fatalf("peer grew to %d MiB", rss)
	}
}

// tlsStreams are broken TLS: a truncated ClientHello, a record header
// claiming 16 MiB, an alert out of nowhere.
func tlsStreams() [][]byte {
	hello := []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}
	return [][]byte{
		append(hello, randomBytes(100)...),
		{0x17, 0x03, 0x03, 0xff, 0xff},
		{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28},
		append([]byte{0x16, 0x03, 0x03, 0x40, 0x00}, randomBytes(512)...),
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

// raftStreams are raft RPCs (a type byte, then msgpack) whose headers claim
// huge sizes: an AppendEntries with 2^32 entries, a vote with a 4 GiB
// string, an InstallSnapshot claiming 2^63 bytes of data.
func raftStreams() [][]byte {
	appendEntries := append([]byte{0, 0x81, 0xa7}, "Entries\xdd\xff\xff\xff\xff"...)
	vote := append([]byte{1, 0x81, 0xa9}, "Candidate\xdb\xff\xff\xff\xff"...)
	snapshot := append([]byte{2, 0x81, 0xa4}, "Size\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"...)
	out := [][]byte{appendEntries, vote, snapshot}
	for i := range 100 {
		out = append(out, append([]byte{byte(i % 4)}, randomBytes(1+i*5)...))
	}
	return out
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
