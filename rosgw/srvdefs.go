package rosgw

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// lookupService returns the spec of a service type, from this gateway's
// cache, .srv files, or the ROS Python service package.
func (d *definitions) lookupService(typ string) (*SrvSpec, error) {
	d.mu.Lock()
	spec, ok := d.srvs[typ]
	d.mu.Unlock()
	if ok {
		return spec, nil
	}
	for _, source := range []func(string) (string, string, error){srvFromFiles, srvFromPython} {
		req, res, err := source(typ)
		if err != nil {
			continue
		}
		if spec, err = ParseService(typ, req, res); err != nil {
			d.log.Warn("a service definition that does not parse", "type", typ, "err", err)
			continue
		}
		d.mu.Lock()
		d.srvs[typ] = spec
		d.mu.Unlock()
		return spec, nil
	}
	return nil, fmt.Errorf("%w: service %s (no .srv file or Python package has it)", ErrUnknownType, typ)
}

// srvFromFiles reads pkg/srv/Name.srv and completes each half with the
// definitions of the message types it uses.
func srvFromFiles(typ string) (string, string, error) {
	pkg, name, ok := strings.Cut(typ, "/")
	if !ok {
		return "", "", fmt.Errorf("%w: %q", ErrUnknownType, typ)
	}
	for _, dir := range msgDirs() {
		b, err := os.ReadFile(filepath.Join(dir, pkg, "srv", name+".srv"))
		if err != nil {
			continue
		}
		req, res, ok := splitSrv(string(b))
		if !ok {
			return "", "", fmt.Errorf("%w: %s.srv has no --- line", ErrBadDefinition, typ)
		}
		if req, err = withDependencies(typ+"Request", req); err != nil {
			return "", "", err
		}
		if res, err = withDependencies(typ+"Response", res); err != nil {
			return "", "", err
		}
		return req, res, nil
	}
	return "", "", fmt.Errorf("%w: no %s.srv", ErrUnknownType, typ)
}

// splitSrv splits a .srv text at its "---" line.
func splitSrv(text string) (string, string, bool) {
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == "---" {
			return strings.Join(lines[:i], ""), strings.Join(lines[i+1:], ""), true
		}
	}
	return "", "", false
}

// withDependencies appends to a message text the definitions of the types
// it uses, read from .msg files.
func withDependencies(typ, text string) (string, error) {
	var b strings.Builder
	b.WriteString(text)
	for _, dep := range dependencies(typ, text) {
		full, err := fromFiles(dep)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s\nMSG: %s\n%s", strings.Repeat("=", 80), dep, full)
	}
	return b.String(), nil
}

// srvFromPython asks the ROS Python service package for both halves.
func srvFromPython(typ string) (string, string, error) {
	pkg, name, ok := strings.Cut(typ, "/")
	if !ok || !pyIdent(pkg) || !pyIdent(name) {
		return "", "", fmt.Errorf("%w: %q", ErrUnknownType, typ)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	script := fmt.Sprintf("import %s.srv as m; s = m.%s; print(s._request_class._full_text + '\\0' + s._response_class._full_text, end='')", pkg, name)
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", "-c", script).Output()
	if err != nil {
		return "", "", fmt.Errorf("%w: %s: %v", ErrUnknownType, typ, err)
	}
	req, res, ok := strings.Cut(string(out), "\x00")
	if !ok {
		return "", "", fmt.Errorf("%w: %s: unexpected answer from Python", ErrUnknownType, typ)
	}
	return req, res, nil
}
