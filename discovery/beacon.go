package discovery

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pyros-mesh/pyros/meshkey"
)

// A beacon is the datagram of LAN discovery:
//
//	header   magic "PYRO" (4 bytes) | version 1 (1 byte) | mode (1 byte)
//	body     kind (1 byte: 1 announce, 2 scout) | gossip port (uint16, big endian)
//	         | mesh length (1 byte) | mesh | name length (1 byte) | name
//
// In mode 0 (open mesh) the body follows the header in the clear. In mode 1
// (a mesh key ring is configured) the header is followed by a random 12-byte
// nonce and the body sealed with AES-256-GCM under a key derived from the
// primary mesh key (meshkey purpose "beacon"), the header being
// authenticated as additional data. A scout is an announce that also asks
// the members hearing it to announce themselves.
const (
	beaconVersion    = 1
	beaconHeaderSize = 4 + 1 + 1
	beaconPlain      = 0
	beaconSealed     = 1
	beaconAnnounce   = 1
	beaconScout      = 2
	beaconNonceSize  = 12
	beaconKeyLen     = 32
	maxMeshNameLen   = 255
	// maxBeaconSize is the largest valid beacon: a sealed one with the
	// longest mesh and member names.
	maxBeaconSize = beaconHeaderSize + beaconNonceSize + 1 + 2 + 1 + maxMeshNameLen + 1 + MaxNameLen + 16
)

var beaconMagic = [4]byte{'P', 'Y', 'R', 'O'}

// beacon is the content of a LAN discovery datagram.
type beacon struct {
	scout bool
	port  uint16 // the sender's gossip port
	mesh  string
	name  string // the sender's member name
}

// encodeBeacon builds the datagram of b, sealed with seal unless it is nil.
func encodeBeacon(b beacon, seal cipher.AEAD) ([]byte, error) {
	if b.mesh == "" || len(b.mesh) > maxMeshNameLen || b.name == "" || len(b.name) > MaxNameLen {
		return nil, fmt.Errorf("%w: beacon names out of bounds", errMalformed)
	}
	kind := byte(beaconAnnounce)
	if b.scout {
		kind = beaconScout
	}
	body := make([]byte, 0, 1+2+1+len(b.mesh)+1+len(b.name))
	body = append(body, kind)
	body = binary.BigEndian.AppendUint16(body, b.port)
	body = append(body, byte(len(b.mesh)))
	body = append(body, b.mesh...)
	body = append(body, byte(len(b.name)))
	body = append(body, b.name...)

	out := make([]byte, 0, maxBeaconSize)
	out = append(out, beaconMagic[:]...)
	if seal == nil {
		out = append(out, beaconVersion, beaconPlain)
		return append(out, body...), nil
	}
	out = append(out, beaconVersion, beaconSealed)
	nonce := make([]byte, beaconNonceSize)
	rand.Read(nonce) // never fails (crypto/rand panics instead)
	out = append(out, nonce...)
	return seal.Seal(out, nonce, body, out[:beaconHeaderSize]), nil
}

// decodeBeacon parses a datagram. With keys (one AEAD per key of the ring,
// any of which may have sealed it) only sealed beacons are accepted; without,
// only plain ones.
func decodeBeacon(pkt []byte, keys []cipher.AEAD) (beacon, error) {
	switch {
	case len(pkt) < beaconHeaderSize || len(pkt) > maxBeaconSize:
		return beacon{}, fmt.Errorf("%w: beacon of %d bytes", errMalformed, len(pkt))
	case [4]byte(pkt[:4]) != beaconMagic:
		return beacon{}, fmt.Errorf("%w: not a beacon", errMalformed)
	case pkt[4] != beaconVersion:
		return beacon{}, fmt.Errorf("%w: beacon version %d", errMalformed, pkt[4])
	}
	header, rest := pkt[:beaconHeaderSize], pkt[beaconHeaderSize:]
	switch mode := header[5]; {
	case mode == beaconPlain && len(keys) == 0:
		return decodeBeaconBody(rest)
	case mode == beaconSealed && len(keys) > 0:
		if len(rest) < beaconNonceSize {
			return beacon{}, fmt.Errorf("%w: truncated sealed beacon", errMalformed)
		}
		nonce, sealed := rest[:beaconNonceSize], rest[beaconNonceSize:]
		for _, k := range keys {
			if body, err := k.Open(nil, nonce, sealed, header); err == nil {
				return decodeBeaconBody(body)
			}
		}
		return beacon{}, fmt.Errorf("%w: beacon sealed with a key not in the ring", errMalformed)
	case mode == beaconPlain:
		return beacon{}, fmt.Errorf("%w: plain beacon while the mesh is keyed", errMalformed)
	case mode == beaconSealed:
		return beacon{}, fmt.Errorf("%w: sealed beacon while the mesh is open", errMalformed)
	default:
		return beacon{}, fmt.Errorf("%w: beacon mode %d", errMalformed, mode)
	}
}

func decodeBeaconBody(p []byte) (beacon, error) {
	var b beacon
	if len(p) < 1+2+1 {
		return b, fmt.Errorf("%w: truncated beacon", errMalformed)
	}
	switch p[0] {
	case beaconAnnounce:
	case beaconScout:
		b.scout = true
	default:
		return b, fmt.Errorf("%w: beacon kind %d", errMalformed, p[0])
	}
	b.port = binary.BigEndian.Uint16(p[1:3])
	var ok bool
	if b.mesh, p, ok = cutString(p[3:]); !ok {
		return b, fmt.Errorf("%w: truncated mesh name", errMalformed)
	}
	if b.name, p, ok = cutString(p); !ok {
		return b, fmt.Errorf("%w: truncated member name", errMalformed)
	}
	switch {
	case len(p) != 0:
		return b, fmt.Errorf("%w: %d trailing bytes", errMalformed, len(p))
	case b.port == 0 || b.mesh == "" || b.name == "":
		return b, fmt.Errorf("%w: empty beacon field", errMalformed)
	}
	return b, nil
}

// cutString splits a string with a one-byte length prefix off p.
func cutString(p []byte) (string, []byte, bool) {
	if len(p) < 1 || len(p) < 1+int(p[0]) {
		return "", nil, false
	}
	n := int(p[0])
	return string(p[1 : 1+n]), p[1+n:], true
}

// beaconKeys holds one AEAD per key of the mesh key ring, primary first,
// updated when the ring changes.
type beaconKeys struct {
	ring  *meshkey.Ring
	mu    sync.Mutex // serialises load
	aeads atomic.Pointer[[]cipher.AEAD]
}

func newBeaconKeys(ring *meshkey.Ring) (*beaconKeys, error) {
	b := &beaconKeys{ring: ring}
	// Subscribe, then load: a Set racing New is not missed. load fails
	// only for a key of the wrong size, which Derive never returns.
	ring.OnChange(func() { _ = b.load() })
	if err := b.load(); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *beaconKeys) load() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var aeads []cipher.AEAD
	for _, k := range b.ring.Derive("beacon", beaconKeyLen) {
		a, err := newAEAD(k)
		if err != nil {
			return fmt.Errorf("discovery: beacon key: %w", err)
		}
		aeads = append(aeads, a)
	}
	b.aeads.Store(&aeads)
	return nil
}

// current returns the AEADs, the primary first; nil for an open mesh (nil
// receiver).
func (b *beaconKeys) current() []cipher.AEAD {
	if b == nil {
		return nil
	}
	return *b.aeads.Load()
}

// primary returns the AEAD to seal with; nil for an open mesh.
func (b *beaconKeys) primary() cipher.AEAD {
	if k := b.current(); len(k) > 0 {
		return k[0]
	}
	return nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
