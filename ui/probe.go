package ui

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// reach is what a member's gossip port said when the mesh lost it: it
// tells a process that is gone from one that runs but is cut off.
type reach int

const (
	reachUnknown reach = iota // no address, or not probed
	reachRefused              // the host refused the connection: the process is gone
	reachOpen                 // the port accepted: the process runs, the mesh cannot reach it
	reachSilent               // no answer in time: the network or the host is down
)

// probe opens and closes a TCP connection to a departed member's gossip
// address. Screening on the far side drops such an empty stream quietly.
func probe(ctx context.Context, addr string, timeout time.Duration) reach {
	if addr == "" {
		return reachUnknown
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	switch {
	case err == nil:
		_ = c.Close()
		return reachOpen
	case errors.Is(err, syscall.ECONNREFUSED):
		return reachRefused
	case ctx.Err() != nil, errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return reachSilent
	}
	return reachUnknown
}
