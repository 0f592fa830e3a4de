package discovery

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// quiet silences logs of members flooded with garbage.
func quiet(c *Config) {
	c.Logger = slog.New(slog.DiscardHandler)
}

// hostileMessages returns this package's messages in valid, truncated,
// oversized and corrupted forms.
func hostileMessages(rng *rand.Rand) [][]byte {
	valid := [][]byte{
		encodeState(msgState, "b", stamp{1, 2}, []byte("doc")),
		encodeState(msgReply, "b", stamp{1, 3}, catalog(2000, "x")),
		encodeNotice("b", stamp{1, 9}),
		encodeFetch("b", "a"),
		encodeLeave("b", 1),
		encodePushPullOf(stateMsg{name: "b", st: stamp{1, 4}, state: []byte("pp"), hasState: true},
			stateMsg{name: "zz", st: stamp{5, 5}}),
	}
	var out [][]byte
	for _, v := range valid {
		out = append(out, v)
		for cut := 0; cut < len(v); cut += 1 + len(v)/16 {
			out = append(out, v[:cut])
		}
		out = append(out, append(bytes.Clone(v), 0))
		huge := bytes.Clone(v)
		if len(huge) > 6 {
			binary.BigEndian.PutUint32(huge[len(huge)-4:], 0xffffffff)
		}
		out = append(out, huge)
		flipped := bytes.Clone(v)
		for range 3 {
			i := rng.IntN(len(flipped))
			flipped[i] ^= byte(1 + rng.IntN(255))
		}
		out = append(out, flipped)
	}
	// Length fields claiming the maximum.
	out = append(out,
		[]byte{byte(msgState), 1, 'b', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff},
		[]byte{byte(msgPushPull), 0xff, 0xff, 0xff, 0xff},
		[]byte{byte(msgPushPull), 0, 0, 0x10, 0, 1, 1, 'b'},
		[]byte{byte(msgFetch), 200, 'x'},
	)
	return out
}

func encodePushPullOf(ms ...stateMsg) []byte {
	e := newPushPullEncoder()
	for _, m := range ms {
		e.add(m.name, m.st, m.state, m.hasState)
	}
	return e.bytes()
}

func randomBytes(rng *rand.Rand, max int) []byte {
	b := make([]byte, rng.IntN(max+1))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// hostileStreams are TCP streams that memberlist v0.6.0 would trust.
func hostileStreams(rng *rand.Rand) [][]byte {
	streams := [][]byte{
		mlUserClaim(1 << 62), // panics memberlist: makeslice out of range
		mlUserClaim(1 << 40),
		mlUserClaim(-1),
		mlUserClaim(maxUserMsgLen + 1),
		mlPushPullClaim(1<<20, 0), // memberlist allocates ~100 MB for this
		mlPushPullClaim(0, 20<<20),
		mlPushPullClaim(1<<40, 1<<40),
		streamBomb(),
		mlCompressMsg(mlUserClaim(1 << 62)),
		mlLabel("nope", mlUserClaim(1<<62)),
		{mlEncrypt, 0xff, 0xff, 0xff, 0xff},
	}
	for _, m := range hostileMessages(rng) {
		streams = append(streams, mlUserStream(m))
	}
	for range 50 {
		streams = append(streams, randomBytes(rng, 4096))
	}
	return streams
}

// hostilePackets are UDP datagrams: random bytes, this package's messages in
// every form, and compression bombs.
func hostilePackets(rng *rand.Rand) [][]byte {
	var pkts [][]byte
	for _, m := range hostileMessages(rng) {
		pkts = append(pkts, mlUserPacket(m), mlCompoundPacket(mlUserPacket(m), mlUserPacket(m)))
	}
	bomb := packetBomb()
	pkts = append(pkts, bomb, mlCompoundPacket(bomb[:min(len(bomb), 60000)]), mlCompressMsg(mlCompressMsg(mlUserPacket([]byte{1}))))
	for range 200 {
		pkts = append(pkts, randomBytes(rng, 1400))
	}
	return pkts
}

func TestHostileInput(t *testing.T) {
	a := newNode(t, "a", quiet, withState([]byte("a-doc")))
	b := newNode(t, "b", withState([]byte("b-doc")))
	nodes := []*Discovery{a, b}
	joinAll(t, nodes)
	waitFor(t, 10*time.Second, "membership", fullMembership(nodes))

	rng := rand.New(rand.NewPCG(1, 2))
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()

	// UDP: several thousand datagrams.
	sent := floodPackets(t, a.LocalAddr(), hostilePackets(rng), 4000)
	t.Logf("datagrams sent after %v", time.Since(start))

	// TCP: over a thousand connections, 8 at a time, plus a few that send
	// one byte and hang until the stream deadline closes them.
	floodStreams(a.LocalAddr(), hostileStreams(rng), 1200)
	t.Logf("streams sent after %v", time.Since(start))

	// Direct delegate calls, bypassing the screener.
	del := &delegate{table: a.table, fetcher: a.fetcher, logger: a.logger}
	calls := 0
	for _, m := range hostileMessages(rng) {
		del.NotifyMsg(m)
		del.MergeRemoteState(m, false)
		calls += 2
	}
	for range 3000 {
		m := randomBytes(rng, 300)
		del.NotifyMsg(m)
		del.MergeRemoteState(m, true)
		calls += 2
	}
	t.Logf("hostile traffic: %d datagrams, 1200 streams, %d direct calls in %v; screened out %d packets and %d streams",
		sent, calls, time.Since(start),
		a.transport.droppedPackets.Load(), a.transport.droppedStreams.Load())

	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 64<<20 {
		t.Errorf("heap grew by %d MiB", grew>>20)
	}
	t.Logf("allocated %d MiB in total during the attack", (after.TotalAlloc-before.TotalAlloc)>>20)
	if a.transport.droppedStreams.Load() == 0 || a.transport.droppedPackets.Load() == 0 {
		t.Error("nothing screened out")
	}

	// Still healthy: both directions converge, and b never lost a.
	a.SetState([]byte("a-after"))
	b.SetState(catalog(20<<10, "b-after"))
	waitFor(t, 10*time.Second, "a's update", stateEverywhere(nodes, "a", []byte("a-after")))
	waitFor(t, 10*time.Second, "b's update", stateEverywhere(nodes, "b", catalog(20<<10, "b-after")))
	c := newNode(t, "c")
	if _, err := c.Join(t.Context(), []string{a.LocalAddr()}); err != nil {
		t.Fatalf("join through the attacked member: %v", err)
	}
	waitFor(t, 10*time.Second, "membership after attack", fullMembership([]*Discovery{a, b, c}))
}

// floodPackets sends n datagrams to addr, cycling through pkts, and returns
// how many were sent.
func floodPackets(t testing.TB, addr string, pkts [][]byte, n int) int {
	t.Helper()
	udp, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	sent := 0
	for i := range n {
		if _, err := udp.Write(pkts[i%len(pkts)]); err == nil {
			sent++
		}
		if i%200 == 199 {
			time.Sleep(5 * time.Millisecond) // stay within socket buffers
		}
	}
	return sent
}

// floodStreams opens n connections to addr, 8 at a time, each sending one of
// streams in turn, plus 10 that send one byte and hang until the stream
// deadline closes them.
func floodStreams(addr string, streams [][]byte, n int) {
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			defer c.Close()
			_, _ = c.Write([]byte{mlUser})
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.Read(make([]byte, 1))
		})
	}
	work := make(chan []byte)
	for range 8 {
		wg.Go(func() {
			for s := range work {
				sendStream(addr, s)
			}
		})
	}
	for i := range n {
		work <- streams[i%len(streams)]
	}
	close(work)
	wg.Wait()
}

// sendStream writes s to a new connection and drains whatever comes back
// until the member closes it.
func sendStream(addr string, s []byte) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	_, _ = c.Write(s)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	_, _ = c.Read(make([]byte, 512))
}

// TestMemberlistHugeClaims sends, one at a time, the streams that crash or
// bloat an unguarded memberlist v0.6.0, and checks after each that the
// member still answers push/pull.
func TestMemberlistHugeClaims(t *testing.T) {
	a := newNode(t, "a", quiet)
	probe := newNode(t, "probe")
	for _, tc := range []struct {
		name   string
		stream []byte
	}{
		{"user message of 1<<62 bytes (makeslice panic)", mlUserClaim(1 << 62)},
		{"user message of 16 GiB", mlUserClaim(16 << 30)},
		{"push/pull of 1M nodes", mlPushPullClaim(1<<20, 0)},
		{"push/pull of 20 MB user state", mlPushPullClaim(0, 20<<20-1)},
		{"compressed stream inflating past the limit", streamBomb()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := a.transport.droppedStreams.Load()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			allocBefore := ms.TotalAlloc
			sendStream(a.LocalAddr(), tc.stream)
			waitFor(t, 10*time.Second, "rejection", func() error {
				if a.transport.droppedStreams.Load() == before {
					return errNotYet
				}
				return nil
			})
			runtime.ReadMemStats(&ms)
			t.Logf("%d-byte stream rejected; %d KiB allocated meanwhile", len(tc.stream), (ms.TotalAlloc-allocBefore)>>10)
			if _, err := probe.Join(t.Context(), []string{a.LocalAddr()}); err != nil {
				t.Fatalf("member no longer answers push/pull: %v", err)
			}
		})
	}
}
