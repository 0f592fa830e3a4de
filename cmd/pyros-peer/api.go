package main

import (
	"os"
	"path/filepath"
	"strconv"

	"github.com/pyros-mesh/pyros/api"
	"github.com/pyros-mesh/pyros/peer"
)

// startAPI serves the peer to a local process on a unix socket in a
// private directory.
func startAPI(p *peer.Peer, cfg peer.Config) (*api.Server, error) {
	dir := cfg.IPCDir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "pyros-"+strconv.Itoa(os.Getuid()), "api")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return api.Listen(p, dir, cfg.Logger.With("peer", p.Name(), "component", "api"))
}
