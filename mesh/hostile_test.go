package mesh

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// zmtpGreeting is a valid ZMTP 3.0 NULL greeting.
func zmtpGreeting() []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10], g[11] = 0xff, 0x7f, 3, 0
	copy(g[12:], "NULL")
	return g
}

// zmtpReady is a READY command announcing a DEALER.
func zmtpReady() []byte {
	body := []byte{5}
	body = append(body, "READY"...)
	body = append(body, 11)
	body = append(body, "Socket-Type"...)
	body = binary.BigEndian.AppendUint32(body, 6)
	body = append(body, "DEALER"...)
	return append([]byte{zmtpFlagCommand, byte(len(body))}, body...)
}

func assertServes(t *testing.T, srv *Node) {
	t.Helper()
	cli := newTestNode(t, "probe", "tcp", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Call(ctx, target(srv), Request{Service: "echo", Payload: []byte("ok")}); err != nil {
		t.Fatalf("node stopped serving: %v", err)
	}
}

func rawConn(t *testing.T, srv *Node) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.Endpoints().TCP, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A frame header claiming 64 GiB must close the connection, not allocate.
func TestHugeFrameHeader(t *testing.T) {
	srv := newTestNode(t, "srv", "tcp", echo)
	for _, when := range []string{"handshake", "data"} {
		c := rawConn(t, srv)
		c.Write(zmtpGreeting())
		if when == "data" {
			c.Write(zmtpReady())
		}
		hdr := []byte{zmtpFlagLong, 0, 0, 0, 0x10, 0, 0, 0, 0} // 64 GiB
		c.Write(hdr)
		c.Write(make([]byte, 4096))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("%s: connection not closed", when)
				}
				break
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > 1<<30 {
		t.Fatalf("heap grew to %d bytes", ms.HeapAlloc)
	}
	assertServes(t, srv)
}

// Silent clients never block other connections.
func TestSilentClientsDoNotBlockAccept(t *testing.T) {
	srv := newTestNode(t, "srv", "tcp", echo)
	for range 20 {
		rawConn(t, srv) // connects and never speaks
	}
	c := rawConn(t, srv)
	c.Write(zmtpGreeting()[:10]) // speaks a little, then stalls
	assertServes(t, srv)
}

// Random bytes, truncated handshakes and garbage after a valid handshake
// never crash the node.
func TestGarbage(t *testing.T) {
	srv := newTestNode(t, "srv", "tcp", echo)
	payloads := [][]byte{
		{},
		zmtpGreeting()[:30],
		append(zmtpGreeting(), 0xff, 0xff, 0xff),
		append(zmtpGreeting(), zmtpFlagCommand, 200, 1, 2, 3),
		append(append(zmtpGreeting(), zmtpReady()...), zmtpFlagCommand, 4, 'P', 'I', 'N', 'G'),
		append(append(zmtpGreeting(), zmtpReady()...), 0, 3, 9, 9, 9),          // bad version
		append(append(zmtpGreeting(), zmtpReady()...), 0, 4, 1, 10, 1, 0),      // truncated message
		append(append(zmtpGreeting(), zmtpReady()...), 0, 5, 1, 2, 99, 0, 0),   // unknown kind
		append(append(zmtpGreeting(), zmtpReady()...), 1, 0, 1, 0, 1, 0, 0, 0), // many empty more-frames
	}
	// a handshake with a malformed property list (zmq4 panics on some)
	bad := append(zmtpGreeting(), zmtpFlagCommand, 12, 5, 'R', 'E', 'A', 'D', 'Y', 200, 'x', 'y', 'z', 0, 0)
	payloads = append(payloads, bad)
	for range 200 {
		b := make([]byte, 1+int(randByte())*8)
		rand.Read(b)
		payloads = append(payloads, b, append(zmtpGreeting(), b...), append(append(zmtpGreeting(), zmtpReady()...), b...))
	}
	for _, p := range payloads {
		c := rawConn(t, srv)
		c.Write(p)
		c.Close()
	}
	assertServes(t, srv)
}

// A real zmq4 DEALER that completes the handshake and sends frames that are
// not pyros batches is disconnected; the node stays healthy.
func TestForeignZMQPeer(t *testing.T) {
	srv := newTestNode(t, "srv", "tcp", echo)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := zmq4.NewDealer(ctx, zmq4.WithDialerRetry(10*time.Millisecond))
	defer d.Close()
	if err := d.Dial(srv.Endpoints().TCP); err != nil {
		t.Fatal(err)
	}
	d.Send(zmq4.NewMsgString("hello"))
	d.Send(zmq4.NewMsgFrom([]byte{1}, []byte("two frames")))
	assertServes(t, srv)
}

func randByte() byte {
	var b [1]byte
	rand.Read(b[:])
	return b[0]
}
