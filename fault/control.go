package fault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// A peer run for experiments answers on a unix socket in its host's
// registry directory, so that `pyros-peer fault` and the experiment runner
// reach every local peer directly: a partition injected into the mesh
// cannot cut them off from it.

// socketSuffix names the control sockets in a registry directory.
const socketSuffix = ".fault"

// SocketPath is the control socket of the named peer in registry dir.
func SocketPath(dir, name string) string {
	return filepath.Join(dir, url.PathEscape(name)+socketSuffix)
}

// Sockets lists the control sockets of registry dir by peer name.
func Sockets(dir string) (map[string]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("fault: %w", err)
	}
	out := make(map[string]string)
	for _, e := range ents {
		base, ok := strings.CutSuffix(e.Name(), socketSuffix)
		if !ok || e.Type()&os.ModeSocket == 0 {
			continue
		}
		if name, err := url.PathUnescape(base); err == nil {
			out[name] = filepath.Join(dir, e.Name())
		}
	}
	return out, nil
}

// message is a control request: rules to set, or none to read them.
type message struct {
	Set   *Rules `json:"set,omitempty"`
	Rules *Rules `json:"rules,omitempty"`
	Error string `json:"error,omitempty"`
}

// Server answers control requests for one Injector.
type Server struct {
	ln   net.Listener
	path string
	wg   sync.WaitGroup
	once sync.Once
}

// Serve answers on the unix socket at path: clients set and read inj's
// rules with Apply and Get.
func Serve(path string, inj *Injector, log *slog.Logger) (*Server, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("fault: %s is in use by another peer", path)
	}
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("fault: %w", err)
	}
	s := &Server{ln: ln, path: path}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				serveOne(c, inj, log)
			}()
		}
	}()
	return s, nil
}

func serveOne(c net.Conn, inj *Injector, log *slog.Logger) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var req message
	if err := json.NewDecoder(io.LimitReader(c, 64<<10)).Decode(&req); err != nil {
		json.NewEncoder(c).Encode(message{Error: "fault: bad request: " + err.Error()})
		return
	}
	var reply message
	if req.Set != nil {
		if err := inj.Set(*req.Set); err != nil {
			reply.Error = err.Error()
			log.Warn("fault request refused", "err", err)
		}
	}
	r := inj.Rules()
	reply.Rules = &r
	json.NewEncoder(c).Encode(reply)
}

// Close stops answering and waits. It is idempotent.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.ln.Close()
		s.wg.Wait()
		os.Remove(s.path)
	})
	return nil
}

// ErrNoPeer is returned when no peer answers on a control socket.
var ErrNoPeer = errors.New("fault: no peer answers")

// Apply sets the rules of the peer answering on path and returns them.
func Apply(ctx context.Context, path string, r Rules) (Rules, error) {
	return exchange(ctx, path, message{Set: &r})
}

// Get returns the rules of the peer answering on path.
func Get(ctx context.Context, path string) (Rules, error) {
	return exchange(ctx, path, message{})
}

func exchange(ctx context.Context, path string, req message) (Rules, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return Rules{}, fmt.Errorf("%w on %s: %w", ErrNoPeer, path, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return Rules{}, err
	}
	var reply message
	if err := json.NewDecoder(io.LimitReader(c, 64<<10)).Decode(&reply); err != nil {
		return Rules{}, fmt.Errorf("fault: reply from %s: %w", path, err)
	}
	if reply.Error != "" {
		return Rules{}, errors.New(reply.Error)
	}
	if reply.Rules == nil {
		return Rules{}, fmt.Errorf("fault: empty reply from %s", path)
	}
	return *reply.Rules, nil
}
