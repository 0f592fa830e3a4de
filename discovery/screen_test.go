package discovery

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

func TestScreenStreamAcceptsAndReplays(t *testing.T) {
	user := mlUserStream(encodeState(msgReply, "a", stamp{1, 2}, catalog(10<<10, "a")))
	pushPull := mlPushPullStream([]mlPushNode{
		{Name: "a", Addr: []byte{127, 0, 0, 1}, Port: 7946, Meta: []byte("m"), Incarnation: 3, Vsn: []uint8{1, 5, 2, 2, 5, 4}},
		{Name: "b", Addr: []byte{127, 0, 0, 1}, Port: 7947},
	}, catalog(3<<10, "pp"))
	ping := mlEncode(mlPing, map[string]any{"SeqNo": 1, "Node": "a"})
	s := screener{}
	for _, tc := range []struct {
		name    string
		in      []byte
		inbound bool
		want    []byte
	}{
		{"user", user, true, user},
		{"push/pull", pushPull, true, pushPull},
		{"push/pull answer", pushPull, false, pushPull},
		{"ping", ping, true, ping},
		{"ack", mlEncode(mlAckResp, map[string]any{"SeqNo": 1}), false, mlEncode(mlAckResp, map[string]any{"SeqNo": 1})},
		{"labelled user", mlLabel("pyros", user), true, mlLabel("pyros", user)},
		{"compressed user", mlCompressMsg(user), true, user},
		{"compressed push/pull", mlCompressMsg(pushPull), false, pushPull},
		{"labelled compressed", mlLabel("x", mlCompressMsg(user)), true, mlLabel("x", user)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Trailing bytes stand for whatever follows on the stream.
			r, err := s.stream(bytes.NewReader(append(bytes.Clone(tc.in), "tail"...)), tc.inbound)
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			got, _ := io.ReadAll(r)
			got = bytes.TrimSuffix(got, []byte("tail"))
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("replay differs: got %d bytes, want %d", len(got), len(tc.want))
			}
		})
	}
}

func TestScreenStreamRejects(t *testing.T) {
	s := screener{}
	for _, tc := range []struct {
		name    string
		in      []byte
		inbound bool
	}{
		{"user claims 1<<62 bytes", mlUserClaim(1 << 62), true},
		{"user claims 1 TiB", mlUserClaim(1 << 40), true},
		{"user claims negative", mlUserClaim(-5), true},
		{"user on an answer", mlUserStream([]byte{1}), false},
		{"push/pull claims 1M nodes", mlPushPullClaim(1<<20, 0), true},
		{"push/pull claims 1<<40 state", mlPushPullClaim(0, 1<<40), true},
		{"push/pull claims negative", mlPushPullClaim(-1, 0), true},
		{"push/pull truncated nodes", mlPushPullClaim(3, 0), true},
		{"push/pull truncated state", mlPushPullClaim(0, 100), true},
		{"bomb", streamBomb(), true},
		{"compressed huge claim", mlCompressMsg(mlUserClaim(1 << 62)), true},
		{"nested compression", mlCompressMsg(mlCompressMsg(mlUserStream([]byte{1}))), true},
		{"unknown compression", mlEncode(mlCompress, &mlCompressed{Algo: 7, Buf: []byte{1}}), true},
		{"encrypted without key", []byte{mlEncrypt, 0, 0, 0, 9}, true},
		{"ack inbound", mlEncode(mlAckResp, map[string]any{"SeqNo": 1}), true},
		{"ping on an answer", mlEncode(mlPing, map[string]any{"SeqNo": 1}), false},
		{"unknown type", []byte{200, 1, 2, 3}, true},
		{"empty", nil, true},
		{"label only", []byte{mlHasLabel, 3, 'a'}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.stream(bytes.NewReader(tc.in), tc.inbound); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestScreenStreamReadsOnlyWhatArrives(t *testing.T) {
	// A header claiming the maximum user message, followed by a little
	// data: the screener must fail on the missing data without having
	// allocated for the claim.
	in := append(mlUserClaim(maxUserMsgLen), make([]byte, 1000)...)
	_, err := screener{}.stream(bytes.NewReader(in), true)
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want EOF", err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _ = screener{}.stream(bytes.NewReader(in), true)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 256<<10 {
		t.Fatalf("allocated %d bytes for a %d-byte stream", n, len(in))
	}
}

func TestScreenPacket(t *testing.T) {
	s := screener{}
	user := mlUserPacket(encodeNotice("a", stamp{1, 2}))
	alive := mlEncode(4, map[string]any{"Node": "a"})
	for _, tc := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"user", user, true},
		{"compound", mlCompoundPacket(user, alive), true},
		{"compressed compound", mlCompressMsg(mlCompoundPacket(user, alive)), true},
		{"crc", append([]byte{mlHasCrc, 1, 2, 3, 4}, user...), true},
		{"label", mlLabel("l", user), true},
		{"truncated compound part", mlCompoundPacket(user)[:5], true},
		{"bomb", packetBomb(), false},
		{"nested compression", mlCompressMsg(mlCompressMsg(user)), false},
		{"compression inside compound", mlCompoundPacket(mlCompressMsg(user)), false},
		{"nested compound", mlCompoundPacket(mlCompoundPacket(user)), false},
		{"truncated compound lengths", []byte{mlCompound, 5, 0}, false},
		{"garbage compress", []byte{mlCompress, 0xdb, 0xff, 0xff, 0xff, 0xff}, false},
		{"empty", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.packet(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("packet() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	keyed := screener{keys: func() [][]byte { return [][]byte{make([]byte, 32)} }}
	if err := keyed.packet(user); err == nil {
		t.Fatal("a keyed member accepted a plaintext packet")
	}
	keyed.acceptPlain = true
	if err := keyed.packet(user); err != nil {
		t.Fatalf("plaintext refused although accepted: %v", err)
	}
	if err := keyed.packet(packetBomb()); err == nil {
		t.Fatal("a bomb passed as plaintext")
	}
}

func FuzzScreenStream(f *testing.F) {
	f.Add(mlUserStream([]byte("x")), true)
	f.Add(mlPushPullClaim(2, 10), false)
	f.Add(mlCompressMsg(mlUserStream([]byte("y"))), true)
	f.Add(mlLabel("l", mlUserClaim(3)), true)
	f.Fuzz(func(t *testing.T, in []byte, inbound bool) {
		r, err := screener{}.stream(bytes.NewReader(in), inbound)
		if err == nil {
			if _, err := io.ReadAll(r); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzScreenPacket(f *testing.F) {
	f.Add(mlUserPacket([]byte{1, 2}))
	f.Add(mlCompressMsg(mlCompoundPacket([]byte{8, 1}, []byte{4})))
	f.Add(mlLabel("x", []byte{mlHasCrc, 0, 0, 0, 0, mlCompound, 1, 0, 1, 8}))
	f.Fuzz(func(t *testing.T, in []byte) {
		_ = screener{}.packet(in)
	})
}

// TestScreenRejectsBadProtocolVersions: an alive message or a push/pull
// node with an impossible version range would make memberlist refuse every
// later join to this member.
func TestScreenRejectsBadProtocolVersions(t *testing.T) {
	alive := func(vsn []uint8) []byte {
		var b []byte
		if err := codec.NewEncoderBytes(&b, &codec.MsgpackHandle{}).Encode(mlAliveMsg{Node: "ghost", Vsn: vsn}); err != nil {
			t.Fatal(err)
		}
		return append([]byte{mlAlive}, b...)
	}
	for _, vsn := range [][]uint8{{1, 0, 2, 0, 0, 0}, {1, 5}, {0, 5, 2, 0, 0, 0}, {1, 9, 2, 0, 0, 0}, {1, 5, 2, 1, 0, 0}} {
		if err := screenCommand(alive(vsn), true, true); !errors.Is(err, errMalformed) {
			t.Errorf("alive with versions %v: %v", vsn, err)
		}
	}
	if err := screenCommand(alive([]uint8{1, 5, 2, 0, 0, 0}), true, true); err != nil {
		t.Errorf("a valid alive message: %v", err)
	}
}
