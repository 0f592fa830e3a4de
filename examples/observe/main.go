// Command observe puts the map of the mesh and Prometheus metrics inside a
// program of your own: it runs a peer named watcher, serves the live map at
// http://ADDR/ and the peer's metrics at http://ADDR/metrics, and every few
// seconds prints what each member says it sees and serves (peer.Observe).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pyros-mesh/pyros/peer"
	"github.com/pyros-mesh/pyros/ui"
)

func main() {
	addr := flag.String("http", "127.0.0.1:8080", "address of the map and /metrics (port 0: any)")
	every := flag.Duration("every", 5*time.Second, "time between two printouts")
	flag.Parse()
	if err := run(*addr, *every); err != nil {
		fmt.Fprintln(os.Stderr, "observe:", err)
		os.Exit(1)
	}
}

func run(addr string, every time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reg := prometheus.NewRegistry()
	p, err := peer.New(ctx, peer.Config{Name: "watcher", RegistryDir: peer.DefaultRegistryDir(), Metrics: reg})
	if err != nil {
		return err
	}
	defer p.Close()

	page, err := ui.New(p, ui.Config{})
	if err != nil {
		return err
	}
	defer page.Close()
	mux := http.NewServeMux()
	mux.Handle("/", page)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() { srv.Close(); <-served }()
	fmt.Printf("map at http://%s/, metrics at http://%s/metrics\n", ln.Addr(), ln.Addr())

	t := time.NewTicker(every)
	defer t.Stop()
	for {
		printMembers(ctx, p)
		select {
		case <-ctx.Done():
			return nil
		case err := <-served:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		case <-t.C:
		}
	}
}

// printMembers asks each member for its observation and prints a line each.
func printMembers(ctx context.Context, p *peer.Peer) {
	for _, m := range p.Members() {
		octx, cancel := context.WithTimeout(ctx, time.Second)
		o, err := p.Observe(octx, m.Name)
		cancel()
		if err != nil {
			fmt.Printf("%-12s not answering: %v\n", m.Name, err)
			continue
		}
		var served []string
		for svc, st := range o.Served {
			if !strings.HasPrefix(svc, "pyros.") {
				served = append(served, fmt.Sprintf("%s %d", svc, st.Requests))
			}
		}
		sort.Strings(served)
		if served == nil {
			served = []string{"nothing yet"}
		}
		fmt.Printf("%-12s up %-6s sees %d, links to %d, served: %s\n", o.Name,
			time.Since(o.Started).Round(time.Second), len(o.Sees), len(o.Links), strings.Join(served, ", "))
	}
}
