package ui

import (
	"encoding/json"
	"net/http"
)

// eventStream writes server-sent events, one JSON value each.
type eventStream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// openEvents answers the request with a stream of server-sent events.
func openEvents(w http.ResponseWriter) (*eventStream, error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies that buffer would hold the events back
	w.WriteHeader(http.StatusOK)
	e := &eventStream{w: w, rc: http.NewResponseController(w)}
	if _, err := w.Write([]byte(": open\n\n")); err != nil {
		return nil, err
	}
	return e, e.rc.Flush()
}

// send writes one event of already encoded JSON (one line).
func (e *eventStream) send(data []byte) error {
	buf := make([]byte, 0, len(data)+8)
	buf = append(append(append(buf, "data: "...), data...), "\n\n"...)
	if _, err := e.w.Write(buf); err != nil {
		return err
	}
	return e.rc.Flush()
}

// sendJSON encodes v and writes it as one event.
func (e *eventStream) sendJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"type": "error", "error": "not JSON: " + err.Error()})
	}
	return e.send(b)
}
