package codec

import (
	"fmt"
	"maps"
	"slices"
	"sync"
)

// maxNameLen is the longest codec name in bytes. Names travel with every
// payload, so they stay short.
const maxNameLen = 32

// Registry maps wire names to codecs. It is safe for concurrent use.
type Registry struct {
	mu     sync.RWMutex
	codecs map[string]Codec
}

// NewRegistry returns a Registry holding cs. It panics if any of them would
// make Register fail; it is meant for codec sets fixed at compile time.
// Use Register to add codecs chosen at run time.
func NewRegistry(cs ...Codec) *Registry {
	r := &Registry{codecs: make(map[string]Codec, len(cs))}
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
	return r
}

// Default returns a new Registry holding the msgpack, json and pickle
// codecs. Each call returns an independent Registry, with its own pickle
// codec: to let it decode application classes, look it up and call
// AllowClass on it.
func Default() *Registry {
	return NewRegistry(NewMsgpack(), NewJSON(), NewPickle())
}

// Register adds c under c.Name(). It returns an error wrapping
// ErrInvalidName if the name is not valid, or ErrDuplicate if the Registry
// already holds a codec by that name.
func (r *Registry) Register(c Codec) error {
	if c == nil {
		return fmt.Errorf("%w: nil codec", ErrInvalidName)
	}
	name := c.Name()
	if !validName(name) {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.codecs[name]; ok {
		return fmt.Errorf("%w: %q", ErrDuplicate, name)
	}
	r.codecs[name] = c
	return nil
}

// Lookup returns the codec registered under name, or an error wrapping
// ErrUnknownCodec. Name usually comes from the wire and may be hostile.
func (r *Registry) Lookup(name string) (Codec, error) {
	r.mu.RLock()
	c, ok := r.codecs[name]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownCodec, clip(name))
	}
	return c, nil
}

// Names returns the registered names in increasing order.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.codecs))
}

// validName reports whether name is 1 to maxNameLen bytes of [a-z0-9._-].
func validName(name string) bool {
	if name == "" || len(name) > maxNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// clip bounds a name from the wire before it goes into an error message.
// No valid name is that long, so clipping loses nothing useful.
func clip(name string) string {
	const max = 2 * maxNameLen
	if len(name) <= max {
		return name
	}
	return name[:max] + "..."
}
