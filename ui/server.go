package ui

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"

	"github.com/pyros-mesh/pyros/peer"
)

//go:embed static
var static embed.FS

// Server serves the map of the mesh as one peer sees it. It is an
// http.Handler; Close stops it.
type Server struct {
	p   *peer.Peer
	cfg Config
	log *slog.Logger
	mux *http.ServeMux

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	once   sync.Once
	wg     sync.WaitGroup // the sampling loop and every request under way

	mu      sync.Mutex
	closed  bool
	viewers int           // open /api/events
	latest  []byte        // the last Snapshot, as JSON; nil while nobody looks
	seq     uint64        // numbers latest
	fresh   chan struct{} // closed when latest changes
	wake    chan struct{} // a first viewer arrived

	sampler *Sampler
}

var _ http.Handler = (*Server)(nil)

// New starts serving the map of p's mesh. It samples the mesh only while a
// page is open.
func New(p *peer.Peer, cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	page, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	sampler, err := NewSampler(p, cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{p: p, cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(),
		fresh: make(chan struct{}), wake: make(chan struct{}, 1), sampler: sampler}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mux.Handle("/", http.FileServerFS(page))
	s.mux.HandleFunc("GET /api/events", s.guard(s.serveEvents))
	s.mux.HandleFunc("/api/call", s.guard(s.serveCall))
	s.mux.HandleFunc("GET /api/stream", s.guard(s.serveStream))
	s.mux.HandleFunc("GET /api/state", s.guard(s.serveState))
	s.wg.Add(1)
	go s.sample()
	return s, nil
}

// ServeHTTP serves the page and its API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close ends every open stream of events and the sampling, and waits for
// them. It is idempotent; requests that arrive later get 503.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancel()
	})
	s.wg.Wait()
	return s.sampler.Close()
}

// guard runs h as a request the server owns: Close waits for it, and the
// request's context ends at Close.
func (s *Server) guard(h func(context.Context, http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			http.Error(w, "ui: closed", http.StatusServiceUnavailable)
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		defer s.wg.Done()
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(s.ctx, cancel)
		defer stop()
		h(ctx, w, r.WithContext(ctx))
	}
}
