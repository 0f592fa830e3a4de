package pyzmp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pyros-mesh/pyros/codec"
	"github.com/pyros-mesh/pyros/mesh"
	"github.com/pyros-mesh/pyros/peer"
)

// ErrImportSpec is returned for a malformed SERVICE=ENDPOINT import.
var ErrImportSpec = errors.New("pyzmp: import must be SERVICE=ENDPOINT or SERVICE=REMOTE@ENDPOINT")

// Import describes one pyzmp service made a mesh service.
type Import struct {
	Service  string // the mesh service name
	Remote   string // the service name on the pyzmp node
	Endpoint string // the node's REP endpoint
}

// ParseImport reads SERVICE=ENDPOINT, or SERVICE=REMOTE@ENDPOINT when the
// pyzmp node names the service differently.
func ParseImport(s string) (Import, error) {
	name, ep, ok := strings.Cut(s, "=")
	if !ok || name == "" || ep == "" {
		return Import{}, fmt.Errorf("%w: %q", ErrImportSpec, s)
	}
	im := Import{Service: name, Remote: name, Endpoint: ep}
	if remote, e, ok := strings.Cut(ep, "@"); ok && !strings.Contains(remote, "://") {
		im.Remote, im.Endpoint = remote, e
	}
	if im.Remote == "" || !strings.Contains(im.Endpoint, "://") {
		return Import{}, fmt.Errorf("%w: %q", ErrImportSpec, s)
	}
	return im, nil
}

// Importer provides pyzmp nodes' services on the mesh.
type Importer struct {
	p       *peer.Peer
	cfg     Config
	pickle  *codec.PickleCodec
	clients []*mesh.ReqClient
	names   []string
}

// NewImporter provides each import as a mesh service of p, forwarding its
// calls to the pyzmp node.
func NewImporter(p *peer.Peer, imports []Import, cfg Config) (*Importer, error) {
	cfg.setDefaults()
	im := &Importer{p: p, cfg: cfg, pickle: newCodec()}
	for _, spec := range imports {
		c, err := mesh.NewReqClient(spec.Endpoint, cfg.rep())
		if err == nil {
			err = p.Provide(spec.Service, im.forward(c, spec.Remote))
		}
		if err != nil {
			im.Close()
			return nil, fmt.Errorf("pyzmp: import %s: %w", spec.Service, err)
		}
		im.clients = append(im.clients, c)
		im.names = append(im.names, spec.Service)
	}
	return im, nil
}

// Close stops providing the imported services. It is idempotent.
func (im *Importer) Close() error {
	for _, n := range im.names {
		im.p.Unprovide(n)
	}
	for _, c := range im.clients {
		c.Close()
	}
	im.names, im.clients = nil, nil
	return nil
}

// forward makes a mesh handler that calls remote on the node c reaches.
func (im *Importer) forward(c *mesh.ReqClient, remote string) peer.Handler {
	return func(ctx context.Context, req *peer.Request) (any, error) {
		var v any
		if err := req.Decode(&v); err != nil {
			return nil, err
		}
		args, kwargs := toArgs(v)
		frame, err := encodeRequest(im.pickle, request{service: remote, args: args, kwargs: kwargs})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", mesh.ErrBadRequest, err)
		}
		ctx, cancel := context.WithTimeout(ctx, im.cfg.CallTimeout)
		defer cancel()
		reply, err := c.Request(ctx, frame)
		if errors.Is(err, mesh.ErrNotDelivered) {
			return nil, fmt.Errorf("%w: pyzmp node at %s does not answer: %w", mesh.ErrNoService, c.Endpoint(), err)
		}
		if err != nil {
			return nil, fmt.Errorf("pyzmp node at %s: %w", c.Endpoint(), err)
		}
		return im.readResponse(reply)
	}
}

// readResponse returns a ServiceResponse's result, or its exception as a
// *NodeError.
func (im *Importer) readResponse(frame []byte) (any, error) {
	f, err := readObject(im.pickle, frame, "ServiceResponse")
	if err != nil {
		return nil, err
	}
	if b, ok := f["response"].([]byte); ok {
		var v any
		if err := im.pickle.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("pyzmp: result: %w", err)
		}
		return v, nil
	}
	exc, ok := f["exception"].(codec.PickleObject)
	if !ok {
		return nil, fmt.Errorf("%w: ServiceResponse with neither response nor exception", ErrMessage)
	}
	return nil, decodeException(exc.Fields)
}
