package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/pyros-mesh/pyros/discovery"
	"github.com/pyros-mesh/pyros/peer"
)

func cmdBench(args []string, out, errw io.Writer) int {
	if len(args) == 0 || args[0] != "stream" {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			fmt.Fprintln(out, "Usage: pyros-peer bench stream [flags]   (see pyros-peer bench stream --help)")
			return exitOK
		}
		fmt.Fprintln(errw, "pyros-peer bench: expected a benchmark name: stream")
		return exitUsage
	}
	fs := newFlagSet("bench stream", "[--sizes 64,1024,65536] [--transports tcp,ipc] [--duration 2s] [--json]",
		"Measure streams between two processes: a publisher process and this process\nsubscribing, against raw zmq4 PUSH/PULL with one message per frame, in one run.")
	sizes := fs.String("sizes", "64,1024,65536", "payload sizes in bytes")
	transports := fs.String("transports", "tcp,ipc", "transports to measure")
	duration := fs.Duration("duration", 2*time.Second, "length of each throughput run")
	rate := fs.Float64("latency-rate", 1000, "message rate of the latency runs")
	systems := fs.String("systems", "pyros,zmq4", "what to measure: pyros, zmq4 (raw PUSH/PULL) or both")
	asJSON := fs.Bool("json", false, "print results as JSON")
	procs := fs.Int("procs", 0, "GOMAXPROCS of each of the two processes (0: half this machine's cores, so they do not oversubscribe it)")
	if _, code, ok := parse(fs, args[1:], errw, 0, 0); !ok {
		return code
	}
	if *procs < 0 {
		fmt.Fprintln(errw, "pyros-peer bench: --procs must not be negative")
		return exitUsage
	}
	if *procs == 0 {
		*procs = max(1, runtime.NumCPU()/2)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(*procs))
	var sz []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 8 || n > 1<<20 {
			fmt.Fprintf(errw, "pyros-peer bench: bad size %q (8 B to 1 MiB)\n", s)
			return exitUsage
		}
		sz = append(sz, n)
	}
	trs := strings.Split(*transports, ",")
	for _, t := range trs {
		if t != "tcp" && t != "ipc" {
			fmt.Fprintf(errw, "pyros-peer bench: unknown transport %q\n", t)
			return exitUsage
		}
	}
	sys := strings.Split(*systems, ",")
	for _, s := range sys {
		if s != "pyros" && s != "zmq4" {
			fmt.Fprintf(errw, "pyros-peer bench: unknown system %q\n", s)
			return exitUsage
		}
	}
	b, err := newStreamBench(errw, *duration, *procs)
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer bench:", err)
		return exitFail
	}
	defer b.close()
	res, err := b.runAll(sys, trs, sz, *rate)
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer bench:", err)
		return exitFail
	}
	if *asJSON {
		return printJSON(out, res)
	}
	printBench(out, res, *duration, *rate, *procs)
	return exitOK
}

// benchResult is one measurement.
type benchResult struct {
	Kind      string  `json:"kind"` // "throughput" or "latency"
	Transport string  `json:"transport"`
	Size      int     `json:"size"`
	System    string  `json:"system"` // "pyros" or "zmq4"
	MsgPerSec float64 `json:"msg_per_sec,omitempty"`
	MBPerSec  float64 `json:"mb_per_sec,omitempty"`
	Loss      float64 `json:"loss"`
	P50us     float64 `json:"p50_us,omitempty"`
	P99us     float64 `json:"p99_us,omitempty"`
}

type streamBench struct {
	errw     io.Writer
	procs    int
	duration time.Duration
	dir      string
	self     string
	subs     map[string]*peer.Peer // subscriber peer per transport
	run      int
}

func newStreamBench(errw io.Writer, d time.Duration, procs int) (*streamBench, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pyros-bench-")
	if err != nil {
		return nil, err
	}
	b := &streamBench{errw: errw, procs: procs, duration: d, dir: dir, self: self, subs: map[string]*peer.Peer{}}
	for _, tr := range []string{"tcp", "ipc"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		p, err := peer.New(ctx, peer.Config{Name: "bench-sub-" + tr, RegistryDir: dir, DisableIPC: tr == "tcp", Gossip: discovery.LocalConfig()})
		cancel()
		if err != nil {
			b.close()
			return nil, err
		}
		b.subs[tr] = p
	}
	return b, nil
}

func (b *streamBench) close() {
	for _, p := range b.subs {
		p.Close()
	}
	os.RemoveAll(b.dir)
}

func (b *streamBench) runAll(systems, trs []string, sizes []int, rate float64) ([]benchResult, error) {
	var res []benchResult
	for _, tr := range trs {
		for _, size := range sizes {
			for _, sys := range systems {
				r, err := b.measure(sys, tr, size, 0)
				if err != nil {
					return nil, err
				}
				res = append(res, r)
			}
		}
		for _, sys := range systems {
			r, err := b.measure(sys, tr, 64, rate)
			if err != nil {
				return nil, err
			}
			res = append(res, r)
		}
	}
	fmt.Fprint(b.errw, "\r\033[K")
	return res, nil
}

// receiver counts what arrives and records one-way latencies.
type receiver struct {
	n, bytes  atomic.Uint64
	stampAt   int
	mu        sync.Mutex
	first     time.Time
	last      time.Time
	lastN     uint64 // messages received at last
	latencies []time.Duration
	timed     bool
}

// got is called once per message. In throughput runs it reads the clock
// only every 1024 messages: the clock costs as much as a message.
func (r *receiver) got(payload []byte) {
	n := r.n.Add(1)
	r.bytes.Add(uint64(len(payload)))
	if !r.timed && n != 1 && n%1024 != 0 {
		return
	}
	now := time.Now()
	r.mu.Lock()
	if n == 1 {
		r.first = now
	}
	r.last, r.lastN = now, n
	if r.timed && len(payload) >= r.stampAt+8 {
		sent := int64(binary.LittleEndian.Uint64(payload[r.stampAt:]))
		r.latencies = append(r.latencies, now.Sub(time.Unix(0, sent)))
	}
	r.mu.Unlock()
}

// measure runs one publisher process against this process.
func (b *streamBench) measure(sys, tr string, size int, rate float64) (benchResult, error) {
	b.run++
	r := &receiver{timed: rate > 0}
	label := fmt.Sprintf("%s %s %d B", sys, tr, size)
	if rate > 0 {
		label += fmt.Sprintf(" at %.0f msg/s", rate)
	}
	args := []string{"bench-pub", "--size", strconv.Itoa(size), "--duration", b.duration.String(),
		"--rate", strconv.FormatFloat(rate, 'f', -1, 64)}
	var stop func()
	if sys == "pyros" {
		stream := fmt.Sprintf("bench/%d", b.run)
		_, r.stampAt = benchPayload(size, false)
		sub, err := b.subs[tr].Subscribe(context.Background(), stream, func(m peer.Message) { r.got(m.Payload()) })
		if err != nil {
			return benchResult{}, err
		}
		stop = func() { sub.Close() }
		args = append(args, "--stream", stream, "--gossip", "local", "--registry", b.dir, "--no-ipc")
	} else {
		ep, closeRaw, err := rawPull(tr, b.dir, r)
		if err != nil {
			return benchResult{}, err
		}
		stop = closeRaw
		args = append(args, "--raw-zmq4", ep)
	}
	defer stop()
	sent, err := b.child(args, label, r)
	if err != nil {
		return benchResult{}, fmt.Errorf("%s: %w", label, err)
	}
	return r.result(sys, tr, size, rate, sent), nil
}

// child runs the publisher process and shows a live counter meanwhile.
func (b *streamBench) child(args []string, label string, r *receiver) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.duration+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.self, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(b.procs))
	cmd.Stderr = b.errw
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var sent uint64
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				done = true
				break
			}
			var v struct{ Sent uint64 }
			if json.Unmarshal([]byte(l), &v) == nil {
				sent = v.Sent
			}
		case <-tick.C:
			fmt.Fprintf(b.errw, "\r\033[K  %-32s %12d messages received", label, r.n.Load())
		}
	}
	if err := cmd.Wait(); err != nil {
		return 0, err
	}
	// wait for the tail of the stream to arrive
	for last := r.n.Load(); ; {
		time.Sleep(100 * time.Millisecond)
		if n := r.n.Load(); n == last || n >= sent {
			break
		} else {
			last = n
		}
	}
	return sent, nil
}

func (r *receiver) result(sys, tr string, size int, rate float64, sent uint64) benchResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := benchResult{Kind: "throughput", System: sys, Transport: tr, Size: size}
	n := r.n.Load()
	if sent > 0 && n < sent {
		res.Loss = float64(sent-n) / float64(sent)
	}
	if rate > 0 {
		res.Kind = "latency"
		lat := slices.Clone(r.latencies)
		slices.Sort(lat)
		if len(lat) > 0 {
			res.P50us = float64(lat[len(lat)/2].Microseconds())
			res.P99us = float64(lat[len(lat)*99/100].Microseconds())
		}
		return res
	}
	if d := r.last.Sub(r.first).Seconds(); d > 0 && r.lastN > 1 {
		res.MsgPerSec = float64(r.lastN-1) / d
		res.MBPerSec = res.MsgPerSec * float64(r.bytes.Load()) / float64(n) / 1e6
	}
	return res
}

// rawPull listens with a zmq4 PULL socket and feeds the receiver.
func rawPull(tr, dir string, r *receiver) (string, func(), error) {
	ctx, cancel := context.WithCancel(context.Background())
	pull := zmq4.NewPull(ctx)
	ep := "tcp://127.0.0.1:0"
	if tr == "ipc" {
		ep = "ipc://" + filepath.Join(dir, fmt.Sprintf("raw-%d.sock", time.Now().UnixNano()))
	}
	if err := pull.Listen(ep); err != nil {
		cancel()
		return "", nil, err
	}
	if tr == "tcp" {
		ep = "tcp://" + pull.Addr().String()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := pull.Recv()
			if err != nil {
				return
			}
			r.got(m.Bytes())
		}
	}()
	return ep, func() { cancel(); pull.Close() }, nil
}

func printBench(out io.Writer, res []benchResult, d time.Duration, rate float64, procs int) {
	fmt.Fprintf(out, "streams: one publisher process -> one subscriber process, %v per run, GOMAXPROCS=%d each on %d cores\n", d, procs, runtime.NumCPU())
	fmt.Fprintf(out, "(the publisher sends as fast as its link takes messages; loss is what it sent that did not arrive)\n\n")
	fmt.Fprintf(out, "%-5s %8s %14s %9s %7s %16s %8s\n", "", "payload", "pyros msg/s", "MB/s", "loss", "zmq4 msg/s", "ratio")
	find := func(kind, sys, tr string, size int) benchResult {
		for _, r := range res {
			if r.Kind == kind && r.System == sys && r.Transport == tr && r.Size == size {
				return r
			}
		}
		return benchResult{}
	}
	for _, r := range res {
		if r.Kind != "throughput" || r.System != "pyros" {
			continue
		}
		z := find("throughput", "zmq4", r.Transport, r.Size)
		ratio := 0.0
		if z.MsgPerSec > 0 {
			ratio = r.MsgPerSec / z.MsgPerSec
		}
		fmt.Fprintf(out, "%-5s %8s %14.0f %9.1f %6.2f%% %16.0f %7.1fx\n", r.Transport, sizeLabel(r.Size), r.MsgPerSec, r.MBPerSec, 100*r.Loss, z.MsgPerSec, ratio)
	}
	fmt.Fprintf(out, "\none-way latency at %.0f msg/s, 64 B:\n", rate)
	for _, r := range res {
		if r.Kind != "latency" || r.System != "pyros" {
			continue
		}
		z := find("latency", "zmq4", r.Transport, r.Size)
		fmt.Fprintf(out, "%-5s pyros p50 %5.0f us  p99 %5.0f us   zmq4 p50 %5.0f us  p99 %5.0f us\n", r.Transport, r.P50us, r.P99us, z.P50us, z.P99us)
	}
}

func sizeLabel(n int) string {
	switch {
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
