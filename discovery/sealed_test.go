package discovery

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	crand "crypto/rand"
	"encoding/binary"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pyros-mesh/pyros/meshkey"
)

// mlSeal seals plain as memberlist does (encryption version vsn).
func mlSeal(key []byte, vsn byte, plain, aad []byte) []byte {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	if vsn == 0 {
		pad := aes.BlockSize - len(plain)%aes.BlockSize
		plain = append(bytes.Clone(plain), bytes.Repeat([]byte{byte(pad)}, pad)...)
	}
	nonce := make([]byte, mlNonceSize)
	crand.Read(nonce)
	out := append([]byte{vsn}, nonce...)
	return gcm.Seal(out, nonce, plain, aad)
}

// mlSealedPacket is a packet sealed with key under label.
func mlSealedPacket(key []byte, label string, plain []byte) []byte {
	return mlSeal(key, 1, plain, []byte(label))
}

// mlSealedStream is a stream message sealed with key under label.
func mlSealedStream(key []byte, label string, plain []byte) []byte {
	head := []byte{mlEncrypt, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(head[1:], uint32(1+mlNonceSize+len(plain)+mlTagSize))
	return append(head, mlSeal(key, 1, plain, append(bytes.Clone(head), label...))...)
}

func TestScreenSealed(t *testing.T) {
	key, other := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	s := screener{keys: func() [][]byte { return [][]byte{other, key} }, label: "lbl"}
	user := mlUserStream(encodeState(msgReply, "a", stamp{1, 2}, catalog(2<<10, "a")))
	pushPull := mlPushPullStream([]mlPushNode{{Name: "a", Addr: []byte{127, 0, 0, 1}, Port: 1}}, []byte("st"))
	for _, tc := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"user", mlSealedStream(key, "lbl", user), true},
		{"labelled user", mlLabel("lbl", mlSealedStream(key, "lbl", user)), true},
		{"compressed push/pull", mlSealedStream(key, "lbl", mlCompressMsg(pushPull)), true},
		{"wrong key", mlSealedStream(bytes.Repeat([]byte{3}, 32), "lbl", user), false},
		{"wrong label", mlSealedStream(key, "other", user), false},
		{"plaintext", user, false},
		{"empty plaintext", mlSealedStream(key, "lbl", nil), false},
		{"huge claim inside", mlSealedStream(key, "lbl", mlUserClaim(1<<62)), false},
		{"bomb inside", mlSealedStream(key, "lbl", streamBomb()), false},
		{"length beyond memberlist's limit", []byte{mlEncrypt, 0x7f, 0xff, 0xff, 0xff}, false},
		{"truncated", mlSealedStream(key, "lbl", user)[:100], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append(bytes.Clone(tc.in), "tail"...)
			r, err := s.stream(bytes.NewReader(in), true)
			if (err == nil) != tc.ok {
				t.Fatalf("stream() = %v, want ok=%v", err, tc.ok)
			}
			if err == nil {
				if got, _ := io.ReadAll(r); !bytes.Equal(got, in) {
					t.Fatal("the sealed stream is not replayed as it came")
				}
			}
		})
	}
	notice := mlUserPacket(encodeNotice("a", stamp{1, 2}))
	for _, tc := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"notice", mlSealedPacket(key, "lbl", notice), true},
		{"labelled", mlLabel("lbl", mlSealedPacket(key, "lbl", notice)), true},
		{"version 0", mlSeal(key, 0, notice, []byte("lbl")), true},
		{"crc", mlSealedPacket(key, "lbl", append([]byte{mlHasCrc, 1, 2, 3, 4}, notice...)), true},
		{"wrong key", mlSealedPacket(bytes.Repeat([]byte{3}, 32), "lbl", notice), false},
		{"plaintext", notice, false},
		{"bomb inside", mlSealedPacket(key, "lbl", packetBomb()), false},
		{"version 9", append([]byte{9}, mlSealedPacket(key, "lbl", notice)[1:]...), false},
	} {
		t.Run("packet "+tc.name, func(t *testing.T) {
			if err := s.packet(tc.in); (err == nil) != tc.ok {
				t.Fatalf("packet() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	// Version 0 with a pad length memberlist would slice by blindly.
	bad := mlSeal(key, 1, append(bytes.Clone(notice), 200), []byte("lbl"))
	bad[0] = 0
	if _, err := openSealed([][]byte{key}, bad, []byte("lbl")); err == nil {
		t.Error("a bad pad length was accepted")
	}
}

func FuzzOpenSealed(f *testing.F) {
	key := bytes.Repeat([]byte{1}, 32)
	f.Add(mlSeal(key, 0, []byte{1, 2, 3}, nil))
	f.Add(mlSeal(key, 1, []byte{mlUser, 1}, nil))
	f.Fuzz(func(t *testing.T, in []byte) {
		s := screener{keys: func() [][]byte { return [][]byte{key} }}
		_ = s.packet(in)
		_, _ = s.stream(bytes.NewReader(append([]byte{mlEncrypt}, in...)), true)
	})
}

// TestHostileInputKeyed floods a keyed member with the hostile traffic of
// TestHostileInput, with traffic sealed under another key, and with hostile
// messages sealed under the mesh key itself, which memberlist would trust.
func TestHostileInputKeyed(t *testing.T) {
	k := meshkey.Generate()
	a := newNode(t, "a", quiet, withKeys(ring(t, k)), withState([]byte("a-doc")))
	b := newNode(t, "b", withKeys(ring(t, k)))
	nodes := []*Discovery{a, b}
	joinAll(t, nodes)
	waitFor(t, 10*time.Second, "membership", fullMembership(nodes))

	rng := rand.New(rand.NewPCG(3, 4))
	gossip, foreign := k.Derive("gossip", 32), meshkey.Generate().Derive("gossip", 32)
	pkts := hostilePackets(rng)
	streams := hostileStreams(rng)
	for _, m := range hostileMessages(rng)[:20] {
		pkts = append(pkts, mlSealedPacket(foreign, "", mlUserPacket(m)))
		streams = append(streams, mlSealedStream(foreign, "", mlUserStream(m)))
	}
	pkts = append(pkts,
		mlSealedPacket(gossip, "", packetBomb()),
		mlSealedPacket(gossip, "", nil),
		mlSeal(gossip, 0, []byte{mlUser}, nil)[:29])
	streams = append(streams,
		mlSealedStream(gossip, "", mlUserClaim(1<<62)), // panics an unguarded memberlist
		mlSealedStream(gossip, "", mlPushPullClaim(1<<20, 0)),
		mlSealedStream(gossip, "", nil), // so does this one
		mlSealedStream(gossip, "", streamBomb()),
		[]byte{mlEncrypt, 0x01, 0x40, 0, 0}, // claims 20 MiB, sends nothing
	)
	before := a.transport.droppedPackets.Load()
	floodPackets(t, a.LocalAddr(), pkts, 3000)
	floodStreams(a.LocalAddr(), streams, 400)
	waitFor(t, 10*time.Second, "packets screened", func() error {
		if a.transport.droppedPackets.Load()-before < 1000 {
			return errNotYet
		}
		return nil
	})
	t.Logf("screened out %d packets and %d streams", a.transport.droppedPackets.Load(), a.transport.droppedStreams.Load())

	a.SetState([]byte("a-after"))
	waitFor(t, 10*time.Second, "a's update", stateEverywhere(nodes, "a", []byte("a-after")))
	c := newNode(t, "c", withKeys(ring(t, k)), func(c *Config) { c.Logger = slog.New(slog.DiscardHandler) })
	if _, err := c.Join(t.Context(), []string{a.LocalAddr()}); err != nil {
		t.Fatalf("join through the attacked member: %v", err)
	}
	waitFor(t, 10*time.Second, "membership after attack", fullMembership([]*Discovery{a, b, c}))
}
