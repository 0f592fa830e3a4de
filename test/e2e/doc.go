// Package e2e holds pyros's multi-process tests: they build the pyros-peer
// binary, start real peer processes on loopback, and check what a user of
// the CLI and the Go API would see, SIGKILL included. The test binary itself
// doubles as helper processes (a recording provider, a raw zmq4 echo
// server), selected by the PYROS_E2E_ROLE environment variable.
package e2e
