package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// maxRegistryFile bounds how much of a registry file is read.
const maxRegistryFile = 4 << 10

// registryEntry is the content of <dir>/<name>.json.
type registryEntry struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
	PID  int    `json:"pid"`
}

// registry is the same-host discovery directory: one JSON file per live
// member, named after the member (path-escaped) and written atomically.
type registry struct {
	dir    string
	path   string
	self   registryEntry
	logger *slog.Logger
}

func openRegistry(dir, name, addr string, register bool, logger *slog.Logger) (*registry, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("discovery: registry: %w", err)
	}
	r := &registry{
		dir:    dir,
		path:   filepath.Join(dir, url.PathEscape(name)+".json"),
		self:   registryEntry{Name: name, Addr: addr, PID: os.Getpid()},
		logger: logger,
	}
	if !register {
		r.path = "" // read only: nothing to write or remove
		return r, nil
	}
	if err := r.write(); err != nil {
		return nil, err
	}
	return r, nil
}

// write replaces this member's file atomically: readers see the old file or
// the new one, never a partial one.
func (r *registry) write() error {
	data, err := json.Marshal(r.self)
	if err != nil {
		return fmt.Errorf("discovery: registry: %w", err)
	}
	tmp, err := os.CreateTemp(r.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("discovery: registry: %w", err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), r.path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("discovery: registry: %w", err)
	}
	return nil
}

// peers returns the addresses of the other live members listed in the
// directory and removes the files of members whose process is gone.
func (r *registry) peers() []string {
	files, err := os.ReadDir(r.dir)
	if err != nil {
		r.logger.Warn("registry: cannot list directory", "dir", r.dir, "err", err)
		return nil
	}
	var addrs []string
	for _, f := range files {
		if !f.Type().IsRegular() || !strings.HasSuffix(f.Name(), ".json") {
			continue
		}
		path := filepath.Join(r.dir, f.Name())
		if path == r.path {
			continue
		}
		e, err := readRegistryEntry(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			r.logger.Debug("registry: unreadable entry", "file", path, "err", err)
			continue
		}
		if !processAlive(e.PID) {
			r.logger.Debug("registry: removing stale entry", "file", path, "pid", e.PID)
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				r.logger.Warn("registry: cannot remove stale entry", "file", path, "err", err)
			}
			continue
		}
		if e.Name != r.self.Name && e.Addr != "" {
			addrs = append(addrs, e.Addr)
		}
	}
	return addrs
}

// remove deletes this member's file unless another process has replaced it.
func (r *registry) remove() error {
	if r.path == "" {
		return nil
	}
	e, err := readRegistryEntry(r.path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && e != r.self) {
		return nil
	}
	if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("discovery: registry: %w", err)
	}
	return nil
}

func readRegistryEntry(path string) (registryEntry, error) {
	var e registryEntry
	f, err := os.Open(path)
	if err != nil {
		return e, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRegistryFile))
	if err != nil {
		return e, err
	}
	err = json.Unmarshal(data, &e)
	return e, err
}
