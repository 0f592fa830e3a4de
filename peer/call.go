package peer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pyros-mesh/pyros/mesh"
)

// Call calls service on some provider with req and decodes the reply into
// resp (a pointer, or nil to ignore it). See the package doc for how
// providers are chosen and when a call moves to another one.
func (p *Peer) Call(ctx context.Context, service string, req, resp any) error {
	if p.isClosed() {
		return ErrClosed
	}
	payload, err := p.codec.Marshal(req)
	if err != nil {
		return fmt.Errorf("peer: encode request for %s: %w", service, err)
	}
	rep, err := p.CallRaw(ctx, service, p.codec.Name(), payload)
	if err != nil {
		return err
	}
	if resp == nil {
		return nil
	}
	c, err := p.cfg.Codecs.Lookup(rep.Codec)
	if err != nil {
		return fmt.Errorf("peer: reply of %s: %w", service, err)
	}
	if err := c.Unmarshal(rep.Payload, resp); err != nil {
		return fmt.Errorf("peer: decode reply of %s: %w", service, err)
	}
	return nil
}

// CallRaw is Call for an argument already encoded with the named codec; the
// reply comes back encoded, normally with the same codec.
func (p *Peer) CallRaw(ctx context.Context, service, codecName string, payload []byte) (rep mesh.Reply, err error) {
	defer func(began time.Time) { p.meter.observeCall(service, began, err) }(time.Now())
	return p.callRaw(ctx, service, codecName, payload)
}

func (p *Peer) callRaw(ctx context.Context, service, codecName string, payload []byte) (mesh.Reply, error) {
	tried := make(map[string]bool)
	var last error
	for {
		name, ok := p.choose(service, tried)
		if !ok {
			if len(tried) == 0 {
				return mesh.Reply{}, fmt.Errorf("%w: %q", ErrUnknownService, service)
			}
			return mesh.Reply{}, fmt.Errorf("%w: %s: %w", ErrNoProvider, service, last)
		}
		tried[name] = true
		rep, err := p.callOne(ctx, name, mesh.Request{Service: service, Codec: codecName, Payload: payload})
		if err == nil {
			return rep, nil
		}
		if ctx.Err() != nil || !retriable(err) {
			return mesh.Reply{}, err
		}
		var re *mesh.RemoteError
		if !errors.As(err, &re) {
			p.sel.markDown(name) // unreachable: skip it until discovery says otherwise
		}
		last = err
	}
}

// retriable reports whether err proves the request did not run, so another
// provider may take it.
func retriable(err error) bool {
	return errors.Is(err, mesh.ErrNotDelivered) && !errors.Is(err, mesh.ErrBadRequest)
}

func (p *Peer) callOne(ctx context.Context, name string, req mesh.Request) (mesh.Reply, error) {
	done := p.sel.begin(name)
	defer done()
	if name == p.cfg.Name {
		return p.node.CallSelf(ctx, req)
	}
	m, ok := p.cat.member(name)
	if !ok {
		return mesh.Reply{}, fmt.Errorf("%w: %s left", mesh.ErrNotDelivered, name)
	}
	return p.node.Call(ctx, mesh.Target{Name: name, Endpoints: m.Endpoints}, req)
}

// choose picks an untried provider of service.
func (p *Peer) choose(service string, tried map[string]bool) (string, bool) {
	provs := p.cat.providersOf(service)
	if len(provs) == 0 && len(tried) == 0 {
		p.cat.rebuild() // the index may lag an event by a moment
		provs = p.cat.providersOf(service)
	}
	return p.sel.pick(provs, tried)
}

// callPeer calls service on the named peer, msgpack both ways: the mesh's
// own protocols use it.
func (p *Peer) callPeer(ctx context.Context, name, service string, req, resp any) error {
	payload, err := wire.Marshal(req)
	if err != nil {
		return fmt.Errorf("peer: encode request for %s: %w", service, err)
	}
	rep, err := p.callOne(ctx, name, mesh.Request{Service: service, Codec: wire.Name(), Payload: payload})
	if err != nil {
		return err
	}
	if err := wire.Unmarshal(rep.Payload, resp); err != nil {
		return fmt.Errorf("peer: decode reply of %s: %w", service, err)
	}
	return nil
}
