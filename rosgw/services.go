package rosgw

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/apimaster"
	"github.com/bluenviron/goroslib/v2/pkg/prototcp"

	"github.com/pyros-mesh/pyros/peer"
)

// probeHeader asks a ROS service provider for its type without calling it.
type probeHeader struct {
	Callerid string
	Service  string
	Md5sum   string
	Probe    int
}

// probeService asks the provider of a ROS service for the service's type.
func probeService(ctx context.Context, master *apimaster.Client, callerID, service string) (string, error) {
	uri, err := master.LookupService(service)
	if err != nil {
		return "", fmt.Errorf("rosgw: look up %s: %w", service, err)
	}
	addr, err := hostOf(uri)
	if err != nil {
		return "", err
	}
	d := net.Dialer{Timeout: probeTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("rosgw: connect to %s: %w", service, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(probeTimeout))
	tc := prototcp.NewConn(conn)
	if err := tc.WriteHeader(&probeHeader{Callerid: callerID, Service: service, Md5sum: "*", Probe: 1}); err != nil {
		return "", fmt.Errorf("rosgw: probe %s: %w", service, err)
	}
	raw, err := tc.ReadHeaderRaw()
	if err != nil {
		return "", fmt.Errorf("rosgw: probe %s: %w", service, err)
	}
	if raw["type"] == "" {
		return "", fmt.Errorf("rosgw: %s did not say its type (%v)", service, raw["error"])
	}
	return raw["type"], nil
}

// syncServices brings the bridged services in line:
//   - a ROS service provided by another node is offered in the mesh, as
//     the service of the same name under the prefix;
//   - a mesh service under the prefix with a declared type, provided by a
//     peer other than this one, is offered in ROS unless ROS has a
//     provider of it.
func (g *Gateway) syncServices(state *apimaster.SystemState) {
	rosProv := make(map[string]bool)
	for _, e := range state.ProvidedServices {
		for _, n := range e.Nodes {
			if !gatewayNode(n) && g.included(e.Name) {
				rosProv[e.Name] = true
			}
		}
	}
	g.importServices(rosProv)
	g.exportServices(rosProv)
}

func (g *Gateway) importServices(rosProv map[string]bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for name, im := range g.srvImports {
		if !rosProv[name] || !g.owns("service "+name, true) {
			im.close()
			delete(g.srvImports, name)
		}
	}
	for name := range rosProv {
		if g.srvImports[name] != nil || !g.owns("service "+name, false) {
			continue
		}
		if ex := g.srvExports[name]; ex != nil {
			ex.close()
			delete(g.srvExports, name)
		}
		var im *srvImport
		if !g.attempt("service "+name, func() (err error) { im, err = g.importService(name); return err }) {
			continue
		}
		g.srvImports[name] = im
		g.log.Info("importing a service", "service", name, "type", im.spec.Type, "as", g.meshName(name))
	}
}

// srvImport offers a ROS service in the mesh.
type srvImport struct {
	g      *Gateway
	spec   *SrvSpec
	client *goroslib.ServiceClient
	name   string // in the mesh
}

func (g *Gateway) importService(name string) (*srvImport, error) {
	ctx, cancel := context.WithTimeout(g.ctx, probeTimeout)
	defer cancel()
	typ, err := probeService(ctx, g.master, "/"+g.cfg.Node, name)
	if err != nil {
		return nil, err
	}
	spec, err := g.defs.lookupService(typ)
	if err != nil {
		return nil, err
	}
	srv, err := spec.New()
	if err != nil {
		return nil, err
	}
	im := &srvImport{g: g, spec: spec, name: g.meshName(name)}
	if im.client, err = goroslib.NewServiceClient(goroslib.ServiceClientConf{Node: g.node, Name: name, Srv: srv}); err != nil {
		return nil, fmt.Errorf("rosgw: client of %s: %w", name, err)
	}
	if err := g.p.Provide(im.name, im.serve, peer.ServiceType(typ)); err != nil {
		im.client.Close()
		return nil, err
	}
	return im, nil
}

// serve calls the ROS service with the mesh request.
func (im *srvImport) serve(ctx context.Context, r *peer.Request) (any, error) {
	var in map[string]any
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	req, err := FromMap(im.spec.Req, in)
	if err != nil {
		return nil, err
	}
	res := im.spec.Res.New()
	if err := im.client.CallContext(ctx, req, res); err != nil {
		return nil, fmt.Errorf("rosgw: ROS service: %w", err)
	}
	return ToMap(res)
}

func (im *srvImport) close() {
	im.g.p.Unprovide(im.name)
	im.client.Close()
}

func (g *Gateway) exportServices(rosProv map[string]bool) {
	want := make(map[string]peer.Service)
	for _, svc := range g.p.Services() {
		name, ok := g.rosName(svc.Name)
		if !ok || svc.Type == "" || rosProv[name] || !g.included(name) {
			continue
		}
		for _, prov := range svc.Providers {
			if prov != g.p.Name() {
				want[name] = svc
			}
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for name, ex := range g.srvExports {
		if _, ok := want[name]; !ok || !g.owns("service "+name, true) {
			ex.close()
			delete(g.srvExports, name)
		}
	}
	for name, svc := range want {
		if g.srvExports[name] != nil || !g.owns("service "+name, false) {
			continue
		}
		var ex *srvExport
		if !g.attempt("mesh service "+svc.Name, func() (err error) { ex, err = g.exportService(name, svc); return err }) {
			continue
		}
		g.srvExports[name] = ex
		g.log.Info("exporting a service", "service", svc.Name, "type", svc.Type, "as", name)
	}
}

// srvExport offers a mesh service in ROS.
type srvExport struct {
	provider *goroslib.ServiceProvider
}

func (g *Gateway) exportService(name string, svc peer.Service) (*srvExport, error) {
	spec, err := g.defs.lookupService(svc.Type)
	if err != nil {
		return nil, err
	}
	srv, err := spec.New()
	if err != nil {
		return nil, err
	}
	cb, err := serviceCallback(spec, func(req any) (any, bool) {
		return g.callMesh(svc.Name, spec, req)
	})
	if err != nil {
		return nil, err
	}
	sp, err := goroslib.NewServiceProvider(goroslib.ServiceProviderConf{Node: g.node, Name: name, Srv: srv, Callback: cb})
	if err != nil {
		return nil, fmt.Errorf("rosgw: provide %s: %w", name, err)
	}
	return &srvExport{provider: sp}, nil
}

// callTimeout bounds a ROS client's call of a mesh service.
const callTimeout = 30 * time.Second

// callMesh calls the mesh service with a ROS request; false tells the ROS
// client the call failed.
func (g *Gateway) callMesh(name string, spec *SrvSpec, req any) (any, bool) {
	in, err := ToMap(req)
	if err != nil {
		g.log.Warn("convert a ROS request", "service", name, "err", err)
		return spec.Res.New(), false
	}
	ctx, cancel := context.WithTimeout(g.ctx, callTimeout)
	defer cancel()
	var out map[string]any
	if err := g.p.Call(ctx, name, in, &out); err != nil {
		g.log.Info("a ROS call of a mesh service failed", "service", name, "err", err)
		return spec.Res.New(), false
	}
	res, err := FromMap(spec.Res, out)
	if err != nil {
		g.log.Warn("a mesh reply does not fit the ROS type", "service", name, "err", err)
		return spec.Res.New(), false
	}
	return res, true
}

// serviceCallback makes a func(*Req) (*Res, bool) for goroslib.
func serviceCallback(spec *SrvSpec, f func(req any) (any, bool)) (any, error) {
	req, err := spec.Req.GoType()
	if err != nil {
		return nil, err
	}
	res, err := spec.Res.GoType()
	if err != nil {
		return nil, err
	}
	ft := reflect.FuncOf([]reflect.Type{reflect.PointerTo(req)}, []reflect.Type{reflect.PointerTo(res), reflect.TypeOf(true)}, false)
	return reflect.MakeFunc(ft, func(args []reflect.Value) []reflect.Value {
		out, ok := f(args[0].Interface())
		return []reflect.Value{reflect.ValueOf(out), reflect.ValueOf(ok)}
	}).Interface(), nil
}

func (ex *srvExport) close() { ex.provider.Close() }
