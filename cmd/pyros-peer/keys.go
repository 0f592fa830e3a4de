package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/pyros-mesh/pyros/meshkey"
	"github.com/pyros-mesh/pyros/peer"
)

// cmdKeygen prints a new mesh key.
func cmdKeygen(args []string, out, errw io.Writer) int {
	fs := newFlagSet("keygen", "", "Print a new random mesh key: pyros-peer keygen > mesh.key, then give every peer --key mesh.key.")
	if _, code, ok := parse(fs, args, errw, 0, 0); !ok {
		return code
	}
	fmt.Fprintln(out, meshkey.Generate())
	return exitOK
}

// meshFlags say which mesh a peer belongs to and how it finds it.
type meshFlags struct {
	mesh, keyFile string
	lan           bool
	ring          *meshkey.Ring
}

func (f *meshFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.mesh, "mesh", envOr("PYROS_MESH", "pyros"), "mesh name: meshes with other names on the LAN ignore this one (env PYROS_MESH)")
	fs.StringVar(&f.keyFile, "key", os.Getenv("PYROS_KEY_FILE"), "mesh key file (pyros-peer keygen): encrypt and authenticate everything between peers;\nre-read while running, for key rotation (env PYROS_KEY_FILE)")
	fs.BoolVar(&f.lan, "lan", !isOff(os.Getenv("PYROS_LAN")), "find the mesh's peers on the LAN by multicast, with no --join; on when bound to\na non-loopback address (env PYROS_LAN=off turns it off)")
}

func isOff(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "0", "off", "false", "no":
		return true
	}
	return false
}

// apply puts the mesh flags into cfg, reading the key file.
func (f *meshFlags) apply(cfg *peer.Config) error {
	cfg.Mesh, cfg.LAN = f.mesh, f.lan
	if f.keyFile == "" {
		return nil
	}
	keys, err := meshkey.ReadFile(f.keyFile)
	if err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	if f.ring, err = meshkey.NewRing(keys...); err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	cfg.Keys = f.ring
	return nil
}

// watch follows the key file for rotations until ctx ends; the returned
// channel closes when it has stopped.
func (f *meshFlags) watch(ctx context.Context, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	if f.ring == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		meshkey.Watch(ctx, f.keyFile, f.ring, 2*time.Second, log)
	}()
	return done
}

// security is what the ready line says of the mesh's protection.
func (f *meshFlags) security() string {
	if f.ring == nil {
		return "OPEN mesh " + f.mesh + " (no --key)"
	}
	return fmt.Sprintf("mesh %s, encrypted (keys %s)", f.mesh, strings.Join(f.ring.IDs(), ","))
}
