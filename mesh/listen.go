package mesh

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// listen opens the listener for one endpoint and returns the endpoint others
// dial (with the OS-assigned port or generated path filled in).
func listen(ep string) (net.Listener, string, error) {
	scheme, addr, err := splitEndpoint(ep)
	if err != nil {
		return nil, "", err
	}
	switch scheme {
	case "tcp":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, "", fmt.Errorf("mesh: listen %s: %w", ep, err)
		}
		return ln, "tcp://" + ln.Addr().String(), nil
	case "ipc":
		if err := os.MkdirAll(filepath.Dir(addr), 0o700); err != nil {
			return nil, "", fmt.Errorf("mesh: listen %s: %w", ep, err)
		}
		ln, err := net.Listen("unix", addr)
		if err != nil {
			return nil, "", fmt.Errorf("mesh: listen %s: %w", ep, err)
		}
		return ln, ep, nil
	default:
		ln, err := listenInproc(addr)
		return ln, ep, err
	}
}

// dial connects to one endpoint.
func dial(ctx context.Context, ep string) (net.Conn, error) {
	scheme, addr, err := splitEndpoint(ep)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	switch scheme {
	case "tcp":
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.(*net.TCPConn).SetNoDelay(true)
		}
		return c, err
	case "ipc":
		return d.DialContext(ctx, "unix", addr)
	default:
		return dialInproc(ctx, addr)
	}
}

// In-process endpoints: a registry of listeners in this process; dialing one
// makes a connected unix socket pair, so both ends have kernel buffers and
// deadlines like any other connection, without a path on disk.
var inproc = struct {
	sync.Mutex
	m map[string]*inprocListener
}{m: map[string]*inprocListener{}}

type inprocListener struct {
	name  string
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

type inprocAddr string

func (a inprocAddr) Network() string { return "inproc" }
func (a inprocAddr) String() string  { return string(a) }

func listenInproc(name string) (net.Listener, error) {
	inproc.Lock()
	defer inproc.Unlock()
	if _, ok := inproc.m[name]; ok {
		return nil, fmt.Errorf("mesh: inproc endpoint %q already in use", name)
	}
	l := &inprocListener{name: name, conns: make(chan net.Conn), done: make(chan struct{})}
	inproc.m[name] = l
	return l, nil
}

func (l *inprocListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *inprocListener) Close() error {
	l.once.Do(func() {
		inproc.Lock()
		delete(inproc.m, l.name)
		inproc.Unlock()
		close(l.done)
	})
	return nil
}

func (l *inprocListener) Addr() net.Addr { return inprocAddr(l.name) }

func dialInproc(ctx context.Context, name string) (net.Conn, error) {
	inproc.Lock()
	l := inproc.m[name]
	inproc.Unlock()
	if l == nil {
		return nil, fmt.Errorf("mesh: dial inproc://%s: %w", name, syscall.ECONNREFUSED)
	}
	a, b, err := socketPair()
	if err != nil {
		return nil, err
	}
	select {
	case l.conns <- b:
		return a, nil
	case <-l.done:
	case <-ctx.Done():
	}
	a.Close()
	b.Close()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, fmt.Errorf("mesh: dial inproc://%s: %w", name, syscall.ECONNREFUSED)
}

func socketPair() (net.Conn, net.Conn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("mesh: socketpair: %w", err)
	}
	conns := make([]net.Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "inproc")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			if i == 1 {
				conns[0].Close()
			} else {
				syscall.Close(fds[1])
			}
			return nil, nil, fmt.Errorf("mesh: socketpair: %w", err)
		}
		conns[i] = c
	}
	return conns[0], conns[1], nil
}
