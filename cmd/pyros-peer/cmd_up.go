package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/pyros-mesh/pyros/launcher"
)

// defaultUpDir is where `up` keeps its run directory.
func defaultUpDir() string {
	if d := os.Getenv("PYROS_UP_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "pyros-"+strconv.Itoa(os.Getuid()), "up")
}

func upDirFlag(fs *flag.FlagSet) *string {
	return fs.String("dir", defaultUpDir(), "the launcher's run directory: logs, data, control socket (env PYROS_UP_DIR)")
}

func cmdUp(args []string, out, errw io.Writer) int {
	fs := newFlagSet("up", "[-n N | FILE] [--dir DIR] [--key FILE]",
		"Start a local mesh of N peer processes (default 3: p1..pN, the demo services, p1-p3 keeping the\n"+
			"shared state), or as described in a TOML FILE, keep them supervised, and stop them all on\n"+
			"Ctrl-C or `pyros-peer down`. Faults: pyros-peer fault --help.")
	n := fs.Int("n", 3, "how many peers, when no FILE is given")
	dir := upDirFlag(fs)
	key := fs.String("key", os.Getenv("PYROS_KEY_FILE"), "mesh key file for every peer")
	netns := fs.Bool("netns", false, "run each peer in a network namespace of its own on a virtual switch (root and iproute2):\nfault partition then cuts a real network")
	pos, code, ok := parse(fs, args, errw, 0, 1)
	if !ok {
		return code
	}
	file := launcher.Default(*n)
	if len(pos) == 1 {
		f, err := launcher.ReadFile(pos[0])
		if err != nil {
			fmt.Fprintln(errw, "pyros-peer up:", err)
			return exitUsage
		}
		file = f
	} else if *n < 1 || *n > 100 {
		fmt.Fprintln(errw, "pyros-peer up: -n must be 1 to 100")
		return exitUsage
	}
	cfg := launcher.Config{Dir: *dir, File: file, Netns: *netns}
	if *key != "" {
		cfg.Args = []string{"--key", *key}
	}
	m, err := launcher.Start(cfg)
	if err != nil {
		fmt.Fprintln(errw, "pyros-peer up:", err)
		return exitFail
	}
	defer m.Close()
	if err := m.ServeControl(); err != nil {
		fmt.Fprintln(errw, "pyros-peer up:", err)
		return exitFail
	}
	peers := m.Peers()
	printPeers(out, peers)
	fmt.Fprintf(out, "mesh up in %s (logs, data, faults.log); Ctrl-C or `pyros-peer down` stops it\n", *dir)
	if *netns {
		fmt.Fprintf(out, "the peers live in network namespaces: query from inside one, e.g.\n  ip netns exec %s pyros-peer members\n", peers[0].Netns)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case <-m.Done():
	}
	fmt.Fprintln(out, "stopping the mesh")
	return exitOK
}

// printPeers prints the launcher's table of peers.
func printPeers(out io.Writer, peers []launcher.PeerInfo) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPID\tSTATUS\tROLE\tRESTARTS\tWHERE")
	for _, p := range peers {
		role := "peer"
		if p.State {
			role = "state server"
		}
		where := p.Ready
		if i := strings.Index(where, "gossip "); i >= 0 {
			where = where[i:]
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\n", p.Name, p.PID, p.Status, role, p.Restarts, where)
	}
	tw.Flush()
}

func cmdDown(args []string, out, errw io.Writer) int {
	fs := newFlagSet("down", "[--dir DIR]", "Stop the mesh that `pyros-peer up` runs.")
	dir := upDirFlag(fs)
	if _, code, ok := parse(fs, args, errw, 0, 0); !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := launcher.Control(ctx, *dir, launcher.Request{Op: "stop"}); err != nil {
		fmt.Fprintln(errw, "pyros-peer down:", err)
		return exitFail
	}
	for { // the socket goes when every peer has stopped
		if _, err := os.Stat(launcher.SocketPath(*dir)); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintln(out, "mesh down")
			return exitOK
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(errw, "pyros-peer down: the mesh did not stop within 30s")
			return exitFail
		case <-time.After(50 * time.Millisecond):
		}
	}
}
