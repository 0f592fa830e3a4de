package main

import (
	"context"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pyros-mesh/pyros/peer"
	"github.com/pyros-mesh/pyros/rosgw"
)

// startGateway makes the peer a gateway to a ROS 1 master. metrics, if not
// nil, receives the gateway's metrics.
func startGateway(ctx context.Context, p *peer.Peer, f rosFlags, metrics prometheus.Registerer, log *slog.Logger) (*rosgw.Gateway, error) {
	return rosgw.Start(ctx, p, rosgw.Config{
		Master:        f.master,
		Prefix:        f.prefix,
		Include:       splitList(f.include),
		Exclude:       splitList(f.exclude),
		WaitForMaster: f.wait,
		Metrics:       metrics,
		Logger:        log,
	})
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
