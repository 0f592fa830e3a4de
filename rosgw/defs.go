package rosgw

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pyros-mesh/pyros/peer"
)

// ErrUnknownType means no source had the definition of a message type.
var ErrUnknownType = errors.New("rosgw: unknown message type")

// typesKey is where gateways share the definitions they learnt, in the
// mesh's shared state, so a gateway can export a type only another one has
// seen.
const typesKey = "pyros/rosgw/types/"

// definitions finds and caches message type definitions. Their sources, in
// order: this gateway's cache (types learnt from publishers' connection
// headers), the shared state, .msg files on $ROS_PACKAGE_PATH and under
// /opt/ros/*/share and /usr/share, and the Python message packages of
// /usr/bin/python3 (Debian ships no .msg files with them).
type definitions struct {
	p   *peer.Peer
	log *slog.Logger
	wg  sync.WaitGroup // definitions being shared

	mu    sync.Mutex
	specs map[string]*MsgSpec
	srvs  map[string]*SrvSpec
}

func newDefinitions(p *peer.Peer, log *slog.Logger) *definitions {
	return &definitions{p: p, log: log, specs: make(map[string]*MsgSpec), srvs: make(map[string]*SrvSpec)}
}

// learn parses and caches a definition a publisher sent, and shares it.
func (d *definitions) learn(typ, text string) (*MsgSpec, error) {
	d.mu.Lock()
	spec, ok := d.specs[typ]
	d.mu.Unlock()
	if ok {
		return spec, nil
	}
	spec, err := ParseDefinition(typ, text)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.specs[typ] = spec
	d.mu.Unlock()
	if !stateAvailable(d.p) {
		return spec, nil
	}
	d.wg.Add(1)
	go func() { // best effort: a mesh may have no state servers
		defer d.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := d.p.State().Put(ctx, typesKey+typ, text); err != nil {
			d.log.Debug("share a type definition", "type", typ, "err", err)
		}
	}()
	return spec, nil
}

// lookup returns the spec of typ from the first source that has it.
func (d *definitions) lookup(typ string) (*MsgSpec, error) {
	d.mu.Lock()
	spec, ok := d.specs[typ]
	d.mu.Unlock()
	if ok {
		return spec, nil
	}
	for _, source := range []func(string) (string, error){d.fromState, fromFiles, fromPython} {
		text, err := source(typ)
		if err != nil {
			continue
		}
		if spec, err = ParseDefinition(typ, text); err == nil {
			d.mu.Lock()
			d.specs[typ] = spec
			d.mu.Unlock()
			return spec, nil
		}
		d.log.Warn("a definition that does not parse", "type", typ, "err", err)
	}
	return nil, fmt.Errorf("%w: %s (no publisher, shared state, .msg file or Python package has it)", ErrUnknownType, typ)
}

func (d *definitions) fromState(typ string) (string, error) {
	if !stateAvailable(d.p) {
		return "", peer.ErrNoStateServer
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	e, err := d.p.State().Get(ctx, typesKey+typ, peer.Stale())
	if err != nil {
		return "", err
	}
	var text string
	err = e.Decode(&text)
	return text, err
}

// msgDirs lists where package directories with msg/ folders live.
func msgDirs() []string {
	var dirs []string
	for _, d := range filepath.SplitList(os.Getenv("ROS_PACKAGE_PATH")) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	opt, _ := filepath.Glob("/opt/ros/*/share")
	return append(append(dirs, opt...), "/usr/share")
}

// fromFiles assembles a full definition from .msg files: the type's text,
// then each dependency's, as ROS transmits them.
func fromFiles(typ string) (string, error) {
	var b strings.Builder
	seen := map[string]bool{}
	var add func(t string, main bool) error
	add = func(t string, main bool) error {
		if seen[t] {
			return nil
		}
		seen[t] = true
		text, err := readMsgFile(t)
		if err != nil {
			return err
		}
		if !main {
			fmt.Fprintf(&b, "%s\nMSG: %s\n", strings.Repeat("=", 80), t)
		}
		b.WriteString(text)
		for _, dep := range dependencies(t, text) {
			if err := add(dep, false); err != nil {
				return err
			}
		}
		return nil
	}
	if err := add(typ, true); err != nil {
		return "", err
	}
	return b.String(), nil
}

func readMsgFile(typ string) (string, error) {
	pkg, name, ok := strings.Cut(typ, "/")
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownType, typ)
	}
	for _, dir := range msgDirs() {
		if b, err := os.ReadFile(filepath.Join(dir, pkg, "msg", name+".msg")); err == nil {
			return string(b), nil
		}
	}
	return "", fmt.Errorf("%w: no %s.msg", ErrUnknownType, typ)
}

// dependencies lists the message types a .msg text uses, qualified.
func dependencies(typ, text string) []string {
	pkg, _, _ := strings.Cut(typ, "/")
	var deps []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 || strings.Contains(line, "=") {
			continue
		}
		t, _, _ := strings.Cut(f[0], "[")
		switch {
		case builtin(t):
		case t == "Header":
			deps = append(deps, "std_msgs/Header")
		case strings.Contains(t, "/"):
			deps = append(deps, t)
		default:
			deps = append(deps, pkg+"/"+t)
		}
	}
	return deps
}

func builtin(t string) bool {
	switch t {
	case "bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
		"float32", "float64", "string", "time", "duration", "byte", "char":
		return true
	}
	return false
}

// fromPython asks the ROS Python message package of the type for its full
// text (what genpy generated, identical to a publisher's definition).
func fromPython(typ string) (string, error) {
	pkg, name, ok := strings.Cut(typ, "/")
	if !ok || !pyIdent(pkg) || !pyIdent(name) {
		return "", fmt.Errorf("%w: %q", ErrUnknownType, typ)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	script := fmt.Sprintf("import %s.msg as m; print(m.%s._full_text, end='')", pkg, name)
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", "-c", script).Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrUnknownType, typ, err)
	}
	return string(out), nil
}

func pyIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
