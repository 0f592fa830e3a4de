package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/peer"
)

// maxCallBody bounds the body of a call from the page.
const maxCallBody = 1 << 20

// serveCall calls a service for the page: {"service", "arg"} in,
// {"result"} or {"error"} out.
func (s *Server) serveCall(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		answer(w, http.StatusMethodNotAllowed, "error", "POST a call as JSON: {\"service\": \"NAME\", \"arg\": VALUE}")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		answer(w, http.StatusUnsupportedMediaType, "error", "send the call as Content-Type: application/json")
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		if u, err := url.Parse(origin); err != nil || u.Host != r.Host {
			answer(w, http.StatusForbidden, "error", "calls are taken only from this page's own origin, not "+origin)
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCallBody))
	if err != nil {
		answer(w, http.StatusRequestEntityTooLarge, "error", fmt.Sprintf("the call's body is over %d bytes", maxCallBody))
		return
	}
	req, err := decodeCall(body)
	if err != nil {
		answer(w, http.StatusBadRequest, "error", "bad JSON: "+err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CallTimeout)
	defer cancel()
	var res any
	if err := s.p.Call(ctx, req.Service, req.Arg, &res); err != nil {
		code, msg := callFailure(err, s.cfg.CallTimeout)
		answer(w, code, "error", msg)
		return
	}
	answer(w, http.StatusOK, "result", codec.JSONable(res))
}

// callFailure maps a call's error to a status and one line.
// A handler's error or panic (*peer.RemoteError) and a lost provider
// are the provider's failures: 502.
func callFailure(err error, timeout time.Duration) (int, string) {
	switch {
	case errors.Is(err, peer.ErrUnknownService):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "timed out after " + timeout.String()
	}
	return http.StatusBadGateway, err.Error()
}

// answer writes {key: v} with the status.
func answer(w http.ResponseWriter, code int, key string, v any) {
	b, err := json.Marshal(map[string]any{key: v})
	if err != nil {
		code = http.StatusBadGateway
		b, _ = json.Marshal(map[string]string{"error": "the result is not JSON: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
