package rosgw

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

// params mirrors the ROS parameter server and the mesh's shared state
// under the prefix, both ways: /robot/speed is the key ros/robot/speed.
// A change on either side is copied to the other; the gateway remembers
// the last value it saw of each parameter, so its own copies are not
// copied back.
//
// ROS keeps its parameters as a tree whose dictionaries are parameters of
// their own; the mesh holds its leaves, the names rosparam list (the
// master's getParamNames) shows. /pid set to {kp: 1.5, gains: [1, 2, 3]}
// is two keys: ros/pid/kp, 1.5, and ros/pid/gains, [1, 2, 3]. A value that
// is no dictionary is one key, whatever it holds: bool, int, double,
// string, bytes (base64), and lists of any of these, dictionaries too.
//
// A map written in the mesh at ros/cfg sets the ROS dictionary /cfg
// (setParam of a struct, as rosparam set /cfg "{a: 1}" does), then gives
// way to its leaves: the gateway deletes the key ros/cfg, and its next
// poll copies /cfg/a to ros/cfg/a. As ROS keeps no parameter above or
// below another, a value copied at a name replaces the keys the gateway
// saw above and below it: ros/cfg/a replaces ros/cfg, and a scalar at
// ros/cfg replaces ros/cfg/a; the gateway deletes such a key only if it
// still holds what the gateway saw there. A key deleted in the mesh
// deletes its ROS parameter unless that is a dictionary (as after the
// gateway's own deletion of a map key): to delete a dictionary, delete its
// leaves. So each parameter has one key, and a value written on either
// side is copied once to the other. A parameter deleted in ROS is deleted
// in the mesh, unless its key was written since.
//
// Values go to ROS as the parameter server gives them back, so that what
// comes back is what was sent: integers of 32 bits at most (larger ones
// become doubles: rospy cannot send them back), times as RFC 3339
// strings; null, and dictionary keys that are empty or hold a '/', cannot
// be sent.
type params struct {
	g  *Gateway
	ps paramServer

	// mu serializes a poll of ROS, the copy of a mesh change and a
	// restore, so that a poll never reads ROS between the copy of a mesh
	// change and its record in seen.
	mu   sync.Mutex
	seen map[string]seenValue // by ROS name: the last value on either side
}

// seenValue is the last value of a parameter on either side.
type seenValue struct {
	fp  string // fingerprint of the value
	rev int64  // the revision of its key in the mesh, 0 if unknown
}

// paramTimeout bounds one poll of the parameters and one copy of a mesh
// change, so that a mesh without quorum does not stall the gateway.
const paramTimeout = 10 * time.Second

func newParams(g *Gateway, host string) *params {
	c := newXMLRPCClient(host, &http.Client{Timeout: probeTimeout})
	return &params{g: g, ps: paramServer{c: c, caller: "/" + g.cfg.Node}, seen: make(map[string]seenValue)}
}

// fromROS copies parameters that changed in ROS into the shared state.
func (pm *params) fromROS(ctx context.Context) {
	if !stateAvailable(pm.g.p) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, paramTimeout)
	defer cancel()
	pm.mu.Lock()
	defer pm.mu.Unlock()
	vals, whole, err := pm.read(ctx)
	if err != nil {
		pm.g.log.Warn("read the ROS parameters", "err", err)
		return
	}
	if whole {
		pm.dropDeleted(ctx, vals)
	}
	for _, name := range slices.Sorted(maps.Keys(vals)) {
		if !pm.g.included(name) || !pm.changed(name, vals[name], 0) {
			continue
		}
		rev, err := pm.g.p.State().Put(ctx, pm.g.meshName(name), vals[name])
		if err != nil {
			delete(pm.seen, name)
			if errors.Is(err, peer.ErrNoStateServer) || ctx.Err() != nil {
				return
			}
			pm.g.log.Warn("copy a ROS parameter", "param", name, "err", err)
			continue
		}
		pm.seen[name] = seenValue{pm.seen[name].fp, rev}
		pm.prune(ctx, name, map[string]any{name: nil})
	}
}

// read returns the ROS parameters by name, leaves only, and whether it
// read them all. It reads the whole tree at once (getParam of /, as
// rosparam get / does) and, if that fails, one parameter at a time: a
// value the master cannot send (rosmaster fails on an integer over 32
// bits, which a client other than rospy can set) fails the whole tree but
// only itself one at a time, and a tree over maxXMLRPCResponse bytes may
// hold no parameter that large.
func (pm *params) read(ctx context.Context) (map[string]any, bool, error) {
	out := make(map[string]any)
	tree, err := pm.ps.get(ctx, "/")
	if root, ok := tree.(map[string]any); err == nil && ok {
		leaves("", root, out)
		return out, true, nil
	}
	var fe *faultError
	var me *masterError
	if err != nil && !errors.As(err, &fe) && !errors.As(err, &me) && !errors.Is(err, ErrXMLRPC) {
		return nil, false, err // the master does not answer: no use asking again
	}
	pm.g.log.Debug("the ROS parameter tree is unreadable; reading parameters one by one", "err", err)
	names, err := pm.ps.names(ctx)
	if err != nil {
		return nil, false, err
	}
	whole := true
	for _, name := range names {
		if v, err := pm.ps.get(ctx, name); err == nil {
			leaves(name, v, out)
		} else {
			whole = false
			pm.g.log.Debug("read a ROS parameter", "param", name, "err", err)
		}
	}
	return out, whole, nil
}

// dropDeleted deletes the mesh keys of the parameters deleted in ROS: those
// seen before that ROS no longer holds, at, above or below their name. A
// key written in the mesh since is kept (and goes back into ROS).
func (pm *params) dropDeleted(ctx context.Context, vals map[string]any) {
	for _, n := range slices.Sorted(maps.Keys(pm.seen)) {
		if !pm.g.included(n) || holds(vals, n) {
			continue
		}
		rev := pm.seen[n].rev
		delete(pm.seen, n)
		pm.deleteKey(ctx, pm.g.meshName(n), rev)
	}
}

// leaves adds the leaves of the value v at name to out: v itself, or each
// member of a dictionary, recursively.
func leaves(name string, v any, out map[string]any) {
	m, ok := v.(map[string]any)
	if !ok {
		out[name] = v
		return
	}
	for k, e := range m {
		leaves(name+"/"+k, e, out)
	}
}

// changed records v as name's value, and rev as its key's revision unless
// 0, and reports whether the value is new. Values are compared by their
// XML-RPC encoding: maps and lists are not comparable with ==, and NaN is
// not equal to itself.
func (pm *params) changed(name string, v any, rev int64) bool {
	fp := fingerprint(v)
	old, ok := pm.seen[name]
	if ok && old.fp == fp {
		if rev != 0 {
			pm.seen[name] = seenValue{fp, rev}
		}
		return false
	}
	pm.seen[name] = seenValue{fp, rev}
	return true
}

func fingerprint(v any) string {
	b, err := encodeXMLRPCValue(v)
	if err != nil {
		return fmt.Sprintf("%T %#v", v, v)
	}
	return string(b)
}

// restore starts the mirror anew on a master that restarted: the new
// parameter server keeps its own values (which a restarted roscore loads
// from its launch files), and gets the shared state's parameters it lacks,
// including those changed in the mesh while the master was down.
func (pm *params) restore(ctx context.Context) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	clear(pm.seen)
	if !stateAvailable(pm.g.p) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, paramTimeout)
	defer cancel()
	own, _, err := pm.read(ctx)
	if err != nil {
		pm.g.log.Warn("read the ROS parameters", "err", err)
		return
	}
	es, _, err := pm.g.p.State().List(ctx, pm.g.cfg.Prefix+"/")
	if err != nil {
		pm.g.log.Warn("restore ROS parameters from the shared state", "err", err)
		return
	}
	for _, e := range es {
		name, ok := pm.g.rosName(e.Key)
		var raw any
		if !ok || !pm.g.included(name) || e.Decode(&raw) != nil {
			continue
		}
		v, err := paramValue(raw)
		if err != nil {
			continue
		}
		pm.changed(name, v, e.Rev) // a ROS value of its own is copied to the mesh only if it differs
		if holds(own, name) {
			continue
		}
		if err := pm.ps.set(ctx, name, v); err != nil {
			delete(pm.seen, name) // not in ROS: no deletion there to copy
			pm.g.log.Warn("restore a ROS parameter", "param", name, "err", err)
		}
	}
}

// holds reports whether the parameters vals (leaves) have a value at name,
// above it or below it.
func holds(vals map[string]any, name string) bool {
	for n := name; n != "/" && n != "."; n = path.Dir(n) {
		if _, ok := vals[n]; ok {
			return true
		}
	}
	for n := range vals {
		if strings.HasPrefix(n, name+"/") {
			return true
		}
	}
	return false
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
		if err := pm.apply(ctx, name, c); err != nil {
			pm.g.log.Warn("copy a parameter into ROS", "param", name, "err", err)
		}
	}
	return w.Err()
}

// apply copies one change of the shared state into ROS.
func (pm *params) apply(ctx context.Context, name string, c peer.Change) error {
	ctx, cancel := context.WithTimeout(ctx, paramTimeout)
	defer cancel()
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if c.Type == peer.ChangeDelete {
		delete(pm.seen, name)
		return pm.remove(ctx, name)
	}
	var raw any
	if err := c.Entry.Decode(&raw); err != nil {
		return err
	}
	v, err := paramValue(raw)
	if err != nil {
		return err
	}
	if !pm.changed(name, v, c.Entry.Rev) {
		return nil
	}
	if err := pm.ps.set(ctx, name, v); err != nil {
		delete(pm.seen, name)
		return err
	}
	keep := make(map[string]any)
	leaves(name, v, keep)
	pm.prune(ctx, name, keep)
	if _, ok := v.(map[string]any); ok {
		// The map key gives way to the dictionary's leaves, which the
		// next poll copies.
		pm.deleteKey(ctx, c.Entry.Key, c.Entry.Rev)
	}
	return nil
}

// remove deletes the ROS parameter name, unless ROS does not have it or
// it is a dictionary.
func (pm *params) remove(ctx context.Context, name string) error {
	v, err := pm.ps.get(ctx, name)
	var me *masterError
	if errors.As(err, &me) {
		return nil // not set
	}
	if err != nil {
		return err
	}
	if _, ok := v.(map[string]any); ok {
		return nil
	}
	if err := pm.ps.del(ctx, name); err != nil && !errors.As(err, &me) {
		return err
	}
	return nil
}

// prune deletes the mesh keys of the parameters that a value just copied
// at name replaced, as ROS keeps no parameter above or below another: the
// keys of the names seen above name, and below it but for keep (the
// value's leaves).
func (pm *params) prune(ctx context.Context, name string, keep map[string]any) {
	var gone []string
	for n := range pm.seen {
		_, kept := keep[n]
		if n != name && !kept && (strings.HasPrefix(name, n+"/") || strings.HasPrefix(n, name+"/")) {
			gone = append(gone, n)
		}
	}
	slices.Sort(gone)
	for _, n := range gone {
		rev := pm.seen[n].rev
		delete(pm.seen, n)
		pm.deleteKey(ctx, pm.g.meshName(n), rev)
	}
}

// deleteKey deletes the mesh key if it is still at revision rev: a key
// written since is left for its own change to handle.
func (pm *params) deleteKey(ctx context.Context, key string, rev int64) {
	if rev <= 0 {
		return
	}
	err := pm.g.p.State().CompareAndDelete(ctx, key, rev)
	if err != nil && !errors.Is(err, peer.ErrConflict) {
		pm.g.log.Warn("delete a parameter's key", "key", key, "err", err)
	}
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
