package mesh

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
)

// Endpoints are the addresses a node listens on, plus what a dialer needs to
// pick the cheapest one it can reach: inproc when both nodes live in one
// process, ipc when they share a host (and network namespace), tcp otherwise.
type Endpoints struct {
	Host   string `msgpack:"h" json:"host"`             // host identity (machine id + network namespace)
	Proc   string `msgpack:"p" json:"proc"`             // process identity
	TCP    string `msgpack:"t" json:"tcp,omitempty"`    // tcp://ip:port
	IPC    string `msgpack:"i" json:"ipc,omitempty"`    // ipc:///path
	Inproc string `msgpack:"n" json:"inproc,omitempty"` // inproc://name
}

// choose lists the endpoints of e that a node with ours can use, best first.
func (e Endpoints) choose(ours Endpoints) []string {
	var eps []string
	if e.Inproc != "" && e.Proc == ours.Proc {
		eps = append(eps, e.Inproc)
	}
	if e.IPC != "" && e.Host == ours.Host {
		eps = append(eps, e.IPC)
	}
	if e.TCP != "" {
		eps = append(eps, e.TCP)
	}
	return eps
}

// splitEndpoint splits "scheme://address".
func splitEndpoint(ep string) (scheme, addr string, err error) {
	scheme, addr, ok := strings.Cut(ep, "://")
	if !ok || addr == "" {
		return "", "", fmt.Errorf("%w: malformed endpoint %q", ErrNoEndpoint, ep)
	}
	switch scheme {
	case "tcp", "ipc", "inproc":
		return scheme, addr, nil
	}
	return "", "", fmt.Errorf("%w: unknown scheme in %q", ErrNoEndpoint, ep)
}

var (
	procOnce sync.Once
	procID   string
	hostID   string
)

// identities returns this process's and this host's identity strings.
func identities() (proc, host string) {
	procOnce.Do(func() {
		procID = randomHex(8)
		hostID = readHostID()
	})
	return procID, hostID
}

// readHostID names the machine and its network namespace: two processes with
// the same id can reach each other's unix sockets and share loopback.
func readHostID() string {
	id := ""
	for _, f := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if b, err := os.ReadFile(f); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			id = strings.TrimSpace(string(b))
			break
		}
	}
	if id == "" {
		id, _ = os.Hostname()
	}
	if ns, err := os.Readlink("/proc/self/ns/net"); err == nil {
		id += "/" + ns
	}
	return id
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}
