package codec

import (
	"errors"
	"fmt"
	"reflect"
)

// Wire names of the codecs this package provides.
const (
	Msgpack = "msgpack"
	JSON    = "json"
)

// Codec encodes and decodes payloads in one wire format.
// Implementations must be safe for concurrent use.
type Codec interface {
	// Name returns the wire name, e.g. "msgpack".
	Name() string
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into v, which must be a non-nil pointer.
	// Data is untrusted network input.
	Unmarshal(data []byte, v any) error
}

var (
	// ErrUnknownCodec is returned when a Registry has no codec by the
	// requested name.
	ErrUnknownCodec = errors.New("codec: unknown codec")

	// ErrDuplicate is returned when a codec is registered under a name the
	// Registry already holds.
	ErrDuplicate = errors.New("codec: duplicate codec name")

	// ErrInvalidName is returned when a codec name is empty, longer than 32
	// bytes, or contains a byte outside [a-z0-9._-].
	ErrInvalidName = errors.New("codec: invalid codec name")

	// ErrMalformed is returned when Unmarshal is given input that is
	// truncated, corrupt, hostile, or does not fit the destination.
	ErrMalformed = errors.New("codec: malformed input")

	// ErrTooDeep is returned when input nests arrays and maps deeper than
	// the decoder allows. An error that matches ErrTooDeep also matches
	// ErrMalformed.
	ErrTooDeep = errors.New("codec: input nested too deep")
)

// checkTarget rejects Unmarshal destinations that cannot hold a result.
// Such a call is a programming error, not bad input, so the error does not
// wrap ErrMalformed.
func checkTarget(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("codec: Unmarshal needs a non-nil pointer, got %T", v)
	}
	return nil
}
