package consensus

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
	"github.com/pyros-mesh/pyros/fault"
)

// Fault injection (Config.Faults) in the raft transport: connections to
// servers a fault partition separates from this one are refused, and
// closed when the partition starts; every write waits the fault delay and
// is lost, with its connection, with the drop probability. Accepted
// connections come from ephemeral ports: the other side, applying the same
// partition, closes them.

// errFaultDrop fails a write lost to a fault drop, with its connection.
var errFaultDrop = errors.New("consensus: connection dropped by a fault rule")

// partitioned returns an error wrapping fault.ErrPartitioned when a fault
// partition separates this server from the one at addr.
func (l *tcpLayer) partitioned(addr raft.ServerAddress) error {
	if l.faults == nil {
		return nil
	}
	if name := l.nameOf(addr); l.faults.Blocked(name) {
		return fmt.Errorf("consensus: raft connection to %s at %s: %w", name, addr, fault.ErrPartitioned)
	}
	return nil
}

// nameOf names the server at a raft address: from the raft configuration
// (the servers raft dials), else from the mesh, else the server last seen
// there ("" if none).
func (l *tcpLayer) nameOf(addr raft.ServerAddress) string {
	name := ""
	if r := l.raft.Load(); r != nil {
		for _, sv := range r.GetConfiguration().Configuration().Servers {
			if sv.Address == addr {
				name = string(sv.ID)
				break
			}
		}
	}
	if name == "" && l.mesh != nil {
		for _, sv := range l.mesh.Servers() {
			if sv.Addr == string(addr) {
				name = sv.Name
				break
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if name == "" {
		return l.names[addr]
	}
	if l.names == nil {
		l.names = make(map[raft.ServerAddress]string)
	}
	l.names[addr] = name
	return name
}

// cutPartitioned closes the connections this server dialed to servers the
// fault rules now separate from it.
func (l *tcpLayer) cutPartitioned() {
	l.mu.Lock()
	var dialed []*trackedConn
	for c := range l.conns {
		if c.peer != "" {
			dialed = append(dialed, c)
		}
	}
	l.mu.Unlock()
	cut := make(map[raft.ServerAddress]bool)
	for _, c := range dialed {
		blocked, ok := cut[c.peer]
		if !ok {
			blocked = l.partitioned(c.peer) != nil
			cut[c.peer] = blocked
		}
		if blocked {
			c.Close()
		}
	}
}

// beforeWrite applies the fault rules to one write: it is lost with its
// connection with the drop probability, else waits the delay, or less once
// the server is closing (so that Close and its leadership transfer are not
// held up).
func (c *trackedConn) beforeWrite() error {
	if c.l.faults.Drop() {
		c.Close()
		return errFaultDrop
	}
	d := c.l.faults.Delay()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.l.stop:
		return nil
	case <-c.done:
		return net.ErrClosed
	}
}
