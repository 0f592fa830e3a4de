package ui

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrConfig is returned by New when a Config field is out of range.
var ErrConfig = errors.New("ui: bad config")

// Config tunes a Server. The zero value takes every default.
type Config struct {
	// Interval is the time between two snapshots of the mesh (default 1 s:
	// a map that keeps up with a person, for one Observe per member).
	Interval time.Duration
	// ObserveTimeout bounds the wait for one member's Observation (default
	// 700 ms, under Interval): a member that does not answer by then is
	// drawn unreachable.
	ObserveTimeout time.Duration
	// CallTimeout bounds a call made from the page (default 10 s).
	CallTimeout time.Duration
	// DeadFor is how long a member that failed stays on the map, greyed
	// (default 2 min).
	DeadFor time.Duration
	// LeftFor is how long a member that left gracefully stays on the map
	// (default 10 s, at most DeadFor: leaving is no fault, and the CLI's
	// short-lived peers leave all the time).
	LeftFor time.Duration
	// StreamRate is the most values per second sent to one viewer of a
	// stream; the rest are skipped and counted (default 20).
	StreamRate int
	// Logger receives the server's warnings (default: discarded).
	Logger *slog.Logger
}

// withDefaults fills in zero fields and rejects negative ones.
func (c Config) withDefaults() (Config, error) {
	if c.Interval < 0 || c.ObserveTimeout < 0 || c.CallTimeout < 0 || c.DeadFor < 0 || c.LeftFor < 0 || c.StreamRate < 0 {
		return c, fmt.Errorf("%w: durations and StreamRate must not be negative", ErrConfig)
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.ObserveTimeout == 0 {
		c.ObserveTimeout = min(700*time.Millisecond, c.Interval)
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = 10 * time.Second
	}
	if c.DeadFor == 0 {
		c.DeadFor = 2 * time.Minute
	}
	if c.LeftFor == 0 {
		c.LeftFor = min(10*time.Second, c.DeadFor)
	}
	if c.LeftFor > c.DeadFor {
		return c, fmt.Errorf("%w: LeftFor %v is over DeadFor %v", ErrConfig, c.LeftFor, c.DeadFor)
	}
	if c.StreamRate == 0 {
		c.StreamRate = 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
