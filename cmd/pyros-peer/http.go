package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// httpServer serves a peer's /metrics and the map of the mesh at /.
type httpServer struct {
	srv  *http.Server
	ln   net.Listener
	done sync.WaitGroup
}

// newMetricsRegistry is the registry a peer's metrics go to, with the Go
// runtime's and the process's.
func newMetricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// serveHTTP listens on addr and serves /metrics from reg (unless nil) and
// page at / (unless nil).
func serveHTTP(addr string, reg *prometheus.Registry, page http.Handler, log *slog.Logger) (*httpServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--http: %w", err)
	}
	if ip := ln.Addr().(*net.TCPAddr).IP; page != nil && !ip.IsLoopback() {
		log.Warn("the map is served beyond this host, with no authentication: whoever reaches " + ln.Addr().String() +
			" can call services and read the shared state as this peer (keep --http on 127.0.0.1, or put it behind something that authenticates)")
	}
	mux := http.NewServeMux()
	if reg != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	}
	if page != nil {
		mux.Handle("/", page)
	}
	s := &httpServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("http server stopped", "err", err)
		}
	}()
	return s, nil
}

// URL is where the server answers.
func (s *httpServer) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the server and waits for it.
func (s *httpServer) Close() {
	s.srv.Close()
	s.done.Wait()
}
