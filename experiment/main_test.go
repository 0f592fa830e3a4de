package experiment

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pyros-mesh/pyros/peer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// epoch is when the synthetic histories begin.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// atMS is ms milliseconds after epoch.
func atMS(ms int) time.Time { return epoch.Add(time.Duration(ms) * time.Millisecond) }

func put(client, key, value string, rev int64, start, end int) Op {
	return Op{Client: client, Kind: "put", Key: key, Value: value, Rev: rev, Start: atMS(start), End: atMS(end), Outcome: OK}
}

// get reads value at rev; rev 0: the key was absent.
func get(client, key, value string, rev int64, start, end int) Op {
	return Op{Client: client, Kind: "get", Key: key, Value: value, Rev: rev, Start: atMS(start), End: atMS(end), Outcome: OK}
}

func cas(client, key string, prev int64, value string, rev int64, start, end int) Op {
	return Op{Client: client, Kind: "cas", Key: key, Prev: prev, Value: value, Rev: rev, Start: atMS(start), End: atMS(end), Outcome: OK}
}

// del deletes key; existed is "true", "false" or "" (not recorded).
func del(client, key, existed string, start, end int) Op {
	return Op{Client: client, Kind: "delete", Key: key, Value: existed, Start: atMS(start), End: atMS(end), Outcome: OK}
}

func unknown(op Op) Op {
	op.Outcome, op.Rev, op.Err = Unknown, 0, "peer: write not confirmed, it may or may not have been applied: context deadline exceeded"
	return op
}

func failed(op Op) Op {
	op.Outcome, op.Rev, op.Err = Fail, 0, peer.ErrNoStateServer.Error()
	return op
}

// conflicted is a cas refused: the key was at cur (0: absent), worded as
// peer words it.
func conflicted(op Op, cur int64) Op {
	op.Outcome, op.Rev = Fail, 0
	if cur == 0 {
		op.Err = fmt.Errorf("%w: %q does not exist", peer.ErrConflict, op.Key).Error()
	} else {
		op.Err = fmt.Errorf("%w: %q is at revision %d", peer.ErrConflict, op.Key, cur).Error()
	}
	return op
}
