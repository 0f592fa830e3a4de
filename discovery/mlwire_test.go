package discovery

import (
	"bytes"
	"compress/lzw"
	"encoding/binary"
	"io"
	"sync"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// Builders of memberlist v0.6.0 wire messages, for feeding the screener and
// memberlist itself with valid and hostile traffic.

func mlEncode(t byte, vs ...any) []byte {
	var b bytes.Buffer
	b.WriteByte(t)
	enc := codec.NewEncoder(&b, &codec.MsgpackHandle{})
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			panic(err)
		}
	}
	return b.Bytes()
}

// mlUserStream is a reliable user message carrying payload.
func mlUserStream(payload []byte) []byte {
	return append(mlEncode(mlUser, &mlUserHeader{UserMsgLen: len(payload)}), payload...)
}

// mlUserClaim is a user message header claiming n bytes, without them.
func mlUserClaim(n int) []byte {
	return mlEncode(mlUser, &mlUserHeader{UserMsgLen: n})
}

// mlPushPullStream is a push/pull with the given nodes and user state.
func mlPushPullStream(nodes []mlPushNode, userState []byte) []byte {
	vs := []any{&mlPushPullHeader{Nodes: len(nodes), UserStateLen: len(userState)}}
	for i := range nodes {
		vs = append(vs, &nodes[i])
	}
	return append(mlEncode(mlPushPull, vs...), userState...)
}

// mlPushPullClaim is a push/pull header claiming nodes and state bytes.
func mlPushPullClaim(nodes, state int) []byte {
	return mlEncode(mlPushPull, &mlPushPullHeader{Nodes: nodes, UserStateLen: state})
}

// lzwCompress compresses like memberlist.
func lzwCompress(p []byte) []byte {
	var b bytes.Buffer
	w := lzw.NewWriter(&b, lzw.LSB, 8)
	if _, err := w.Write(p); err != nil {
		panic(err)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// mlCompressMsg wraps msg in memberlist's compress envelope.
func mlCompressMsg(msg []byte) []byte {
	return mlEncode(mlCompress, &mlCompressed{Algo: 0, Buf: lzwCompress(msg)})
}

// mlBomb is a compress envelope whose payload inflates to n zero bytes.
func mlBomb(n int64) []byte {
	var b bytes.Buffer
	w := lzw.NewWriter(&b, lzw.LSB, 8)
	if _, err := io.CopyN(w, zeros{}, n); err != nil {
		panic(err)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return mlEncode(mlCompress, &mlCompressed{Algo: 0, Buf: b.Bytes()})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Bombs just past the screener's limits, built once.
var (
	streamBomb = sync.OnceValue(func() []byte { return mlBomb(maxStreamPayload + 1<<20) })
	packetBomb = sync.OnceValue(func() []byte { return mlBomb(4 << 20) })
)

// mlUserPacket is a gossip packet carrying one user message.
func mlUserPacket(payload []byte) []byte {
	return append([]byte{mlUser}, payload...)
}

// mlCompound frames parts as a compound packet.
func mlCompoundPacket(parts ...[]byte) []byte {
	b := []byte{mlCompound, byte(len(parts))}
	for _, p := range parts {
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
	}
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// mlLabel prefixes a label header.
func mlLabel(label string, msg []byte) []byte {
	return append(append([]byte{mlHasLabel, byte(len(label))}, label...), msg...)
}
