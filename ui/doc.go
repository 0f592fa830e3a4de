// Package ui serves a live map of the mesh to a browser, from any peer.
//
// The page (static/, embedded in the binary: it needs no network and no
// build step) draws every member the serving peer knows as a circle, the
// links between them as lines, members that left, failed or do not answer
// in grey, and, when members disagree about who is alive (a partition),
// each group of members that see the same mesh in its own colour. Side
// panels list the services, with each provider's request rate and mean
// latency, and the streams, with their message rates and drops; a service
// can be called and a stream or a prefix of the shared state watched live.
//
//	s, err := ui.New(p, ui.Config{Logger: log})
//	if err != nil { ... }
//	defer s.Close()
//	http.Handle("/", s)
//
// What it serves:
//   - / the page;
//   - /api/events: server-sent events, a JSON Snapshot about once a
//     Config.Interval while anyone listens. Each member's Observation is
//     fetched in parallel (Config.ObserveTimeout); rates are differences
//     of its counters between two snapshots;
//   - /api/call: POST {"service": NAME, "arg": JSON} calls the service
//     through the peer and answers {"result": JSON} or {"error": TEXT};
//   - /api/stream?name=S: server-sent events, the stream's values while the
//     client listens, at most Config.StreamRate per second;
//   - /api/state?prefix=P: server-sent events, the entries under the prefix,
//     then every change.
//
// The page reads the mesh and calls its services: serve it on loopback (or
// behind something that authenticates) unless everyone who can reach the
// address may do that. Calls must be JSON posts from the page's own origin,
// so that other web pages the browser shows cannot make them.
package ui
