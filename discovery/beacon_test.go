package discovery

import (
	"bytes"
	"crypto/cipher"
	"errors"
	"strings"
	"testing"

	"github.com/pyros-mesh/pyros/meshkey"
)

// aeads returns the beacon AEADs of a ring of keys.
func aeads(t testing.TB, keys ...meshkey.Key) []cipher.AEAD {
	t.Helper()
	b, err := newBeaconKeys(ring(t, keys...))
	if err != nil {
		t.Fatal(err)
	}
	return b.current()
}

func TestBeaconRoundTrip(t *testing.T) {
	k1, k2 := meshkey.Generate(), meshkey.Generate()
	long := beacon{port: 65535, mesh: strings.Repeat("m", maxMeshNameLen), name: strings.Repeat("n", MaxNameLen)}
	for _, b := range []beacon{
		{port: 7946, mesh: "pyros", name: "node-1"},
		{scout: true, port: 1, mesh: "lab", name: "x"},
		long,
	} {
		plain, err := encodeBeacon(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := decodeBeacon(plain, nil); err != nil || got != b {
			t.Fatalf("plain: got %+v, %v; want %+v", got, err, b)
		}
		sealed, err := encodeBeacon(b, aeads(t, k1)[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) > maxBeaconSize {
			t.Fatalf("a %d-byte beacon exceeds maxBeaconSize", len(sealed))
		}
		if bytes.Contains(sealed, []byte(b.name)) && len(b.name) > 2 {
			t.Fatal("the member name is visible in a sealed beacon")
		}
		// Any key of the receiver's ring opens it.
		if got, err := decodeBeacon(sealed, aeads(t, k2, k1)); err != nil || got != b {
			t.Fatalf("sealed: got %+v, %v; want %+v", got, err, b)
		}
		for what, keys := range map[string][]cipher.AEAD{
			"another key": aeads(t, k2),
			"no key":      nil,
		} {
			if _, err := decodeBeacon(sealed, keys); !errors.Is(err, errMalformed) {
				t.Errorf("sealed beacon opened with %s: %v", what, err)
			}
		}
		if _, err := decodeBeacon(plain, aeads(t, k1)); !errors.Is(err, errMalformed) {
			t.Errorf("a keyed member accepted a plain beacon: %v", err)
		}
	}
	// Two seals of one beacon differ (random nonce).
	b := beacon{port: 1, mesh: "m", name: "n"}
	s1, _ := encodeBeacon(b, aeads(t, k1)[0])
	s2, _ := encodeBeacon(b, aeads(t, k1)[0])
	if bytes.Equal(s1, s2) {
		t.Error("two sealed beacons are identical")
	}
	for _, bad := range []beacon{{port: 1, mesh: "", name: "n"}, {port: 1, mesh: "m"}, {mesh: strings.Repeat("m", 256), name: "n"}} {
		if _, err := encodeBeacon(bad, nil); err == nil {
			t.Errorf("encoded %+v", bad)
		}
	}
}

func TestBeaconRejectsMalformed(t *testing.T) {
	good, _ := encodeBeacon(beacon{port: 7946, mesh: "pyros", name: "a"}, nil)
	sealed, _ := encodeBeacon(beacon{port: 7946, mesh: "pyros", name: "a"}, aeads(t, meshkey.Generate())[0])
	mutate := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	for name, pkt := range map[string][]byte{
		"empty":          nil,
		"header only":    good[:beaconHeaderSize],
		"bad magic":      mutate(func(b []byte) []byte { b[0] = 'X'; return b }),
		"next version":   mutate(func(b []byte) []byte { b[4] = 2; return b }),
		"unknown mode":   mutate(func(b []byte) []byte { b[5] = 7; return b }),
		"unknown kind":   mutate(func(b []byte) []byte { b[6] = 9; return b }),
		"port 0":         mutate(func(b []byte) []byte { b[7], b[8] = 0, 0; return b }),
		"trailing byte":  append(bytes.Clone(good), 0),
		"truncated":      good[:len(good)-1],
		"long mesh len":  mutate(func(b []byte) []byte { b[9] = 200; return b }),
		"empty name":     mutate(func(b []byte) []byte { return append(b[:len(b)-2], 0) }),
		"oversized":      append(bytes.Clone(good), make([]byte, maxBeaconSize)...),
		"sealed, no key": sealed,
	} {
		if _, err := decodeBeacon(pkt, nil); !errors.Is(err, errMalformed) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	keys := aeads(t, meshkey.Generate())
	for cut := range len(sealed) {
		if _, err := decodeBeacon(sealed[:cut], keys); err == nil {
			t.Fatalf("a sealed beacon cut at %d was accepted", cut)
		}
	}
}

func FuzzDecodeBeacon(f *testing.F) {
	keys := aeads(f, meshkey.Generate())
	plain, _ := encodeBeacon(beacon{scout: true, port: 7946, mesh: "pyros", name: "a"}, nil)
	sealed, _ := encodeBeacon(beacon{port: 7946, mesh: "pyros", name: "a"}, keys[0])
	f.Add(plain)
	f.Add(sealed)
	f.Add([]byte("PYRO\x01\x00\x01\x00\x01\x01m\x01n"))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, k := range [][]cipher.AEAD{nil, keys} {
			b, err := decodeBeacon(pkt, k)
			if err != nil {
				continue
			}
			if b.port == 0 || b.mesh == "" || b.name == "" {
				t.Fatalf("accepted an empty field: %+v", b)
			}
			// What decodes re-encodes to the same datagram (plain).
			if k == nil {
				again, err := encodeBeacon(b, nil)
				if err != nil || !bytes.Equal(again, pkt) {
					t.Fatalf("re-encoding %+v: %x, %v; want %x", b, again, err, pkt)
				}
			}
		}
	})
}
