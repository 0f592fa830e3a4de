// Command ros is a plain Go peer that works with ROS 1 nodes through a
// gateway peer (`pyros-peer run --ros-master http://HOST:11311`), without
// ROS on its side: it drives /turtle1/cmd_vel (geometry_msgs/Twist), offers
// the ROS service /robot/enable (std_srvs/SetBool) and prints /chatter.
// ROS messages are plain maps with the ROS field names.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

func main() {
	join := flag.String("join", "", "comma-separated seed addresses HOST:PORT")
	flag.Parse()
	if err := run(*join); err != nil {
		fmt.Fprintln(os.Stderr, "ros:", err)
		os.Exit(1)
	}
}

func run(join string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := peer.Config{Name: "ros-example", RegistryDir: peer.DefaultRegistryDir()}
	if join != "" {
		cfg.Join = strings.Split(join, ",")
	}
	p, err := peer.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer p.Close()

	// A ROS service, served in Go: the gateway offers it to ROS because it
	// declares its ROS type.
	type setBool struct {
		Data bool `msgpack:"data"`
	}
	err = p.Provide("ros/robot/enable", peer.Func(func(_ context.Context, in setBool) (map[string]any, error) {
		fmt.Println("ROS asked to enable:", in.Data)
		return map[string]any{"success": true, "message": fmt.Sprintf("enabled=%v", in.Data)}, nil
	}), peer.ServiceType("std_srvs/SetBool"))
	if err != nil {
		return err
	}

	// A ROS topic, read in Go: the gateway imports every ROS topic.
	sub, err := p.Subscribe(ctx, "ros/chatter", func(m peer.Message) {
		var msg map[string]any
		if m.Decode(&msg) == nil {
			fmt.Println("/chatter:", msg["data"])
		}
	})
	if err != nil {
		return err
	}
	defer sub.Close()

	// A ROS topic, written in Go: typed, so the gateway can publish it.
	pub, err := p.Publish("ros/turtle1/cmd_vel", peer.Typed("geometry_msgs/Twist"))
	if err != nil {
		return err
	}
	defer pub.Close()
	fmt.Println("driving /turtle1/cmd_vel, serving /robot/enable, listening to /chatter")
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		pub.Send(map[string]any{
			"linear":  map[string]float64{"x": 1.0},
			"angular": map[string]float64{"z": 0.5},
		})
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
