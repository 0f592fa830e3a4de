package meshkey

import (
	"bufio"
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrKey is returned for a malformed key or key file.
var ErrKey = errors.New("meshkey: invalid key")

// Size is the length of a mesh key in bytes.
const Size = 32

// Key is one mesh key.
type Key [Size]byte

// Generate returns a new random key.
func Generate() Key {
	var k Key
	rand.Read(k[:]) // never fails (crypto/rand panics instead)
	return k
}

// String returns the key in base64, as key files hold it.
func (k Key) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// ID names the key in logs without revealing it.
func (k Key) ID() string { return hex.EncodeToString(k.Derive("id", 4)) }

// Derive returns n bytes derived from k for one purpose.
func (k Key) Derive(purpose string, n int) []byte {
	b, err := hkdf.Key(sha256.New, k[:], nil, "pyros "+purpose, n)
	if err != nil {
		panic(err) // only for n beyond 255*32
	}
	return b
}

// Parse reads one key in base64.
func Parse(s string) (Key, error) {
	var k Key
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != Size {
		return k, fmt.Errorf("%w: want %d bytes in base64 (pyros-peer keygen makes one)", ErrKey, Size)
	}
	copy(k[:], b)
	return k, nil
}

// ParseKeys reads a key file: one key per line, the primary first; blank
// lines and lines starting with # are ignored.
func ParseKeys(text []byte) ([]Key, error) {
	var keys []Key
	sc := bufio.NewScanner(bytes.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := Parse(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key", ErrKey)
	}
	return keys, nil
}

// ReadFile reads a key file (see ParseKeys).
func ReadFile(path string) ([]Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("meshkey: %w", err)
	}
	keys, err := ParseKeys(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}
