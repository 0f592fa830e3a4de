package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/peer"
)

// benchPubArgs configures the publishing side of `bench stream`, which runs
// in its own process (the hidden verb bench-pub).
type benchPubArgs struct {
	stream   string
	raw      string // raw zmq4 PUSH endpoint instead of a pyros publisher
	size     int
	rate     float64 // 0: as fast as possible
	duration time.Duration
}

func cmdBenchPub(args []string, out, errw io.Writer) int {
	fs := flag.NewFlagSet("bench-pub", flag.ContinueOnError)
	fs.SetOutput(errw)
	var pf peerFlags
	pf.register(fs)
	var a benchPubArgs
	fs.StringVar(&a.stream, "stream", "bench/stream", "stream name")
	fs.StringVar(&a.raw, "raw-zmq4", "", "send with a raw zmq4 PUSH socket to this endpoint")
	fs.IntVar(&a.size, "size", 64, "payload bytes")
	fs.Float64Var(&a.rate, "rate", 0, "messages per second (0: as fast as possible)")
	fs.DurationVar(&a.duration, "duration", 2*time.Second, "how long to send")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	var sent uint64
	var err error
	if a.raw != "" {
		sent, err = benchPubRaw(a, out)
	} else {
		sent, err = benchPubPeer(a, &pf, out, errw)
	}
	if err != nil {
		fmt.Fprintln(errw, "bench-pub:", err)
		return exitFail
	}
	json.NewEncoder(out).Encode(map[string]uint64{"sent": sent})
	return exitOK
}

// benchPayload is a payload of the given size whose bytes at stampAt carry
// the send time; for pyros it is a msgpack bin value.
func benchPayload(size int, raw bool) (payload []byte, stampAt int) {
	data := make([]byte, max(size, 8))
	if raw {
		return data, 0
	}
	enc, _ := codec.NewMsgpack().Marshal(data)
	return enc, len(enc) - len(data)
}

// pacer sends at a fixed rate, or as fast as possible, until the duration ends.
func pace(a benchPubArgs, send func(now time.Time) bool) uint64 {
	var sent uint64
	start := time.Now()
	end := start.Add(a.duration)
	var interval time.Duration
	if a.rate > 0 {
		interval = time.Duration(float64(time.Second) / a.rate)
	}
	var now time.Time
	for i := 0; ; i++ {
		if interval > 0 || i%1024 == 0 { // reading the clock costs as much as a send
			now = time.Now()
		}
		if now.After(end) {
			return sent
		}
		if interval > 0 {
			next := start.Add(time.Duration(i) * interval)
			if d := next.Sub(now); d > 0 {
				time.Sleep(d)
				now = time.Now()
			}
		}
		if send(now) {
			sent++
		}
	}
}

func benchPubPeer(a benchPubArgs, pf *peerFlags, out, errw io.Writer) (uint64, error) {
	cfg, err := pf.config(errw, false)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := peer.New(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	pub, err := p.Publish(a.stream)
	if err != nil {
		return 0, err
	}
	defer pub.Close()
	for pub.Stats().Subscribers == 0 {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("no subscriber appeared")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprintln(out, "go")
	template, at := benchPayload(a.size, false)
	stamped := a.rate > 0
	end := time.Now().Add(a.duration)
	sent := pace(a, func(now time.Time) bool {
		b := template
		if stamped { // a payload may not change after Send: stamp a copy
			b = append([]byte(nil), template...)
			binary.LittleEndian.PutUint64(b[at:], uint64(now.UnixNano()))
		}
		// As fast as the link takes them: a message that did not fit
		// is sent again after a pause, rather than spinning on drops
		// and stealing the subscriber's CPU.
		for {
			dropped := pub.Stats().Dropped
			pub.SendEncoded(b)
			if pub.Stats().Dropped == dropped {
				return true
			}
			if time.Now().After(end) {
				return false
			}
			time.Sleep(50 * time.Microsecond)
		}
	})
	time.Sleep(200 * time.Millisecond) // let the queue drain before closing
	return sent, nil
}

func benchPubRaw(a benchPubArgs, out io.Writer) (uint64, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	push := zmq4.NewPush(ctx, zmq4.WithDialerRetry(10*time.Millisecond))
	defer push.Close()
	if err := push.Dial(a.raw); err != nil {
		return 0, err
	}
	fmt.Fprintln(out, "go")
	template, _ := benchPayload(a.size, true)
	sent := pace(a, func(now time.Time) bool {
		b := append([]byte(nil), template...)
		binary.LittleEndian.PutUint64(b, uint64(now.UnixNano()))
		return push.Send(zmq4.NewMsg(b)) == nil
	})
	time.Sleep(200 * time.Millisecond)
	return sent, nil
}
