package rosgw

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/bluenviron/goroslib/v2/pkg/xmlrpc"

	"github.com/pyros-mesh/pyros/peer"
)

// params mirrors the ROS parameter server and the mesh's shared state
// under the prefix, both ways: /robot/speed is the key ros/robot/speed.
// A change on either side is copied to the other; the gateway remembers
// the last value it saw of each parameter, so its own copies are not
// copied back. Parameters are scalars (bool, int, double, string); lists
// and dictionaries are left out.
type params struct {
	g  *Gateway
	xc *xmlrpc.Client

	mu   sync.Mutex
	seen map[string]any // ROS name -> last value on either side
}

func newParams(g *Gateway, host string) *params {
	return &params{g: g, xc: xmlrpc.NewClient(host, &http.Client{Timeout: probeTimeout}), seen: make(map[string]any)}
}

type callerReq struct{ CallerID string }

type paramReq struct {
	CallerID string
	Key      string
}

type paramSetReq struct {
	CallerID string
	Key      string
	Value    any
}

type paramNamesRes struct {
	Code          int
	StatusMessage string
	List          []string
}

type paramRes struct {
	Code          int
	StatusMessage string
	Value         any
}

type paramAck struct {
	Code          int
	StatusMessage string
	Ignore        int
}

func (pm *params) caller() string { return "/" + pm.g.cfg.Node }

// fromROS copies parameters that changed in ROS into the shared state.
func (pm *params) fromROS(ctx context.Context) {
	if !stateAvailable(pm.g.p) {
		return
	}
	var names paramNamesRes
	if err := pm.xc.Do("getParamNames", callerReq{CallerID: pm.caller()}, &names); err != nil || names.Code != 1 {
		pm.g.log.Warn("list ROS parameters", "err", err, "status", names.StatusMessage)
		return
	}
	for _, name := range names.List {
		if !pm.g.included(name) {
			continue
		}
		var res paramRes
		if err := pm.xc.Do("getParam", paramReq{CallerID: pm.caller(), Key: name}, &res); err != nil || res.Code != 1 {
			continue // a list or dictionary, or gone meanwhile
		}
		if !pm.changed(name, res.Value) {
			continue
		}
		if _, err := pm.g.p.State().Put(ctx, pm.g.meshName(name), res.Value); err != nil {
			pm.forget(name)
			if errors.Is(err, peer.ErrNoStateServer) {
				return
			}
			pm.g.log.Warn("copy a ROS parameter", "param", name, "err", err)
		}
	}
}

// restore starts the mirror anew on a master that restarted: the new
// parameter server keeps its own values (which a restarted roscore loads
// from its launch files), and gets the shared state's parameters it lacks,
// including those changed in the mesh while the master was down.
func (pm *params) restore(ctx context.Context) {
	pm.mu.Lock()
	clear(pm.seen)
	pm.mu.Unlock()
	if !stateAvailable(pm.g.p) {
		return
	}
	var names paramNamesRes
	if err := pm.xc.Do("getParamNames", callerReq{CallerID: pm.caller()}, &names); err != nil || names.Code != 1 {
		pm.g.log.Warn("list ROS parameters", "err", err, "status", names.StatusMessage)
		return
	}
	es, _, err := pm.g.p.State().List(ctx, pm.g.cfg.Prefix+"/")
	if err != nil {
		pm.g.log.Warn("restore ROS parameters from the shared state", "err", err)
		return
	}
	for _, e := range es {
		name, ok := pm.g.rosName(e.Key)
		var v any
		if !ok || !pm.g.included(name) || e.Decode(&v) != nil {
			continue
		}
		if v, ok = scalar(v); !ok {
			continue
		}
		pm.changed(name, v) // a ROS value of its own is copied to the mesh only if it differs
		if slices.Contains(names.List, name) {
			continue
		}
		var ack paramAck
		if err := pm.xc.Do("setParam", paramSetReq{CallerID: pm.caller(), Key: name, Value: v}, &ack); err != nil || ack.Code != 1 {
			pm.g.log.Warn("restore a ROS parameter", "param", name, "err", err, "status", ack.StatusMessage)
		}
	}
}

// changed records v as name's value and reports whether it is new.
func (pm *params) changed(name string, v any) bool {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if old, ok := pm.seen[name]; ok && old == v {
		return false
	}
	pm.seen[name] = v
	return true
}

func (pm *params) forget(name string) {
	pm.mu.Lock()
	delete(pm.seen, name)
	pm.mu.Unlock()
}

// toROS follows the shared state under the prefix and copies changes into
// the parameter server, until ctx ends.
func (pm *params) toROS(ctx context.Context) error {
	w, err := pm.g.p.State().Watch(ctx, pm.g.cfg.Prefix+"/")
	if err != nil {
		return err
	}
	defer w.Close()
	for c := range w.Changes() {
		name, ok := pm.g.rosName(c.Entry.Key)
		if !ok || !pm.g.included(name) {
			continue
		}
		if err := pm.apply(name, c); err != nil {
			pm.g.log.Warn("copy a parameter into ROS", "param", name, "err", err)
		}
	}
	return w.Err()
}

func (pm *params) apply(name string, c peer.Change) error {
	if c.Type == peer.ChangeDelete {
		pm.forget(name)
		var ack paramAck
		return pm.xc.Do("deleteParam", paramReq{CallerID: pm.caller(), Key: name}, &ack)
	}
	var v any
	if err := c.Entry.Decode(&v); err != nil {
		return err
	}
	v, ok := scalar(v)
	if !ok || !pm.changed(name, v) {
		return nil
	}
	var ack paramAck
	if err := pm.xc.Do("setParam", paramSetReq{CallerID: pm.caller(), Key: name, Value: v}, &ack); err != nil {
		return err
	}
	if ack.Code != 1 {
		return fmt.Errorf("rosgw: setParam %s: %s", name, ack.StatusMessage)
	}
	return nil
}

// scalar brings a decoded value to the types the parameter server holds.
func scalar(v any) (any, bool) {
	switch t := v.(type) {
	case bool, string, float64:
		return t, true
	case int64:
		return int(t), true
	case uint64:
		return int(t), true
	case int:
		return t, true
	case float32:
		return float64(t), true
	}
	return nil, false
}

// stateAvailable reports whether the mesh has state servers.
func stateAvailable(p *peer.Peer) bool {
	for _, m := range p.Members() {
		if m.Role != "" {
			return true
		}
	}
	return false
}
