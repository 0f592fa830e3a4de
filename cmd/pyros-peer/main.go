// Command pyros-peer runs a pyros peer and queries or drives a mesh from the
// shell. Every verb is itself a short-lived peer that joins the mesh.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(runCLI(os.Args[1:], os.Stdout, os.Stderr))
}

// exit codes
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and failed (unknown service, timeout, remote error)
	exitUsage = 2 // bad command line
)

type verb struct {
	name, args, summary string
	run                 func(args []string, out, errw io.Writer) int
}

func verbs() []verb {
	return []verb{
		{"run", "[--demo] [peer flags]", "run a long-lived peer until interrupted", cmdRun},
		{"members", "[--json] [peer flags]", "list the mesh's members, their addresses and endpoints", cmdMembers},
		{"services", "[--json] [peer flags]", "list the mesh's services and their providers", cmdServices},
		{"call", "SERVICE [JSON] [--timeout 5s] [peer flags]", "call a service and print its result as JSON", cmdCall},
		{"state", stateUsage, "read, change and watch the shared state", cmdState},
		{"streams", "[--json] [peer flags]", "list the mesh's streams, their publishers and subscribers", cmdStreams},
		{"pub", "STREAM JSON [--rate HZ] [--count N]", "publish a JSON value on a stream", cmdPub},
		{"echo", "STREAM [--count N] [--timeout D] [--json]", "print a stream's values, one JSON value per line", cmdEcho},
		{"ui", "[--http ADDR] [peer flags]", "serve a live map of the mesh to a browser until interrupted", cmdUI},
		{"demo", "", "start a small local mesh and narrate discovery, calls and failover", cmdDemo},
		{"bench", "stream [flags]", "measure streams between two processes against raw zmq4", cmdBench},
		{"keygen", "", "print a new mesh key, for --key", cmdKeygen},
		{"up", "[-n N | FILE]", "start and supervise a local mesh of peer processes", cmdUp},
		{"down", "", "stop the mesh that up runs", cmdDown},
		{"fault", "kill|pause|resume|restart|partition|delay|drop|heal ...", "inject a fault into a running local mesh, or heal it", cmdFault},
		{"top", "[--interval 1s]", "show members, services and streams with their rates, live", cmdTop},
		{"experiment", "FILE", "run a fault-tolerance experiment and report what survived", cmdExperiment},
	}
}

func runCLI(args []string, out, errw io.Writer) int {
	if len(args) == 0 {
		usage(errw)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 {
			return runCLI([]string{args[1], "--help"}, out, errw)
		}
		usage(out)
		return exitOK
	case "-v", "--version", "version":
		fmt.Fprintln(out, "pyros-peer", version())
		return exitOK
	}
	if args[0] == "bench-pub" { // the publishing process of bench stream
		return cmdBenchPub(args[1:], out, errw)
	}
	for _, v := range verbs() {
		if v.name == args[0] {
			return v.run(args[1:], out, errw)
		}
	}
	fmt.Fprintf(errw, "pyros-peer: unknown command %q (see pyros-peer --help)\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `pyros-peer - a peer of a pyros mesh

Usage: pyros-peer COMMAND [ARGS] [FLAGS]

Commands:
`)
	for _, v := range verbs() {
		fmt.Fprintf(w, "  %-9s %s\n", v.name, v.summary)
	}
	fmt.Fprint(w, `
Peers on one host find each other through a per-user registry directory;
"run" peers find those of other hosts on the LAN by multicast, and any peer
can be joined with --join HOST:PORT (or PYROS_JOIN). --key FILE (from
"pyros-peer keygen") encrypts the mesh and keeps outsiders out.
Run "pyros-peer COMMAND --help" for a command's flags; --version prints the version.
`)
}
