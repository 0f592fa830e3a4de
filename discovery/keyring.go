package discovery

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/hashicorp/memberlist"
	"github.com/pyros-mesh/pyros/meshkey"
)

// gossipKeyLen is the length of the gossip keys derived from the mesh keys:
// AES-256 in memberlist's AES-GCM encryption.
const gossipKeyLen = 32

// gossipKeys keeps memberlist's keyring equal to the keys derived for gossip
// from a mesh key ring, primary first, as the ring changes.
type gossipKeys struct {
	ring    *meshkey.Ring
	keyring *memberlist.Keyring
	logger  *slog.Logger
	mu      sync.Mutex // serialises sync: callbacks of concurrent Sets
}

// newGossipKeys builds memberlist's keyring from ring and keeps it in step
// with the ring. The subscription lives as long as the ring (meshkey has no
// way to cancel one); after Close it only updates an unused keyring.
func newGossipKeys(ring *meshkey.Ring, logger *slog.Logger) (*gossipKeys, error) {
	derived := ring.Derive("gossip", gossipKeyLen)
	kr, err := memberlist.NewKeyring(derived[1:], derived[0])
	if err != nil {
		return nil, fmt.Errorf("discovery: gossip keyring: %w", err)
	}
	g := &gossipKeys{ring: ring, keyring: kr, logger: logger}
	// Subscribe, then sync once: a Set made between the derivation above
	// and the subscription is not missed.
	ring.OnChange(g.sync)
	g.sync()
	return g, nil
}

// sync installs the ring's current gossip keys in place: new keys are added,
// the primary is switched, then dropped keys are removed, so that this member
// never stops accepting a key of the ring.
func (g *gossipKeys) sync() {
	g.mu.Lock()
	defer g.mu.Unlock()
	want := g.ring.Derive("gossip", gossipKeyLen)
	if err := syncKeyring(g.keyring, want); err != nil {
		g.logger.Error("gossip keyring not updated", "err", err)
		return
	}
	g.logger.Debug("gossip keyring updated", "keys", g.ring.IDs())
}

// syncKeyring makes kr hold exactly want, want[0] as its primary.
//
// memberlist's Keyring.GetKeys hands out its internal slice, which the
// receive path iterates without a lock, and RemoveKey shifts the keys
// following the removed one within that slice. Removing only the last key
// shifts nothing, so stale keys are first moved to the end: UseKey rebuilds
// the slice with the given key first and the others in order, and using
// want's keys from last to first leaves [want..., stale...]. Meanwhile a
// secondary key of want may be the primary for a few microseconds; it is a
// key of the ring, which the mesh accepts.
func syncKeyring(kr *memberlist.Keyring, want [][]byte) error {
	if len(want) == 0 {
		return fmt.Errorf("discovery: empty key ring")
	}
	for _, k := range want {
		if err := kr.AddKey(k); err != nil {
			return err
		}
	}
	var stale [][]byte
	for _, k := range kr.GetKeys() {
		if !slices.ContainsFunc(want, func(w []byte) bool { return bytes.Equal(w, k) }) {
			stale = append(stale, k)
		}
	}
	if len(stale) == 0 {
		if !bytes.Equal(kr.GetPrimaryKey(), want[0]) {
			return kr.UseKey(want[0])
		}
		return nil
	}
	for i := len(want) - 1; i >= 0; i-- {
		if err := kr.UseKey(want[i]); err != nil {
			return err
		}
	}
	for {
		keys := kr.GetKeys()
		last := keys[len(keys)-1]
		if !slices.ContainsFunc(stale, func(s []byte) bool { return bytes.Equal(s, last) }) {
			return nil
		}
		if err := kr.RemoveKey(last); err != nil {
			return err
		}
	}
}
