package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/peer"
)

func cmdStreams(args []string, out, errw io.Writer) int {
	fs := newFlagSet("streams", "[--json] [peer flags]", "List the mesh's streams with their publishers and subscribers.")
	var pf peerFlags
	pf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := parse(fs, args, errw, 0, 0); !ok {
		return code
	}
	p, code := queryPeer("streams", &pf, errw, false)
	if p == nil {
		return code
	}
	defer p.Close()
	streams := p.Streams()
	if *asJSON {
		return printJSON(out, streams)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tPUBLISHERS\tSUBSCRIBERS\tSUBSCRIPTIONS")
	for _, s := range streams {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", s.Name, strings.Join(s.Publishers, ","), strings.Join(s.Subscribers, ","), s.Subscriptions)
	}
	tw.Flush()
	return exitOK
}

func cmdPub(args []string, out, errw io.Writer) int {
	fs := newFlagSet("pub", "STREAM JSON [--rate HZ] [--count N] [--type TYPE] [peer flags]",
		"Publish the JSON value on STREAM, --count times (0: until interrupted) at --rate per second.")
	var pf peerFlags
	pf.register(fs)
	rate := fs.Float64("rate", 1, "messages per second")
	count := fs.Int("count", 1, "messages to send; 0 sends until interrupted")
	msgType := fs.String("type", "", "declare the message type, e.g. a ROS type (std_msgs/String) for a ROS gateway")
	pos, code, ok := parse(fs, args, errw, 2, 2)
	if !ok {
		return code
	}
	v, err := parseJSON(pos[1])
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer pub:", err)
		return exitUsage
	}
	if *rate <= 0 || *count < 0 {
		fmt.Fprintln(errw, "pyros-peer pub: --rate must be positive and --count not negative")
		return exitUsage
	}
	p, code := queryPeer("pub", &pf, errw, true)
	if p == nil {
		return code
	}
	defer p.Close()
	var opts []peer.PublishOption
	if *msgType != "" {
		opts = append(opts, peer.Typed(*msgType))
	}
	pub, err := p.Publish(pos[0], opts...)
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer pub:", err)
		return exitFail
	}
	defer pub.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// give subscribers a moment to be routed before the first message
	waitRouted(ctx, p, pub, pos[0])
	if err := paced(ctx, *rate, *count, func() error { return pub.Send(v) }); err != nil {
		fmt.Fprintln(errw, "pyros-peer pub:", err)
		return exitFail
	}
	st := pub.Stats()
	fmt.Fprintf(out, "published %d message(s) on %s to %d subscriber peer(s), %d dropped\n", st.Sent, pos[0], st.Subscribers, st.Dropped)
	time.Sleep(100 * time.Millisecond) // let the last batch leave before the links close
	return exitOK
}

// paced calls send count times (0: until ctx ends) at rate per second. It
// wakes at most every millisecond and sends what is due, so high rates
// stay accurate.
func paced(ctx context.Context, rate float64, count int, send func() error) error {
	start := time.Now()
	interval := max(time.Millisecond, time.Duration(float64(time.Second)/rate))
	t := time.NewTicker(interval)
	defer t.Stop()
	sent := 0
	for count == 0 || sent < count {
		due := int(time.Since(start).Seconds()*rate) + 1
		if count > 0 {
			due = min(due, count)
		}
		for ; sent < due; sent++ {
			if err := send(); err != nil {
				return err
			}
		}
		if count > 0 && sent >= count {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	return nil
}

// waitRouted waits, at most 2 s, until the publisher sends to every peer
// the catalog lists as a subscriber.
func waitRouted(ctx context.Context, p *peer.Peer, pub *peer.Publisher, stream string) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		want := 0
		for _, s := range p.Streams() {
			if s.Name == stream {
				want = len(s.Subscribers)
				for _, name := range s.Subscribers {
					if name == p.Name() {
						want--
					}
				}
			}
		}
		if pub.Stats().Subscribers >= want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func cmdEcho(args []string, out, errw io.Writer) int {
	fs := newFlagSet("echo", "STREAM [--count N] [--timeout D] [--json] [peer flags]",
		"Print STREAM's values, one JSON value per line, from every publisher.\nExits 1 when --timeout passes before --count messages arrived.")
	var pf peerFlags
	pf.register(fs)
	count := fs.Int("count", 0, "exit after N messages (0: until interrupted)")
	timeout := fs.Duration("timeout", 0, "give up after this long (0: never)")
	asJSON := fs.Bool("json", false, `print {"stream","from","seq","value"} objects instead of bare values`)
	stats := fs.Bool("stats", false, "print the subscription's counters to stderr at exit")
	pos, code, ok := parse(fs, args, errw, 1, 1)
	if !ok {
		return code
	}
	if *count < 0 || *timeout < 0 {
		fmt.Fprintln(errw, "pyros-peer echo: --count and --timeout must not be negative")
		return exitUsage
	}
	p, code := queryPeer("echo", &pf, errw, true)
	if p == nil {
		return code
	}
	defer p.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	lines := make(chan string, 1024)
	sub, err := p.Subscribe(ctx, pos[0], func(m peer.Message) {
		select { // a stdout nobody reads makes this subscriber slow, not stuck
		case lines <- formatMessage(m, *asJSON):
		case <-ctx.Done():
		}
	})
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer echo:", err)
		return exitFail
	}
	defer sub.Close()
	if *stats {
		defer func() {
			st := sub.Stats()
			fmt.Fprintf(errw, "echo: %d received, %d dropped, %d lost\n", st.Received, st.Dropped, st.Lost)
		}()
	}
	for n := 0; *count == 0 || n < *count; n++ {
		select {
		case l := <-lines:
			fmt.Fprintln(out, l)
		case <-ctx.Done():
			if *timeout > 0 && ctx.Err() == context.DeadlineExceeded {
				fmt.Fprintf(errw, "pyros-peer echo: timed out after %v with %d message(s)\n", *timeout, n)
				return exitFail
			}
			return exitOK
		}
	}
	return exitOK
}

func formatMessage(m peer.Message, full bool) string {
	var v any
	if err := m.Decode(&v); err != nil {
		v = fmt.Sprintf("<undecodable %s payload: %v>", m.Codec(), err)
	}
	v = codec.JSONable(v)
	if full {
		v = map[string]any{"stream": m.Stream(), "from": m.From(), "seq": m.Seq, "value": v}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%q", fmt.Sprint(v))
	}
	return string(b)
}
