package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pyros-mesh/pyros/fault"
	"github.com/pyros-mesh/pyros/peer"
	"github.com/pyros-mesh/pyros/ui"
)

func cmdRun(args []string, out, errw io.Writer) int {
	fs := newFlagSet("run", "[--demo] [--data DIR [--bootstrap-expect N]] [peer flags]", "Run a long-lived peer until SIGINT or SIGTERM.")
	var pf peerFlags
	pf.register(fs)
	pf.registerServer(fs)
	pf.registerROS(fs)
	var zf pyzmpFlags
	zf.register(fs)
	useROS := fs.Bool("ros", false, "bridge the ROS 1 graph of $ROS_MASTER_URI")
	useAPI := fs.Bool("api", false, "serve this peer to a local process (the Python package) on a private unix socket, shown as \"api ipc://...\"")
	httpAddr := fs.String("http", "", "serve the map of the mesh at http://ADDR/ and Prometheus metrics at http://ADDR/metrics\n(e.g. 127.0.0.1:8080; port 0: any)")
	faults := fs.Bool("faults", false, "accept fault injection (pyros-peer fault partition|delay|drop|heal) on a control socket\nin the registry directory")
	parentStdin := fs.Bool("parent-stdin", false, "leave when standard input closes: the peer of a process that holds its stdin dies with it")
	demo := fs.Bool("demo", false, "provide the demo services demo/echo, demo/add, demo/whoami, demo/sleep and demo/fail,\nand publish demo/ticks (a counter, 10 per second)")
	if _, code, ok := parse(fs, args, errw, 0, 0); !ok {
		return code
	}
	cfg, err := pf.config(errw, true)
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer run:", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *parentStdin {
		ctx = untilStdinCloses(ctx)
	}
	var reg *prometheus.Registry
	if *httpAddr != "" {
		reg = newMetricsRegistry()
		cfg.Metrics = reg
	}
	p, err := peer.New(ctx, cfg)
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer run:", err)
		return exitFail
	}
	defer p.Close()
	wctx, wcancel := context.WithCancel(ctx)
	logFor := func(component string) *slog.Logger { return cfg.Logger.With("peer", p.Name(), "component", component) }
	keysDone := pf.mesh.watch(wctx, logFor("meshkey"))
	defer func() { wcancel(); <-keysDone }()
	if pf.mesh.ring == nil {
		logFor("meshkey").Warn("the mesh is OPEN: no --key, so anyone who can reach this peer's ports can join, call, subscribe and change the state (pyros-peer keygen makes a key)", "mesh", pf.mesh.mesh)
	}
	if *demo {
		if err := provideDemo(p); err != nil {
			fmt.Fprintln(errw, "pyros-peer run:", err)
			return exitFail
		}
		ticks, err := publishTicks(ctx, p)
		if err != nil {
			fmt.Fprintln(errw, "pyros-peer run:", err)
			return exitFail
		}
		defer func() { <-ticks }()
	}
	if *useROS || pf.ros.master != "" {
		// cfg.Metrics, not reg: a nil *Registry in an interface is not nil.
		gw, err := startGateway(ctx, p, pf.ros, cfg.Metrics, cfg.Logger.With("peer", p.Name()))
		if err != nil {
			fmt.Fprintln(errw, "pyros-peer run:", err)
			return exitFail
		}
		defer gw.Close()
	}
	if *faults {
		srv, err := fault.Serve(fault.SocketPath(pf.registry, p.Name()), p.Faults(), logFor("fault"))
		if err != nil {
			fmt.Fprintln(errw, "pyros-peer run:", err)
			return exitFail
		}
		defer srv.Close()
	}
	httpNote := ""
	if reg != nil {
		page, err := ui.New(p, ui.Config{Logger: logFor("ui")})
		if err != nil {
			fmt.Fprintln(errw, "pyros-peer run:", err)
			return exitFail
		}
		defer page.Close()
		hs, err := serveHTTP(*httpAddr, reg, page, logFor("http"))
		if err != nil {
			fmt.Fprintln(errw, "pyros-peer run:", err)
			return exitUsage
		}
		defer hs.Close()
		httpNote = ", ui " + hs.URL() + "/, metrics " + hs.URL() + "/metrics"
	}
	zmp, err := zf.start(p, logFor("pyzmp"))
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer run:", err)
		return exitFail
	}
	defer zmp.Close()
	apiNote := httpNote + zmp.note()
	if *useAPI {
		srv, err := startAPI(p, cfg)
		if err != nil {
			fmt.Fprintln(errw, "pyros-peer run:", err)
			return exitFail
		}
		defer srv.Close()
		apiNote += ", api " + srv.Endpoint()
	}
	eps := p.Endpoints()
	role := ""
	if pf.data != "" {
		role = fmt.Sprintf(", state server (data %s, raft %s)", pf.data, p.StateAddr())
	}
	fmt.Fprintf(out, "peer %s ready: gossip %s, links %s %s%s%s | %s\n", p.Name(), p.Addr(), eps.TCP, eps.IPC, role, apiNote, pf.mesh.security())
	<-ctx.Done()
	fmt.Fprintf(out, "peer %s leaving\n", p.Name())
	return exitOK
}

// addArgs is demo/add's argument.
type addArgs struct {
	A float64 `json:"a" msgpack:"a"`
	B float64 `json:"b" msgpack:"b"`
}

// provideDemo installs the demo services.
func provideDemo(p *peer.Peer) error {
	name := p.Name()
	services := map[string]peer.Handler{
		"demo/echo": peer.Func(func(_ context.Context, v any) (any, error) { return v, nil }),
		"demo/add": peer.Func(func(_ context.Context, a addArgs) (any, error) {
			sum := a.A + a.B
			if sum == float64(int64(sum)) {
				return int64(sum), nil
			}
			return sum, nil
		}),
		"demo/whoami": peer.Func(func(_ context.Context, _ any) (string, error) { return name, nil }),
		"demo/sleep": peer.Func(func(ctx context.Context, seconds float64) (float64, error) {
			t := time.NewTimer(time.Duration(seconds * float64(time.Second)))
			defer t.Stop()
			select {
			case <-t.C:
				return seconds, nil
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}),
		"demo/fail": peer.Func(func(_ context.Context, msg string) (any, error) { return nil, errors.New(msg) }),
	}
	for s, h := range services {
		if err := p.Provide(s, h); err != nil {
			return err
		}
	}
	return nil
}

// publishTicks publishes an increasing counter on demo/ticks at 10 Hz until
// ctx ends; the returned channel is closed when it has stopped.
func publishTicks(ctx context.Context, p *peer.Peer) (<-chan struct{}, error) {
	pub, err := p.Publish("demo/ticks")
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer pub.Close()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for n := 0; ; n++ {
			pub.Send(n)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return done, nil
}

// untilStdinCloses returns a context that ends when standard input reaches
// its end: the process that started this peer and holds its stdin is gone.
func untilStdinCloses(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	return ctx
}
