package main

import (
	"flag"
	"log/slog"

	"github.com/pyros-mesh/pyros/peer"
	"github.com/pyros-mesh/pyros/pyzmp"
)

// pyzmpFlags make a peer speak pyzmp's service protocol.
type pyzmpFlags struct {
	bind    string
	imports []pyzmp.Import
}

func (f *pyzmpFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.bind, "pyzmp-bind", "", "answer pyzmp clients on this endpoint (ipc:///PATH or tcp://HOST:PORT) with the mesh's services")
	fs.Func("pyzmp-import", "make a pyzmp node's service a mesh service: SERVICE=ENDPOINT, or SERVICE=REMOTE@ENDPOINT\nwhen the node names it differently (repeatable)", func(s string) error {
		im, err := pyzmp.ParseImport(s)
		if err == nil {
			f.imports = append(f.imports, im)
		}
		return err
	})
}

// pyzmpBridge is what the flags started.
type pyzmpBridge struct {
	server   *pyzmp.Server
	importer *pyzmp.Importer
}

// start serves and imports as the flags say.
func (f *pyzmpFlags) start(p *peer.Peer, log *slog.Logger) (*pyzmpBridge, error) {
	b := &pyzmpBridge{}
	cfg := pyzmp.Config{Logger: log}
	if f.bind != "" {
		s, err := pyzmp.Serve(p, f.bind, cfg)
		if err != nil {
			return nil, err
		}
		b.server = s
	}
	if len(f.imports) > 0 {
		im, err := pyzmp.NewImporter(p, f.imports, cfg)
		if err != nil {
			b.Close()
			return nil, err
		}
		b.importer = im
	}
	return b, nil
}

// note is what the ready line says of the bridge.
func (b *pyzmpBridge) note() string {
	if b.server == nil {
		return ""
	}
	return ", pyzmp " + b.server.Endpoint()
}

func (b *pyzmpBridge) Close() {
	if b.importer != nil {
		b.importer.Close()
	}
	if b.server != nil {
		b.server.Close()
	}
}
