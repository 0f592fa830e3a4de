package peer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/mesh"
)

// Handler serves one service. It returns the reply value (encoded with the
// caller's codec) or an error, which the caller receives as a *RemoteError
// carrying its message. Handlers run concurrently and must return when ctx
// is done: it carries the caller's deadline and cancellation.
type Handler func(ctx context.Context, req *Request) (any, error)

// Request is an incoming call.
type Request struct {
	Service string // the name called
	From    string // the calling peer
	codec   codec.Codec
	payload []byte
}

// Decode decodes the request's argument into v.
func (r *Request) Decode(v any) error {
	if err := r.codec.Unmarshal(r.payload, v); err != nil {
		return fmt.Errorf("%w: %w", mesh.ErrBadRequest, err)
	}
	return nil
}

// Codec names the codec the caller used.
func (r *Request) Codec() string { return r.codec.Name() }

// Payload returns the encoded argument.
func (r *Request) Payload() []byte { return r.payload }

// Func adapts a typed function into a Handler: the argument is decoded into
// In (a request that does not decode is refused as a bad request) and the
// result encoded from Out.
func Func[In, Out any](f func(ctx context.Context, in In) (Out, error)) Handler {
	return func(ctx context.Context, r *Request) (any, error) {
		var in In
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
		return f(ctx, in)
	}
}

// ProvideOption configures a provided service.
type ProvideOption func(*provideOptions)

type provideOptions struct{ msgType string }

// ServiceType declares the service's type, e.g. a ROS service type such as
// "std_srvs/SetBool": it travels in the catalog, so that a ROS gateway can
// offer the service to ROS.
func ServiceType(t string) ProvideOption { return func(o *provideOptions) { o.msgType = t } }

// Provide makes this peer a provider of name. The catalog change reaches the
// mesh within the gossip time.
func (p *Peer) Provide(name string, h Handler, opts ...ProvideOption) error {
	var o provideOptions
	for _, f := range opts {
		f(&o)
	}
	if err := validName(name); err != nil {
		return err
	}
	if h == nil {
		return fmt.Errorf("%w: nil handler for %q", ErrInvalidName, name)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if _, dup := p.handlers[name]; dup {
		p.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrAlreadyProvided, name)
	}
	p.handlers[name] = h
	if o.msgType != "" {
		p.svcTypes[name] = o.msgType
	}
	p.mu.Unlock()
	p.publishCatalog()
	return nil
}

// Unprovide stops providing name; calls already running finish.
func (p *Peer) Unprovide(name string) {
	p.mu.Lock()
	_, ok := p.handlers[name]
	delete(p.handlers, name)
	delete(p.svcTypes, name)
	closed := p.closed
	p.mu.Unlock()
	if ok && !closed {
		p.publishCatalog()
	}
}

// validName accepts 1-255 bytes of printable, non-space characters.
func validName(name string) error {
	if name == "" || len(name) > 255 {
		return fmt.Errorf("%w: %q must be 1-255 bytes", ErrInvalidName, name)
	}
	if i := strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }); i >= 0 {
		return fmt.Errorf("%w: %q contains a space or control character", ErrInvalidName, name)
	}
	return nil
}

// serve is the mesh handler: it finds the service's handler and speaks the
// caller's codec.
func (p *Peer) serve(ctx context.Context, mreq mesh.Request) (rep mesh.Reply, err error) {
	defer func(began time.Time) {
		if err == nil || !errors.Is(err, mesh.ErrNoService) {
			p.served.add(mreq.Service, time.Since(began), err != nil)
		}
		p.meter.observeServe(mreq.Service, began, err)
	}(time.Now())
	return p.serveLocal(ctx, mreq)
}

func (p *Peer) serveLocal(ctx context.Context, mreq mesh.Request) (mesh.Reply, error) {
	p.mu.RLock()
	h := p.handlers[mreq.Service]
	p.mu.RUnlock()
	if h == nil {
		return mesh.Reply{}, fmt.Errorf("%w: %q is not provided by %s", mesh.ErrNoService, mreq.Service, p.cfg.Name)
	}
	c, err := p.cfg.Codecs.Lookup(mreq.Codec)
	if err != nil {
		return mesh.Reply{}, fmt.Errorf("%w: %w", mesh.ErrBadRequest, err)
	}
	out, err := h(ctx, &Request{Service: mreq.Service, From: mreq.From, codec: c, payload: mreq.Payload})
	if err != nil {
		return mesh.Reply{}, err
	}
	b, err := c.Marshal(out)
	if err != nil {
		return mesh.Reply{}, fmt.Errorf("peer: encode reply of %s: %w", mreq.Service, err)
	}
	return mesh.Reply{Codec: c.Name(), Payload: b}, nil
}
