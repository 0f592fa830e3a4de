// Command services is a pyros peer written in Go: it provides the service
// example/greet and calls demo/add, which another peer provides (start one
// with `pyros-peer run --demo`). Peers on this host find each other through
// the per-user registry directory; give --join HOST:PORT for other hosts.
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
		fmt.Fprintln(os.Stderr, "services:", err)
		os.Exit(1)
	}
}

func run(join string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := peer.Config{Name: "greeter", RegistryDir: peer.DefaultRegistryDir()}
	if join != "" {
		cfg.Join = strings.Split(join, ",")
	}
	p, err := peer.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer p.Close()

	// Provide a service: any peer of the mesh can now call it by name.
	err = p.Provide("example/greet", peer.Func(func(ctx context.Context, name string) (string, error) {
		return "hello, " + name + ", from " + p.Name(), nil
	}))
	if err != nil {
		return err
	}
	fmt.Println("providing example/greet as", p.Name())

	// Call a service by name; wait for a provider to show up in the catalog.
	var sum int
	for {
		callCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = p.Call(callCtx, "demo/add", map[string]int{"a": 2, "b": 3}, &sum)
		cancel()
		if err == nil || ctx.Err() != nil {
			break
		}
		fmt.Println("waiting for a provider of demo/add:", err)
		time.Sleep(time.Second)
	}
	if err != nil {
		return err
	}
	fmt.Println("demo/add(2, 3) =", sum)
	fmt.Println("serving until Ctrl-C")
	<-ctx.Done()
	return nil
}
