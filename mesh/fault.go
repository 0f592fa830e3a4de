package mesh

import (
	"fmt"
	"time"

	"github.com/pyros-mesh/pyros/fault"
)

// Fault injection (Config.Faults): links to and from partitioned peers are
// refused and closed, and lost or delayed messages are dropped or held back
// here. With no Injector each check is a nil test.

// partitioned returns an error wrapping fault.ErrPartitioned when a fault
// partition separates this node from peer, else nil.
func (n *Node) partitioned(peer string) error {
	if !n.cfg.Faults.Blocked(peer) {
		return nil
	}
	return fmt.Errorf("%w: %s from %s", fault.ErrPartitioned, n.cfg.Name, peer)
}

// cutPartitioned closes the links to the peers the fault rules now
// separate from this node; their calls fail as on any lost link.
func (n *Node) cutPartitioned() {
	n.mu.Lock()
	var cut []*link
	for l := range n.links {
		if n.cfg.Faults.Blocked(l.remote) {
			cut = append(cut, l)
		}
	}
	n.mu.Unlock()
	for _, l := range cut {
		n.log.Info("closing link cut by a fault partition", "peer", l.remote)
		l.fail(n.partitioned(l.remote))
	}
}

// lost draws whether m, about to be queued, is lost to a fault drop.
// Requests, replies and stream data may be lost; acknowledgements,
// cancellations and stream opens and closes are not: losing them would
// break the protocol rather than lose a message.
func (n *Node) lost(m *message) bool {
	if n.cfg.Faults == nil {
		return false
	}
	switch m.kind {
	case kindRequest, kindReply, kindError, kindData:
		return n.cfg.Faults.Drop()
	}
	return false
}

// epoch anchors monotime.
var epoch = time.Now()

// monotime is the monotonic clock in nanoseconds, for the due times of
// delayed batches.
func monotime() int64 { return int64(time.Since(epoch)) }

// delaySpan bounds the time over which a batch collects delayed messages,
// and so how much longer than the fault delay its first message waits.
const delaySpan = time.Millisecond
