package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// ErrNoLauncher is returned by Control when no launcher answers in dir.
var ErrNoLauncher = errors.New("launcher: no `pyros-peer up` running here")

// Request is a command to a running launcher.
type Request struct {
	Op     string     `json:"op"` // status, kill, pause, resume, restart, partition, heal, stop
	Peer   string     `json:"peer,omitempty"`
	Groups [][]string `json:"groups,omitempty"` // partition
}

// Reply is a launcher's answer.
type Reply struct {
	Error string     `json:"error,omitempty"`
	Peers []PeerInfo `json:"peers,omitempty"`
}

// SocketPath is the control socket of the launcher whose run directory is dir.
func SocketPath(dir string) string { return filepath.Join(dir, "up.sock") }

// maxRequest bounds a control request.
const maxRequest = 4 << 10

// ServeControl answers Requests on the unix socket of the mesh's run
// directory until the mesh closes; "stop" closes the mesh.
func (m *Mesh) ServeControl() error {
	path := SocketPath(m.cfg.Dir)
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("launcher: another launcher answers on %s", path)
	}
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("launcher: %w", err)
	}
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		<-m.done
		ln.Close()
		os.Remove(path)
	}()
	go func() {
		defer m.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			m.wg.Add(1)
			go func() {
				defer m.wg.Done()
				m.answer(c)
			}()
		}
	}()
	return nil
}

// answer serves one control connection.
func (m *Mesh) answer(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute)) // a restart waits for the peer to be ready
	var req Request
	if err := json.NewDecoder(io.LimitReader(c, maxRequest)).Decode(&req); err != nil {
		json.NewEncoder(c).Encode(Reply{Error: "launcher: bad request: " + err.Error()})
		return
	}
	var err error
	switch req.Op {
	case "status":
	case "kill":
		err = m.Kill(req.Peer)
	case "pause":
		err = m.Pause(req.Peer)
	case "resume":
		err = m.Resume(req.Peer)
	case "restart":
		err = m.Restart(req.Peer)
	case "partition":
		if len(req.Groups) < 2 {
			err = errors.New("launcher: partition needs two groups or more")
		} else {
			err = m.Partition(req.Groups)
		}
	case "heal":
		err = m.Partition(nil)
	case "stop":
		json.NewEncoder(c).Encode(Reply{})
		go m.Close() // Close waits for this goroutine: do not wait for it here
		return
	default:
		err = fmt.Errorf("launcher: unknown op %q", req.Op)
	}
	r := Reply{Peers: m.Peers()}
	if err != nil {
		r.Error = err.Error()
	}
	json.NewEncoder(c).Encode(r)
}

// Control sends one request to the launcher of run directory dir.
func Control(ctx context.Context, dir string, req Request) (Reply, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", SocketPath(dir))
	if err != nil {
		return Reply{}, fmt.Errorf("%w (%s): %w", ErrNoLauncher, dir, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return Reply{}, err
	}
	var r Reply
	if err := json.NewDecoder(io.LimitReader(c, 1<<20)).Decode(&r); err != nil {
		return Reply{}, fmt.Errorf("launcher: reply: %w", err)
	}
	if r.Error != "" {
		return r, errors.New(r.Error)
	}
	return r, nil
}
