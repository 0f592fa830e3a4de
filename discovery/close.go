package discovery

import (
	"errors"
	"fmt"
	"time"
)

// leaveTimeout bounds how long Close spends leaving: waiting for the leave
// message to be handed to gossip, then letting the last transmissions go out
// (memberlist reports the message done before its final packets are sent,
// and shutting down at once loses them).
const leaveTimeout = time.Second

// Close stops LAN discovery, leaves the mesh gracefully (waiting at most one
// second for the leave message to go out), stops gossip, waits for every
// goroutine, closes the Events channel and removes the registry file. Calls
// after the first return the first call's result.
func (d *Discovery) Close() error {
	d.closeOnce.Do(func() { d.closeErr = d.close() })
	return d.closeErr
}

func (d *Discovery) close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel() // stops joins in progress
	if d.lan != nil {
		d.lan.shutdown() // no more announcements nor joins
	}
	if !d.crashed.Load() {
		d.leave()
	}
	var errs []error
	d.mlLog.muted.Store(true)
	if err := d.ml.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("discovery: shutdown: %w", err))
	}
	close(d.stop)
	d.wg.Wait()
	if d.registry != nil {
		if err := d.registry.remove(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// leave gossips a leave intent, so that peers report EventLeave rather than
// EventFail, leaves memberlist, and lets the leave propagate; at most
// leaveTimeout in all.
func (d *Discovery) leave() {
	deadline := time.Now().Add(leaveTimeout)
	alone := d.table.alive.Load() <= 1
	if !alone {
		t := time.NewTimer(leaveTimeout / 2)
		select {
		case <-d.table.queueLeaveIntent():
		case <-t.C:
			d.logger.Debug("leave intent not fully transmitted")
		}
		t.Stop()
	}
	if err := d.ml.Leave(max(time.Until(deadline), time.Millisecond)); err != nil {
		d.logger.Debug("leave not confirmed", "err", err)
		return
	}
	if alone {
		return
	}
	t := time.NewTimer(min(time.Until(deadline), d.leaveDelay))
	defer t.Stop()
	<-t.C
}
