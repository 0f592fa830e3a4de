package rosgw

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

// ownersKey is where gateways of one ROS master agree, in the shared
// state, on which of them bridges each name: the key holds the owner's peer
// name and vanishes with its peer (an Ephemeral key), so another gateway
// takes over when the owner dies.
const ownersKey = "pyros/rosgw/owner/"

// nodePrefix starts the ROS node name of every pyros gateway: what such a
// node publishes or provides is never imported back into the mesh.
const nodePrefix = "pyros_"

// gatewayNode reports whether a ROS node is a pyros gateway.
func gatewayNode(node string) bool {
	return strings.HasPrefix(strings.TrimPrefix(node, "/"), nodePrefix)
}

// owns reports whether this gateway is, or now becomes, the one that
// bridges key (e.g. "topic /chatter") for its master. With no state
// servers in the mesh there is no agreement to reach: every gateway
// bridges. If the state cannot be read, the gateway keeps doing what it
// does (bridging reports whether it currently bridges key).
func (g *Gateway) owns(key string, bridging bool) bool {
	if !g.haveState {
		return true
	}
	k := ownersKey + g.masterID + "/" + key
	ctx, cancel := context.WithTimeout(g.ctx, time.Second)
	defer cancel()
	st := g.p.State()
	e, err := st.Get(ctx, k, peer.Stale())
	switch {
	case err == nil:
		var holder string
		e.Decode(&holder)
		return holder == g.p.Name()
	case errors.Is(err, peer.ErrNotFound):
		_, err := st.CompareAndSwap(ctx, k, 0, g.p.Name(), peer.Ephemeral())
		return err == nil
	}
	g.log.Debug("ownership unknown", "key", key, "err", err)
	return bridging
}

// masterKey names the ROS master in ownership keys: its URI as the master
// itself reports it, so that gateways that reach it by different addresses
// agree.
func masterKey(uri string) string {
	r := strings.NewReplacer("http://", "", "/", "", ":", "_")
	return r.Replace(uri)
}
