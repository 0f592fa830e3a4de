package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pyros-mesh/pyros/discovery"
	"github.com/pyros-mesh/pyros/meshkey"
	"github.com/pyros-mesh/pyros/peer"
)

// runLANPeer is a peer on one host of a netLab, started with no seed: it
// finds the others by LAN discovery. It binds every interface of its
// namespace, provides lan/NAME/whoami and lan/NAME/echo, publishes
// lan/NAME/ticks ({n, tag: "pyros-secret-tick"}), and prints
// "members N after D: NAMES" each time the members it sees change, D being
// the time since it started. Environment: PYROS_E2E_NAME,
// PYROS_MESH, PYROS_KEY_FILE (optional), PYROS_GOSSIP (lan for the
// default timers, else fast local ones), PYROS_REGISTRY (for the host's CLI
// queries), PYROS_E2E_DATA (optional: a state server of PYROS_E2E_EXPECT).
func runLANPeer() error {
	began := time.Now()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	cfg := peer.Config{
		Name:        os.Getenv("PYROS_E2E_NAME"),
		Bind:        "0.0.0.0:0",
		Mesh:        os.Getenv("PYROS_MESH"),
		LAN:         true,
		RegistryDir: os.Getenv("PYROS_REGISTRY"),
		DisableIPC:  true,
		Gossip:      discovery.LocalConfig(),
		DataDir:     os.Getenv("PYROS_E2E_DATA"),
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	cfg.BootstrapExpect, _ = strconv.Atoi(os.Getenv("PYROS_E2E_EXPECT"))
	if os.Getenv("PYROS_GOSSIP") == "lan" {
		cfg.Gossip = discovery.LANConfig() // the timers a real LAN gets
	}
	if f := os.Getenv("PYROS_KEY_FILE"); f != "" {
		keys, err := meshkey.ReadFile(f)
		if err != nil {
			return err
		}
		if cfg.Keys, err = meshkey.NewRing(keys...); err != nil {
			return err
		}
	}
	p, err := peer.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	name := p.Name()
	if err := p.Provide("lan/"+name+"/whoami", peer.Func(func(context.Context, any) (string, error) { return name, nil })); err != nil {
		return err
	}
	if err := p.Provide("lan/"+name+"/echo", peer.Func(func(_ context.Context, v any) (any, error) { return v, nil })); err != nil {
		return err
	}
	pub, err := p.Publish("lan/" + name + "/ticks")
	if err != nil {
		return err
	}
	defer pub.Close()
	fmt.Printf("ready %s gossip %s\n", name, p.Addr())
	events := p.Watch(ctx)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	seen := ""
	for n := 0; ; n++ {
		var names []string
		for _, m := range p.Members() {
			names = append(names, m.Name)
		}
		slices.Sort(names)
		if list := strings.Join(names, " "); list != seen {
			seen = list
			fmt.Printf("members %d after %v: %s\n", len(names), time.Since(began).Round(time.Millisecond), list)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-events:
		case <-t.C:
			pub.Send(map[string]any{"n": n, "tag": "pyros-secret-tick"})
		}
	}
}

// runCapture records every frame on every interface of its network
// namespace (a netLab's switch) into $PYROS_E2E_OUT until SIGTERM, as
// tcpdump would: a raw AF_PACKET socket.
func runCapture() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	out, err := os.Create(os.Getenv("PYROS_E2E_OUT"))
	if err != nil {
		return err
	}
	defer out.Close()
	const ethPAll = 0x0300 // htons(ETH_P_ALL)
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, ethPAll)
	if err != nil {
		return fmt.Errorf("packet socket: %w", err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: ethPAll}); err != nil {
		return err
	}
	tv := syscall.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	fmt.Println("capturing")
	buf := make([]byte, 1<<16)
	for ctx.Err() == nil {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			continue // timeout: look at ctx again
		}
		if _, err := out.Write(buf[:n]); err != nil {
			return err
		}
	}
	return nil
}
