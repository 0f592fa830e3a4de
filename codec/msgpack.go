package codec

import (
	"bytes"
	"fmt"
	"reflect"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// maxMsgpackDepth is how many arrays and maps a msgpack payload may nest.
// Pyros payloads are shallow; the limit bounds the decoder's recursion.
const maxMsgpackDepth = 64

// maxPooledBuffer is the largest encode buffer kept for reuse, so one huge
// payload does not pin its memory in the pool.
const maxPooledBuffer = 64 << 10

// msgpackCodec encodes with github.com/vmihailenco/msgpack/v5 and checks
// every payload with validMsgpack before decoding it.
type msgpackCodec struct{}

var _ Codec = msgpackCodec{}

// NewMsgpack returns the msgpack codec. Integers are encoded in their most
// compact form; structs use msgpack tags and fall back to json tags.
func NewMsgpack() Codec { return msgpackCodec{} }

func (msgpackCodec) Name() string { return Msgpack }

func (msgpackCodec) Marshal(v any) ([]byte, error) {
	e := encoderPool.Get().(*encoder)
	defer e.release()
	if err := e.enc.Encode(v); err != nil {
		return nil, fmt.Errorf("codec: msgpack marshal: %w", err)
	}
	return bytes.Clone(e.buf.Bytes()), nil
}

// Unmarshal validates data and then decodes it into v. Validation failures,
// decoder errors and panics all come back wrapping ErrMalformed.
func (msgpackCodec) Unmarshal(data []byte, v any) (err error) {
	if err := checkTarget(v); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: msgpack decoder panicked: %v", ErrMalformed, r)
		}
	}()
	widen, err := scanMsgpack(data, maxMsgpackDepth)
	if err != nil {
		return err
	}
	if len(widen) > 0 {
		data = widenTimestamps(data, widen)
	}
	d := newDecoder(data)
	if err := d.decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	d.release()
	return nil
}

// encoder is a pooled msgpack encoder with its output buffer.
type encoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

var encoderPool = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = msgpack.NewEncoder(&e.buf)
	e.enc.SetCustomStructTag("json")
	e.enc.UseCompactInts(true)
	return e
}}

func (e *encoder) release() {
	if e.buf.Cap() > maxPooledBuffer {
		return
	}
	e.buf.Reset()
	encoderPool.Put(e)
}

// decoder is a pooled msgpack decoder reading from an in-memory payload.
type decoder struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

var decoderPool = sync.Pool{New: func() any {
	return &decoder{dec: msgpack.NewDecoder(nil)}
}}

func newDecoder(data []byte) *decoder {
	d := decoderPool.Get().(*decoder)
	d.r.Reset(data)
	d.dec.Reset(&d.r) // Reset clears options, so set them every time.
	d.dec.SetCustomStructTag("json")
	d.dec.SetMapDecoder(decodeMap)
	return d
}

// release returns d to the pool. Unmarshal releases only decoders that
// succeeded: after a failure, and above all a panic, the state is unknown.
func (d *decoder) release() {
	d.r.Reset(nil)
	d.dec.Reset(nil)
	decoderPool.Put(d)
}

// decode decodes one value into v.
func (d *decoder) decode(v any) error {
	switch p := v.(type) {
	case *any:
		if reflect.ValueOf(*p).Kind() == reflect.Pointer {
			break // Decode into what *p points at, as encoding/json does.
		}
		var err error
		*p, err = decodeAny(d.dec)
		return err
	case *map[string]any:
		return decodeInto(d.dec, p)
	case *[]any:
		return decodeInto(d.dec, p)
	}
	return d.dec.Decode(v)
}
