package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

// queryPeer starts a short-lived peer for a verb. Peers that run for a
// while (pub, echo) register in the same-host registry so that others find
// them; one-shot queries only read it.
func queryPeer(verbName string, pf *peerFlags, errw io.Writer, register bool) (*peer.Peer, int) {
	cfg, err := pf.config(errw, register)
	if err != nil {
		fmt.Fprintf(errw, "pyros-peer %s: %v\n", verbName, err)
		return nil, exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := peer.New(ctx, cfg)
	if err != nil {
		fmt.Fprintf(errw, "pyros-peer %s: %v\n", verbName, err)
		return nil, exitFail
	}
	settle(p, 300*time.Millisecond, 2*time.Second)
	return p, exitOK
}

func cmdMembers(args []string, out, errw io.Writer) int {
	fs := newFlagSet("members", "[--json] [peer flags]", "List the mesh's members with their gossip address, link endpoints and services.")
	var pf peerFlags
	pf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := parse(fs, args, errw, 0, 0); !ok {
		return code
	}
	p, code := queryPeer("members", &pf, errw, false)
	if p == nil {
		return code
	}
	defer p.Close()
	var members []peer.Member
	for _, m := range p.Members() {
		if !m.Self {
			members = append(members, m)
		}
	}
	if *asJSON {
		return printJSON(out, members)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tGOSSIP\tLINKS\tSERVICES")
	for _, m := range members {
		links := strings.TrimSpace(m.Endpoints.TCP + " " + m.Endpoints.IPC)
		role := m.Role
		if role == "" {
			role = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", m.Name, role, m.Addr, links, len(m.Services))
	}
	tw.Flush()
	return exitOK
}

func cmdServices(args []string, out, errw io.Writer) int {
	fs := newFlagSet("services", "[--json] [peer flags]", "List the mesh's services and the peers that provide them.")
	var pf peerFlags
	pf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, code, ok := parse(fs, args, errw, 0, 0); !ok {
		return code
	}
	p, code := queryPeer("services", &pf, errw, false)
	if p == nil {
		return code
	}
	defer p.Close()
	services := p.Services()
	if services == nil {
		services = []peer.Service{}
	}
	if *asJSON {
		return printJSON(out, services)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tPROVIDERS")
	for _, s := range services {
		fmt.Fprintf(tw, "%s\t%s\n", s.Name, strings.Join(s.Providers, ","))
	}
	tw.Flush()
	return exitOK
}

func printJSON(out io.Writer, v any) int {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return exitFail
	}
	return exitOK
}
