package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/pyros-mesh/pyros/discovery"
	"github.com/pyros-mesh/pyros/peer"
)

// runRole runs this binary as a helper process and returns its exit code.
func runRole(role string) int {
	var err error
	switch role {
	case "recorder":
		err = runRecorder()
	case "zmq4-echo":
		err = runZMQ4Echo()
	case "state-owner":
		err = runStateOwner()
	case "setbool":
		err = runSetBool()
	case "lan-peer":
		err = runLANPeer()
	case "capture":
		err = runCapture()
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, role+":", err)
		return 1
	}
	return 0
}

// runRecorder is a provider of e2e/record: it appends each call's id to the
// file $PYROS_E2E_LOG before replying, so a test can check that no call ran
// twice and every acknowledged success ran once.
func runRecorder() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	f, err := os.OpenFile(os.Getenv("PYROS_E2E_LOG"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	p, err := rolePeer(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	var mu sync.Mutex
	name := p.Name()
	p.Provide("e2e/record", peer.Func(func(ctx context.Context, id string) (string, error) {
		mu.Lock()
		_, err := f.WriteString(id + "\n")
		mu.Unlock()
		return name, err
	}))
	fmt.Println("ready", name)
	<-ctx.Done()
	return nil
}

// runZMQ4Echo is a raw zmq4 ROUTER that echoes every message: the baseline
// the service round trip is compared with.
func runZMQ4Echo() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	r := zmq4.NewRouter(ctx, zmq4.WithID(zmq4.SocketIdentity("echo")))
	defer r.Close()
	ep := os.Getenv("PYROS_E2E_ENDPOINT")
	if err := r.Listen(ep); err != nil {
		return err
	}
	if a := r.Addr(); a != nil && a.Network() == "tcp" {
		ep = "tcp://" + a.String()
	}
	fmt.Println(ep)
	go func() {
		for {
			m, err := r.Recv()
			if err != nil {
				return
			}
			if r.Send(m) != nil {
				return
			}
		}
	}()
	<-ctx.Done()
	return nil
}

// runStateOwner writes presence/NAME as an Ephemeral key, says ready and
// waits: the key must vanish when the process dies.
func runStateOwner() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	p, err := rolePeer(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := p.State().Put(wctx, "presence/"+p.Name(), "here", peer.Ephemeral()); err != nil {
		return err
	}
	fmt.Println("ready")
	<-ctx.Done()
	return nil
}

// runSetBool provides ros/robot/enable, declared as the ROS service type
// std_srvs/SetBool, for a ROS gateway to offer to ROS.
func runSetBool() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	p, err := rolePeer(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	type req struct {
		Data bool `msgpack:"data"`
	}
	type res struct {
		Success bool   `msgpack:"success"`
		Message string `msgpack:"message"`
	}
	err = p.Provide("ros/robot/enable", peer.Func(func(_ context.Context, in req) (res, error) {
		return res{Success: true, Message: fmt.Sprintf("enabled=%v by a Go peer", in.Data)}, nil
	}), peer.ServiceType("std_srvs/SetBool"))
	if err != nil {
		return err
	}
	fmt.Println("ready")
	<-ctx.Done()
	return nil
}

// rolePeer is the peer of a role process: named by the test, in its mesh.
func rolePeer(ctx context.Context) (*peer.Peer, error) {
	return peer.New(ctx, peer.Config{
		Name:        os.Getenv("PYROS_E2E_NAME"),
		RegistryDir: os.Getenv("PYROS_REGISTRY"),
		Gossip:      discovery.LocalConfig(),
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
}
