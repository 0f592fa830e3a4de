package launcher

import (
	"errors"
	"fmt"
	"os"
	"regexp"

	"github.com/BurntSushi/toml"
)

// ErrSpec is returned for an invalid mesh description.
var ErrSpec = errors.New("launcher: invalid mesh description")

// PeerSpec describes one peer process.
type PeerSpec struct {
	Name  string   `toml:"name" json:"name"`
	State bool     `toml:"state" json:"state"` // a state server, with a data directory in the run directory
	Demo  bool     `toml:"demo" json:"demo"`   // provides the demo services and publishes demo/ticks
	Args  []string `toml:"args" json:"args,omitempty"`
}

// File is a mesh description file:
//
//	gossip = "local"          # or "lan": the gossip timers
//	[[peer]]
//	name = "alice"
//	state = true
//	demo = true
//	args = ["--codec", "json"]
type File struct {
	Gossip string     `toml:"gossip"`
	Peers  []PeerSpec `toml:"peer"`
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ReadFile reads and checks a mesh description.
func ReadFile(path string) (File, error) {
	var f File
	b, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("launcher: %w", err)
	}
	md, err := toml.Decode(string(b), &f)
	if err != nil {
		return f, fmt.Errorf("%w: %s: %w", ErrSpec, path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return f, fmt.Errorf("%w: %s: unknown key %q", ErrSpec, path, und[0].String())
	}
	return f, f.check()
}

func (f File) check() error {
	if len(f.Peers) == 0 {
		return fmt.Errorf("%w: no [[peer]]", ErrSpec)
	}
	switch f.Gossip {
	case "", "local", "lan":
	default:
		return fmt.Errorf("%w: gossip must be local or lan, not %q", ErrSpec, f.Gossip)
	}
	seen := map[string]bool{}
	for _, p := range f.Peers {
		if !validName.MatchString(p.Name) {
			return fmt.Errorf("%w: peer name %q (letters, digits, . _ -; up to 63)", ErrSpec, p.Name)
		}
		if seen[p.Name] {
			return fmt.Errorf("%w: peer %q twice", ErrSpec, p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}

// Default describes n peers p1..pn providing the demo services, the first
// three (or all, if fewer) being state servers.
func Default(n int) File {
	f := File{Gossip: "local"}
	for i := 1; i <= n; i++ {
		f.Peers = append(f.Peers, PeerSpec{Name: fmt.Sprintf("p%d", i), State: i <= 3, Demo: true})
	}
	return f
}

// servers counts the state servers.
func (f File) servers() int {
	n := 0
	for _, p := range f.Peers {
		if p.State {
			n++
		}
	}
	return n
}
