package rosgw

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/apimaster"
)

// A ROS 1 node registers its topics and services with the master once, and
// a master that restarts forgets them all; goroslib does not register
// again. So at each poll the gateway checks that the master still knows
// its node. When it does not (the master restarted, whether or not a poll
// saw it down), the gateway drops every bridge and its node, joins the new
// master with a new node, and the sync of the same poll rebuilds the
// bridges from the new graph. While the master does not answer, the
// bridges are left as they are: connections between ROS nodes outlive
// their master, and nothing can be learnt of the graph meanwhile.

// join makes the gateway a node of its master.
func (g *Gateway) join() error {
	uri, err := g.master.GetURI()
	if err != nil {
		return fmt.Errorf("rosgw: no ROS master at %s: %w", g.cfg.Master, err)
	}
	host, _ := hostOf(g.cfg.Master)
	node, err := goroslib.NewNode(goroslib.NodeConf{
		MasterAddress:   host,
		Name:            g.cfg.Node,
		LogLevel:        goroslib.LogLevelWarn,
		LogDestinations: goroslib.LogDestinationCallback,
		OnLog:           g.rosLog,
	})
	if err != nil {
		return fmt.Errorf("rosgw: join the ROS graph at %s: %w", g.cfg.Master, err)
	}
	g.masterID = masterKey(uri)
	g.node = node
	return nil
}

// leave drops every bridge and the gateway's node, so that nothing of the
// master's previous run is left.
func (g *Gateway) leave() {
	g.dropBridges()
	g.publishBridges()
	g.node.Close()
	g.node = nil
	g.left = time.Now()
	g.retry.reset()
}

// graph reads the ROS graph, nil while the master does not answer or the
// gateway cannot join it. It joins the master first if the gateway is not,
// or no longer, one of its nodes. The run goroutine calls it.
func (g *Gateway) graph() *apimaster.SystemState {
	state, err := g.master.GetSystemState()
	if err == nil && g.node != nil && !g.known(state) && time.Since(g.left) > retryAfter {
		g.log.Info("ROS master restarted; re-registering", "master", g.cfg.Master)
		g.leave()
		g.restarted = true
	}
	if err == nil && g.node == nil {
		err = g.join()
	}
	g.masterUp.Store(err == nil)
	if err != nil {
		if !g.down {
			g.down = true
			g.log.Warn("ROS master unreachable; bridges kept as they are until it answers", "master", g.cfg.Master, "err", err)
		}
		return nil
	}
	if g.restarted {
		g.restarted = false
		g.params.restore(g.ctx)
	} else if g.down {
		g.log.Info("ROS master answers again", "master", g.cfg.Master)
	}
	g.down = false
	return state
}

// known reports whether the master knows the gateway's node from its
// start: a goroslib node registers as a publisher of /rosout when it is
// made, and never again. A master that does not list it restarted, or
// dropped the node (rosnode cleanup); the node's later registrations (of
// a bridge made since) do not count.
func (g *Gateway) known(state *apimaster.SystemState) bool {
	for _, e := range state.PublishedTopics {
		if e.Name == "/rosout" {
			return slices.Contains(e.Nodes, g.nodeName())
		}
	}
	return false
}

// nodeName is the gateway's node as the master names it: goroslib puts it
// in $ROS_NAMESPACE.
func (g *Gateway) nodeName() string {
	ns := os.Getenv("ROS_NAMESPACE")
	if ns == "" || ns == "/" {
		return "/" + g.cfg.Node
	}
	return ns + "/" + g.cfg.Node
}

// dropBridges closes every bridge.
func (g *Gateway) dropBridges() {
	g.mu.Lock()
	defer g.mu.Unlock()
	closeAll(g.imports)
	closeAll(g.exports)
	closeAll(g.srvImports)
	closeAll(g.srvExports)
}

// closeAll closes and forgets every bridge of m.
func closeAll[B interface{ close() }](m map[string]B) {
	for name, b := range m {
		b.close()
		delete(m, name)
	}
}
