package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pyros-mesh/pyros/peer"
	"github.com/pyros-mesh/pyros/ui"
)

func cmdUI(args []string, out, errw io.Writer) int {
	fs := newFlagSet("ui", "[--http ADDR] [peer flags]",
		"Join the mesh and serve a live map of it to a browser at http://ADDR/ until interrupted.\nAny peer run with --http serves the same page.")
	var pf peerFlags
	pf.register(fs)
	httpAddr := fs.String("http", "127.0.0.1:0", "address to serve the page at (port 0: any; the URL is printed)")
	if _, code, ok := parse(fs, args, errw, 0, 0); !ok {
		return code
	}
	cfg, err := pf.config(errw, true)
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer ui:", err)
		return exitUsage
	}
	jctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	p, err := peer.New(jctx, cfg)
	cancel()
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer ui:", err)
		return exitFail
	}
	defer p.Close()
	logFor := func(component string) *slog.Logger { return cfg.Logger.With("peer", p.Name(), "component", component) }
	page, err := ui.New(p, ui.Config{Logger: logFor("ui")})
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer ui:", err)
		return exitFail
	}
	defer page.Close()
	hs, err := serveHTTP(*httpAddr, nil, page, logFor("http"))
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer ui:", err)
		return exitUsage
	}
	defer hs.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	keysDone := pf.mesh.watch(ctx, logFor("meshkey")) // the page may stay open across key rotations
	defer func() { stop(); <-keysDone }()
	fmt.Fprintf(out, "map of the mesh at %s/ (peer %s; Ctrl-C to stop)\n", hs.URL(), p.Name())
	<-ctx.Done()
	return exitOK
}
