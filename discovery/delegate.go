package discovery

import (
	"fmt"
	"log/slog"

	"github.com/hashicorp/memberlist"
)

// pushPullBudget bounds the push/pull user state this member sends. memberlist
// rejects more than 20 MB, and the stream guard accepts at most
// maxUserStateLen; documents beyond the budget are sent as digests and
// fetched from their owners.
const pushPullBudget = 16 << 20

// delegate connects memberlist to the state table. Every entry point that
// handles network input recovers from panics: a bug triggered by hostile
// input must cost one message, not the process.
type delegate struct {
	meta    []byte
	table   *stateTable
	fetcher *fetcher
	learn   func(name, addr string) // tells the transport who is where; may be nil
	logger  *slog.Logger
}

var (
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*delegate)(nil)
)

// NodeMeta implements memberlist.Delegate.
func (d *delegate) NodeMeta(limit int) []byte {
	if len(d.meta) > limit {
		d.logger.Error("node metadata exceeds memberlist's limit; not published", "size", len(d.meta), "limit", limit)
		return nil
	}
	return d.meta
}

// NotifyMsg implements memberlist.Delegate. buf is only valid during the call.
func (d *delegate) NotifyMsg(buf []byte) {
	defer d.recover("message")
	if len(buf) == 0 {
		return
	}
	var err error
	switch t := msgType(buf[0]); t {
	case msgState, msgNotice, msgReply:
		var m stateMsg
		if _, m, err = decodeState(buf); err == nil {
			raw := buf
			if t == msgReply {
				// An answer to our fetch is not gossip, but a version
				// new here may be new elsewhere too: relay it as
				// gossip, or members that learnt an older version
				// first (a join's push/pull) never hear of it.
				raw = d.table.gossipForm(m)
			}
			d.table.apply(m, raw)
		}
	case msgLeave:
		var name string
		var inc uint64
		if name, inc, err = decodeLeave(buf); err == nil {
			d.table.leaveIntent(name, inc, buf)
		}
	case msgFetch:
		var from, to string
		if from, to, err = decodeFetch(buf); err == nil && to == d.table.self {
			d.fetcher.requestReply(from)
		}
	default:
		err = fmt.Errorf("%w: unknown type %d", errMalformed, t)
	}
	if err != nil {
		d.logger.Debug("dropped message", "err", err)
	}
}

// GetBroadcasts implements memberlist.Delegate.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.table.bcast.GetBroadcasts(overhead, limit)
}

// LocalState implements memberlist.Delegate.
func (d *delegate) LocalState(bool) []byte {
	return d.table.localState(pushPullBudget)
}

// MergeRemoteState implements memberlist.Delegate.
func (d *delegate) MergeRemoteState(buf []byte, _ bool) {
	defer d.recover("push/pull state")
	entries, err := decodePushPull(buf)
	if err != nil {
		d.logger.Debug("dropped push/pull state", "err", err)
		return
	}
	d.table.merge(entries)
}

// NotifyJoin implements memberlist.EventDelegate. memberlist holds its node
// lock here: nothing below calls back into memberlist.
func (d *delegate) NotifyJoin(n *memberlist.Node) {
	d.noteAddress(n)
	d.table.join(n)
}

// NotifyLeave implements memberlist.EventDelegate.
func (d *delegate) NotifyLeave(n *memberlist.Node) { d.table.leave(n) }

// NotifyUpdate implements memberlist.EventDelegate.
func (d *delegate) NotifyUpdate(n *memberlist.Node) {
	d.noteAddress(n)
	d.table.update(n)
}

func (d *delegate) noteAddress(n *memberlist.Node) {
	if d.learn != nil {
		d.learn(n.Name, n.Address())
	}
}

func (d *delegate) recover(what string) {
	if r := recover(); r != nil {
		d.logger.Error("recovered from panic handling "+what, "panic", r)
	}
}
