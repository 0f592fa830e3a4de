package mesh

import (
	"bytes"
	"testing"
	"time"
)

func TestWireRoundTrip(t *testing.T) {
	msgs := []message{
		{kind: kindRequest, id: 1, timeout: 1500 * time.Millisecond, service: "a/b", codec: "msgpack", payload: []byte{1, 2, 3}},
		{kind: kindAck, id: 1},
		{kind: kindReply, id: 1<<40 + 3, codec: "json", payload: []byte(`"x"`)},
		{kind: kindError, id: 9, code: CodePanic, payload: []byte("boom")},
		{kind: kindCancel, id: 300},
		{kind: kindRequest, id: 2, service: "", codec: "", payload: nil},
	}
	frame := []byte{wireVersion}
	for i := range msgs {
		frame = appendMessage(frame, &msgs[i])
	}
	br, err := newBatchReader(frame)
	if err != nil {
		t.Fatal(err)
	}
	for i := range msgs {
		var m message
		ok, err := br.next(&m)
		if !ok || err != nil {
			t.Fatalf("message %d: %v %v", i, ok, err)
		}
		want := msgs[i]
		if m.kind != want.kind || m.id != want.id || m.timeout != want.timeout || m.service != want.service ||
			m.codec != want.codec || m.code != want.code || !bytes.Equal(m.payload, want.payload) {
			t.Fatalf("message %d: got %+v want %+v", i, m, want)
		}
	}
	if ok, err := br.next(new(message)); ok || err != nil {
		t.Fatal("trailing message")
	}
}

// FuzzBatch feeds arbitrary frames to the batch decoder: it may reject
// them, never panic, and what it accepts re-encodes to the same bytes.
func FuzzBatch(f *testing.F) {
	seed := []byte{wireVersion}
	seed = appendMessage(seed, &message{kind: kindRequest, id: 5, timeout: time.Second, service: "s", codec: "c", payload: []byte("p")})
	seed = appendMessage(seed, &message{kind: kindError, id: 5, code: CodeHandler, payload: []byte("e")})
	f.Add(seed)
	f.Add([]byte{wireVersion, 2, byte(kindAck), 7})
	f.Add([]byte{wireVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{wireVersion, 3, byte(kindRequest), 1, 0xff})
	f.Fuzz(func(t *testing.T, frame []byte) {
		br, err := newBatchReader(frame)
		if err != nil {
			return
		}
		for {
			var m message
			ok, err := br.next(&m)
			if err != nil || !ok {
				return
			}
			if len(m.service) > maxNameLen || len(m.codec) > maxNameLen || len(m.payload) > len(frame) {
				t.Fatalf("accepted an impossible message: %+v", m)
			}
		}
	})
}

// FuzzGuard feeds arbitrary bytes, in arbitrary chunks, to the ZMTP frame
// guard: it must never panic, and never let a frame over its limit pass.
func FuzzGuard(f *testing.F) {
	f.Add(append(zmtpGreeting(), zmtpReady()...), uint8(7))
	f.Add(append(zmtpGreeting(), 0x02, 0, 0, 0, 0x10, 0, 0, 0, 0), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		g := &guardConn{max: 1000, greetLeft: zmtpGreetingLen}
		step := int(chunk%16) + 1
		for i := 0; i < len(data); i += step {
			if err := g.scan(data[i:min(i+step, len(data))]); err != nil {
				return
			}
			if g.bodyLeft > 1000 || g.msgSize > 1000 {
				t.Fatalf("guard let through %d bytes", g.bodyLeft)
			}
		}
	})
}
