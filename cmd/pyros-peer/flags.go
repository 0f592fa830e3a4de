package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/pyros-mesh/pyros/discovery"
	"github.com/pyros-mesh/pyros/peer"
)

func version() string { return peer.Version }

// peerFlags are the flags every verb has: each verb is a peer.
type peerFlags struct {
	name, bind, advertise, join, registry, gossip, logLevel string
	logFormat                                               string
	noRegistry, noIPC                                       bool
	codec                                                   string
	data                                                    string // run only
	expect                                                  int    // run only
	ros                                                     rosFlags
	mesh                                                    meshFlags
}

// rosFlags make a long-lived peer a ROS gateway.
type rosFlags struct {
	master, prefix, include, exclude string
	wait                             bool
}

func (f *peerFlags) registerROS(fs *flag.FlagSet) {
	fs.StringVar(&f.ros.master, "ros-master", "", "bridge the ROS 1 graph of this master (http://HOST:PORT; env ROS_MASTER_URI with --ros)")
	fs.StringVar(&f.ros.prefix, "ros-prefix", "ros", "where ROS names live in the mesh: /a/b is the stream ros/a/b")
	fs.StringVar(&f.ros.include, "ros-include", "", "comma-separated ROS name patterns to bridge (default: all), e.g. /robot/*")
	fs.StringVar(&f.ros.exclude, "ros-exclude", "", "comma-separated ROS name patterns not to bridge")
	fs.BoolVar(&f.ros.wait, "ros-wait", false, "start even if the ROS master does not answer yet, and join it when it does\n(default: fail at once, which catches a mistyped URI)")
}

// registerServer adds the flags that make a long-lived peer a state server.
func (f *peerFlags) registerServer(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "", "keep a replica of the shared state in DIR: this peer becomes a state server")
	fs.IntVar(&f.expect, "bootstrap-expect", 3, "state servers to wait for before forming the shared state (1: a single server)")
}

func (f *peerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "name", "", "peer name (default: host name and a random suffix)")
	fs.StringVar(&f.bind, "bind", os.Getenv("PYROS_BIND"), "gossip address HOST:PORT; links use the same host (env PYROS_BIND; default\n0.0.0.0:0: every interface, an OS-assigned port; 127.0.0.1:0 keeps a peer to this host)")
	fs.StringVar(&f.advertise, "advertise", "", "address other hosts reach this peer at, HOST[:PORT]")
	fs.StringVar(&f.join, "join", os.Getenv("PYROS_JOIN"), "comma-separated seed addresses HOST:PORT (env PYROS_JOIN)")
	fs.StringVar(&f.registry, "registry", peer.DefaultRegistryDir(), "same-host registry directory (env PYROS_REGISTRY)")
	fs.BoolVar(&f.noRegistry, "no-registry", false, "do not use the same-host registry directory")
	fs.BoolVar(&f.noIPC, "no-ipc", false, "link to peers of this host over tcp instead of unix sockets")
	fs.StringVar(&f.gossip, "gossip", envOr("PYROS_GOSSIP", "lan"), "gossip timers: lan, or local for a fast single-host mesh (env PYROS_GOSSIP)")
	fs.StringVar(&f.logLevel, "log-level", envOr("PYROS_LOG_LEVEL", "warn"), "log level: debug, info, warn, error (env PYROS_LOG_LEVEL)")
	fs.StringVar(&f.logFormat, "log-format", envOr("PYROS_LOG_FORMAT", "text"), "log format on stderr: text or json (env PYROS_LOG_FORMAT)")
	fs.StringVar(&f.codec, "codec", "msgpack", "codec of what this peer sends: msgpack, json or pickle")
	f.mesh.register(fs)
}

// config turns the flags into a peer configuration. Short-lived peers
// (queries) read the registry but do not register in it.
func (f *peerFlags) config(errw io.Writer, longLived bool) (peer.Config, error) {
	bind := f.bind
	if bind == "" {
		bind = "0.0.0.0:0"
	}
	cfg := peer.Config{Name: f.name, Bind: bind, Advertise: f.advertise, DisableIPC: f.noIPC,
		DataDir: f.data, BootstrapExpect: f.expect, Codec: f.codec}
	if f.data != "" && f.expect < 1 {
		return cfg, fmt.Errorf("--bootstrap-expect must be 1 or more, not %d", f.expect)
	}
	if f.join != "" {
		for _, a := range strings.Split(f.join, ",") {
			if a = strings.TrimSpace(a); a != "" {
				cfg.Join = append(cfg.Join, a)
			}
		}
	}
	if !f.noRegistry {
		cfg.RegistryDir = f.registry
		cfg.RegistryReadOnly = !longLived
	}
	switch f.gossip {
	case "lan":
		cfg.Gossip = discovery.LANConfig()
	case "local":
		cfg.Gossip = discovery.LocalConfig()
	default:
		return cfg, fmt.Errorf("--gossip must be lan or local, not %q", f.gossip)
	}
	if err := f.mesh.apply(&cfg); err != nil {
		return cfg, err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return cfg, fmt.Errorf("--log-level: %v", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f.logFormat {
	case "text":
		cfg.Logger = slog.New(slog.NewTextHandler(errw, opts))
	case "json":
		cfg.Logger = slog.New(slog.NewJSONHandler(errw, opts))
	default:
		return cfg, fmt.Errorf("--log-format must be text or json, not %q", f.logFormat)
	}
	return cfg, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// parse parses flags placed anywhere among the positional arguments.
// It returns the positional arguments, or a usage exit code.
func parse(fs *flag.FlagSet, args []string, errw io.Writer, minPos, maxPos int) ([]string, int, bool) {
	fs.SetOutput(errw)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if rest[0] == "--" {
			pos = append(pos, rest[1:]...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) < minPos || len(pos) > maxPos {
		fmt.Fprintf(errw, "pyros-peer %s: expected %s, got %d argument(s)\n", fs.Name(), argCount(minPos, maxPos), len(pos))
		fs.Usage()
		return nil, exitUsage, false
	}
	return pos, exitOK, true
}

func argCount(lo, hi int) string {
	if lo == hi {
		return fmt.Sprintf("%d argument(s)", lo)
	}
	return fmt.Sprintf("%d to %d arguments", lo, hi)
}

func newFlagSet(name, args, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: pyros-peer %s %s\n\n%s\n\nFlags:\n", name, args, summary)
		fs.PrintDefaults()
	}
	return fs
}

// settle waits until the mesh view stops changing for a moment (or max),
// so a fresh peer reports what the mesh holds rather than a partial view.
func settle(p *peer.Peer, quiet, max time.Duration) {
	deadline := time.Now().Add(max)
	last, since := viewSize(p), time.Now()
	for time.Now().Before(deadline) && time.Since(since) < quiet {
		time.Sleep(20 * time.Millisecond)
		if n := viewSize(p); n != last {
			last, since = n, time.Now()
		}
	}
}

// viewSize counts members and service providers.
func viewSize(p *peer.Peer) int {
	n := 0
	for _, m := range p.Members() {
		n += 1 + len(m.Services)
	}
	return n
}
