package rosgw

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/apimaster"

	"github.com/pyros-mesh/pyros/peer"
)

// sync brings the bridges in line with the ROS graph, as read by graph,
// and the mesh:
//   - a ROS topic with a publisher other than this gateway is imported:
//     its messages are published on the mesh stream of the same name;
//   - a mesh stream under the prefix with a declared type and a publisher
//     other than this peer is exported into ROS, unless the ROS topic has
//     a publisher of its own (then it is imported, which keeps the bridge
//     free of loops).
func (g *Gateway) sync(state *apimaster.SystemState) {
	g.haveState = stateAvailable(g.p) // once per round: it reads the whole catalog
	rosPubs := g.foreignPublishers(state)
	g.syncImports(rosPubs)
	g.syncExports(rosPubs)
	g.syncServices(state)
	g.publishBridges()
}

// foreignPublishers maps each included ROS topic to its publisher nodes,
// this gateway's node left out.
func (g *Gateway) foreignPublishers(state *apimaster.SystemState) map[string][]string {
	out := make(map[string][]string)
	for _, e := range state.PublishedTopics {
		if !g.included(e.Name) {
			continue
		}
		for _, n := range e.Nodes {
			if !gatewayNode(n) {
				out[e.Name] = append(out[e.Name], n)
			}
		}
	}
	return out
}

func (g *Gateway) syncImports(rosPubs map[string][]string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for topic, im := range g.imports {
		if len(rosPubs[topic]) == 0 || !g.owns("topic "+topic, true) {
			im.close()
			delete(g.imports, topic)
			g.log.Info("stopped importing", "topic", topic)
		}
	}
	for topic, nodes := range rosPubs {
		if g.imports[topic] != nil || !g.owns("topic "+topic, false) {
			continue
		}
		if ex := g.exports[topic]; ex != nil {
			ex.close() // a ROS publisher appeared: import instead
			delete(g.exports, topic)
		}
		var im *importer
		if !g.attempt("topic "+topic, func() (err error) { im, err = g.startImport(topic, nodes); return err }) {
			continue
		}
		g.imports[topic] = im
		g.log.Info("importing", "topic", topic, "type", im.spec.Type, "stream", g.meshName(topic))
	}
}

func (g *Gateway) syncExports(rosPubs map[string][]string) {
	want := make(map[string]peer.StreamInfo)
	for _, si := range g.p.Streams() {
		topic, ok := g.rosName(si.Name)
		if !ok || si.Type == "" || !g.included(topic) || len(rosPubs[topic]) > 0 {
			continue
		}
		if slices.ContainsFunc(si.Publishers, func(n string) bool { return n != g.p.Name() }) {
			want[topic] = si
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for topic, ex := range g.exports {
		if _, ok := want[topic]; !ok || !g.owns("topic "+topic, true) {
			ex.close()
			delete(g.exports, topic)
			g.log.Info("stopped exporting", "topic", topic)
		}
	}
	for topic, si := range want {
		if g.exports[topic] != nil || !g.owns("topic "+topic, false) {
			continue
		}
		var ex *exporter
		if !g.attempt("stream "+si.Name, func() (err error) { ex, err = g.startExport(topic, si); return err }) {
			continue
		}
		g.exports[topic] = ex
		g.log.Info("exporting", "stream", si.Name, "topic", topic, "type", si.Type)
	}
}

// importer carries a ROS topic into a mesh stream.
type importer struct {
	spec *MsgSpec
	sub  *goroslib.Subscriber
	pub  *peer.Publisher
}

func (g *Gateway) startImport(topic string, nodes []string) (*importer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	info, err := probeTopic(ctx, g.master, "/"+g.cfg.Node, nodes[0], topic)
	if err != nil {
		return nil, err
	}
	spec, err := g.defs.learn(info.Type, info.Definition)
	if err != nil {
		return nil, err
	}
	if md5, err := spec.MD5(); err != nil || md5 != info.MD5 {
		return nil, fmt.Errorf("rosgw: %s: checksum %s of the parsed definition, the publisher says %s (%v)", info.Type, md5, info.MD5, err)
	}
	im := &importer{spec: spec}
	if im.pub, err = g.p.Publish(g.meshName(topic), peer.Typed(spec.Type)); err != nil {
		return nil, err
	}
	cb, err := callback(spec, func(msg any) {
		m, err := ToMap(msg)
		if err != nil {
			g.log.Warn("convert a ROS message", "topic", topic, "err", err)
			return
		}
		im.pub.Send(m)
	})
	if err != nil {
		im.pub.Close()
		return nil, err
	}
	im.sub, err = goroslib.NewSubscriber(goroslib.SubscriberConf{Node: g.node, Topic: topic, Callback: cb, QueueSize: 1024})
	if err != nil {
		im.pub.Close()
		return nil, fmt.Errorf("rosgw: subscribe to %s: %w", topic, err)
	}
	return im, nil
}

func (im *importer) close() {
	im.sub.Close()
	im.pub.Close()
}

// callback makes a func(*T) for the dynamic type of spec, as goroslib
// wants its callbacks.
func callback(spec *MsgSpec, f func(msg any)) (any, error) {
	t, err := spec.GoType()
	if err != nil {
		return nil, err
	}
	ft := reflect.FuncOf([]reflect.Type{reflect.PointerTo(t)}, nil, false)
	return reflect.MakeFunc(ft, func(args []reflect.Value) []reflect.Value {
		f(args[0].Interface())
		return nil
	}).Interface(), nil
}

// exporter carries a mesh stream into a ROS topic.
type exporter struct {
	pub *goroslib.Publisher
	sub *peer.Subscription
}

func (g *Gateway) startExport(topic string, si peer.StreamInfo) (*exporter, error) {
	spec, err := g.defs.lookup(si.Type)
	if err != nil {
		return nil, err
	}
	ex := &exporter{}
	ex.pub, err = goroslib.NewPublisher(goroslib.PublisherConf{Node: g.node, Topic: topic, Msg: spec.New()})
	if err != nil {
		return nil, fmt.Errorf("rosgw: advertise %s: %w", topic, err)
	}
	self := g.p.Name()
	ex.sub, err = g.p.Subscribe(context.Background(), si.Name, func(m peer.Message) {
		if m.From() == self {
			return // what this gateway imported never goes back
		}
		var v map[string]any
		if err := m.Decode(&v); err != nil {
			g.log.Warn("decode a mesh message", "stream", si.Name, "err", err)
			return
		}
		msg, err := FromMap(spec, v)
		if err != nil {
			g.log.Warn("a mesh message does not fit the ROS type", "stream", si.Name, "type", spec.Type, "err", err)
			return
		}
		ex.pub.Write(msg)
	})
	if err != nil {
		ex.pub.Close()
		return nil, err
	}
	return ex, nil
}

func (ex *exporter) close() {
	ex.sub.Close()
	ex.pub.Close()
}
